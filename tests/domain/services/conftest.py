"""Fixtures the use-case tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from models import Agency
from tests.factories import demo_agency


@pytest.fixture
async def dinkes_webhook(db: str) -> AsyncIterator[Agency]:
    """DINKES of Jember with a webhook (never reached: the tests only store its deliveries)."""
    agency = await demo_agency("DINKES")
    agency.webhook_url, agency.webhook_secret = "http://127.0.0.1:9/hook", "s" * 32
    await agency.save()
    yield agency
    agency.webhook_url = agency.webhook_secret = None
    await agency.save()
