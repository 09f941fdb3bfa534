"""Rate limits over HTTP (issue 12, finding 5): sign-in (with a back-off after failures),
registration, submission and the console's sign-in answer RATE_LIMITED with the time to wait;
under application/graphql-response+json with HTTP 429 and Retry-After."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from core.settings import Settings, get_settings
from tests.app_fixtures import GQL, JEMBER, PASSWORD, app_client, region_gid
from tests.factories import LOGIN, REGISTER, SUBMIT, report_input

GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.fixture
async def limited(db: str, redis_url: str) -> AsyncIterator[Settings]:
    """Settings with the rate limits on (the default outside tests), their counts emptied."""
    client = aioredis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match="lapor:rl:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
    yield get_settings().model_copy(update={"redis_url": redis_url, "rate_limits": True})


async def post(
    client: httpx.AsyncClient, query: str, accept: str = GRAPHQL_RESPONSE, **variables: Any
) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Accept": accept},
    )


def payload_errors(response: httpx.Response) -> list[dict[str, Any]]:
    (payload,) = response.json()["data"].values()
    return payload["errors"]  # type: ignore[no-any-return]


async def test_wrong_passwords_back_off_before_the_right_one(limited: Settings) -> None:
    """The audit: five wrong passwords, then the right one, gave a token."""
    async with app_client(limited) as client:
        tries = [
            await post(client, LOGIN, email="koordinator@jember.demo", password="salah")
            for _ in range(5)
        ]
        right = await post(client, LOGIN, email="koordinator@jember.demo", password=PASSWORD)
        old_client = await post(
            client, LOGIN, "application/json", email="koordinator@jember.demo", password=PASSWORD
        )

    codes = [[e["code"] for e in payload_errors(r)] for r in tries]
    # Three failures are free; the fourth starts the back-off (2 s, then doubling).
    assert codes[:4] == [["INVALID_CREDENTIALS"]] * 4
    assert codes[4:] == [["RATE_LIMITED"]]
    assert right.status_code == 429
    (error,) = payload_errors(right)
    assert error["code"] == "RATE_LIMITED" and 0 < error["retryAfter"] <= 2
    assert right.headers["Retry-After"] == str(error["retryAfter"])
    assert right.json()["data"]["authLogin"]["token"] is None
    # Older clients (application/json) get 200, the same error and the same header.
    assert old_client.status_code == 200
    assert old_client.headers["Retry-After"]
    assert payload_errors(old_client)[0]["code"] == "RATE_LIMITED"


async def test_the_console_sign_in_counts_with_the_api_sign_in(limited: Settings) -> None:
    async with app_client(limited) as client:
        for _ in range(5):
            await post(client, LOGIN, email="admin@lapor.demo", password="salah")
        console = await client.post(
            "/console/session", json={"email": "admin@lapor.demo", "password": PASSWORD}
        )

    assert console.status_code == 429
    assert console.json()["error"]["code"] == "RATE_LIMITED"
    assert int(console.headers["Retry-After"]) > 0


async def test_registration_is_limited_per_address(limited: Settings) -> None:
    settings = limited.model_copy(update={"rate_register_per_account": "2/3600"})
    email = f"baru-{uuid.uuid4().hex[:8]}@example.org"
    account = {"name": "Baru", "email": email, "password": "p" * 12}
    async with app_client(settings) as client:
        answers = [await post(client, REGISTER, input=account) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert payload_errors(answers[2])[0]["code"] == "RATE_LIMITED"
    assert int(answers[2].headers["Retry-After"]) > 3500


async def test_submission_is_limited_per_account(limited: Settings) -> None:
    settings = limited.model_copy(update={"rate_submit_per_account": "2/3600"})
    async with app_client(settings) as client:
        citizen = await GQL(client).sign_in("warga@jember.demo")
        report = report_input(await region_gid(JEMBER))
        headers = {"Authorization": f"Bearer {citizen.token}", "Accept": GRAPHQL_RESPONSE}
        answers = [
            await client.post(
                "/graphql",
                json={"query": SUBMIT, "variables": {"input": report}},
                headers=headers,
            )
            for _ in range(3)
        ]
        invalid = await client.post(
            "/graphql",
            json={"query": SUBMIT, "variables": {"input": {**report, "title": " "}}},
            headers=headers,
        )

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert payload_errors(answers[2])[0]["code"] == "RATE_LIMITED"
    assert answers[2].json()["data"]["reportSubmit"]["report"] is None
    # A refusal for bad input is said first: only a valid report counts.
    assert payload_errors(invalid)[0]["code"] == "VALIDATION"


async def test_two_api_processes_count_each_request_once(limited: Settings) -> None:
    """Two apps (as two processes) on one Redis: the window holds the requests of both."""
    settings = limited.model_copy(
        update={"rate_sign_in_per_ip": "4/60", "rate_sign_in_per_account": "off"}
    )
    async with app_client(settings) as one, app_client(settings) as two:
        answers = [
            await post((one, two)[i % 2], LOGIN, email="warga@jember.demo", password=PASSWORD)
            for i in range(6)
        ]

    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429, 429]
