"""The superadmin sets an agency's webhook, checked as every send checks it (issue 12,
finding 8): https, a host whose addresses are public, a secret worth the name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.settings import get_settings
from models import Agency
from tests.app_fixtures import GQL, People, agency_gid, app_client
from tests.factories import ERRORS, call

SET = f"""mutation($agency: ID!, $url: String, $secret: String) {{
  agencyWebhookSet(agencyId: $agency, url: $url, secret: $secret) {{
    agency {{ code }} webhookUrl {ERRORS} }} }}"""
SECRET = "k" * 40


@pytest.fixture(autouse=True)
async def _no_webhook_left(db: str) -> AsyncIterator[None]:
    yield
    await Agency.filter(code="DINKES").update(webhook_url=None, webhook_secret=None)


async def set_hook(client: GQL, url: str | None, secret: str | None = SECRET) -> dict[str, Any]:
    return await call(client, SET, agency=await agency_gid("DINKES"), url=url, secret=secret)


@pytest.mark.parametrize(
    ("url", "secret", "field", "why"),
    [
        ("http://hooks.example.org/lapor", SECRET, "url", "https"),
        ("https://127.0.0.1:8443/lapor", SECRET, "url", "loopback"),
        ("https://localhost/lapor", SECRET, "url", "loopback"),
        ("https://10.20.30.40/lapor", SECRET, "url", "private"),
        ("https://no-such-host.invalid/lapor", SECRET, "url", "does not resolve"),
        ("https://203.0.113.9/lapor", SECRET, "url", "reserved"),
        ("https://8.8.8.8/lapor", "short", "secret", "32 to 256"),
    ],
)
async def test_a_webhook_that_could_not_be_sent_is_refused_when_set(
    people: People, url: str, secret: str, field: str, why: str
) -> None:
    payload = await set_hook(people["admin"], url, secret)

    (error,) = payload["errors"]
    assert (error["code"], error["field"]) == ("VALIDATION", [field])
    assert why in error["message"]
    assert payload["agency"] is None
    assert (await Agency.get(code="DINKES", region__code="35.09")).webhook_url is None


@pytest.mark.parametrize("who", ["coordinator", "officer", "head", "public"])
async def test_only_the_superadmin_sets_a_webhook(people: People, who: str) -> None:
    payload = await set_hook(people[who], "https://8.8.8.8/lapor")
    assert [e["code"] for e in payload["errors"]] in (["FORBIDDEN"], ["UNAUTHENTICATED"])


async def test_the_superadmin_sets_and_removes_a_webhook(people: People) -> None:
    # The receiver is on this machine: the settings let loopback through, as a VPN would be.
    settings = get_settings().model_copy(
        update={"webhook_allowed_networks": ["127.0.0.0/8", "::1/128"]}
    )
    async with app_client(settings) as client:
        admin = GQL(client, people["admin"].token)
        done = await set_hook(admin, "https://localhost:8443/lapor#")
        removed_url = await set_hook(admin, None, None)
    dinkes = await Agency.get(code="DINKES", region__code="35.09")

    assert done["errors"] == []
    assert done["agency"] == {"code": "DINKES"}
    assert done["webhookUrl"] == "https://localhost:8443/lapor"
    assert SECRET not in str(done)
    assert removed_url["webhookUrl"] is None
    assert (dinkes.webhook_url, dinkes.webhook_secret) == (None, None)
