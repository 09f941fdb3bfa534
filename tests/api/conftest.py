"""Fixtures of the app's HTTP and WebSocket tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.api.live_server import Live, live_settings, serving


@pytest.fixture
async def live(db: str, redis_url: str) -> AsyncIterator[Live]:
    """The app served in this event loop on the session's database and Redis."""
    async with serving(live_settings(redis_url)) as server:
        yield server
