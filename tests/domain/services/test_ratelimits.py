"""Rate limits in Redis (issue 12, finding 5): sliding windows per IP and per account, a
back-off after failed sign-ins, counted once for every API process together."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from core.settings import Settings, get_settings
from domain.errors import DomainError, ErrorCode
from domain.services.ratelimits import RateLimits

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.from_url(redis_url)
    yield redis
    await redis.aclose()


def settings(**limits: object) -> Settings:
    return get_settings().model_copy(update={"rate_limits": True, **limits})


def limits_for(client: aioredis.Redis, s: Settings, ip: str) -> RateLimits:
    async def redis() -> aioredis.Redis:
        return client

    return RateLimits(s, redis, ip)


async def refusal(attempt: object) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await attempt  # type: ignore[misc]
    assert caught.value.code is ErrorCode.RATE_LIMITED
    return caught.value


async def test_a_full_window_refuses_with_the_wait_and_counts_nothing(
    client: aioredis.Redis,
) -> None:
    s = settings(rate_submit_per_ip="off", rate_submit_per_account="3/60")
    limits = limits_for(client, s, uuid.uuid4().hex)
    user = int(uuid.uuid4().int % 10**9)

    for second in range(3):
        await limits.submit(user, T0 + timedelta(seconds=second))
    first = await refusal(limits.submit(user, T0 + timedelta(seconds=10)))
    again = await refusal(limits.submit(user, T0 + timedelta(seconds=59)))
    # The first request leaves the window at 60 s: room for one, the refused ones not counted.
    await limits.submit(user, T0 + timedelta(seconds=60, milliseconds=1))

    assert first.retry_after == 50
    assert again.retry_after == 1
    assert "try again in 50 s" in first.message


async def test_processes_share_the_counts_and_count_each_request_once(
    client: aioredis.Redis, redis_url: str
) -> None:
    """Two API processes (two clients of Redis) alternate: the limit is the total."""
    other = aioredis.from_url(redis_url)
    try:
        s = settings(rate_register_per_ip="4/3600", rate_register_per_account="off")
        ip = uuid.uuid4().hex
        processes = [limits_for(client, s, ip), limits_for(other, s, ip)]
        for i in range(4):
            await processes[i % 2].register(f"{uuid.uuid4().hex}@example.org", T0)
        await refusal(processes[0].register("x@example.org", T0))
        await refusal(processes[1].register("y@example.org", T0))
    finally:
        await other.aclose()


async def test_one_ip_and_one_account_are_limited_apart(client: aioredis.Redis) -> None:
    s = settings(rate_register_per_ip="3/3600", rate_register_per_account="2/3600")
    email = f"{uuid.uuid4().hex}@example.org"
    ips = [uuid.uuid4().hex for _ in range(3)]

    await limits_for(client, s, ips[0]).register(email, T0)
    await limits_for(client, s, ips[1]).register(email.upper(), T0)
    by_account = await refusal(limits_for(client, s, ips[2]).register(email, T0))
    for i in range(3):
        await limits_for(client, s, ips[2]).register(f"{i}{email}", T0)
    by_ip = await refusal(limits_for(client, s, ips[2]).register(f"new{email}", T0))

    assert by_account.retry_after == 3600
    assert by_ip.retry_after == 3600


async def test_failed_sign_ins_back_off_and_a_success_ends_it(client: aioredis.Redis) -> None:
    s = settings(
        rate_sign_in_per_ip="off",
        rate_sign_in_per_account="off",
        sign_in_free_failures=2,
        sign_in_backoff_seconds=2.0,
        sign_in_backoff_max_seconds=5.0,
    )
    limits = limits_for(client, s, uuid.uuid4().hex)
    email = f"{uuid.uuid4().hex}@example.org"
    waits: list[int | None] = []
    now = T0
    for _ in range(5):
        try:
            await limits.sign_in(email, now)
            waits.append(None)
        except DomainError as error:
            waits.append(error.retry_after)
            now += timedelta(seconds=error.retry_after or 0)
            await limits.sign_in(email, now)
        await limits.sign_in_failed(email, now)

    capped = await refusal(limits.sign_in(email, now))
    await limits.sign_in_succeeded(email)
    await limits.sign_in(email, now)  # no wait after a success

    # Two free failures, then 2 s, 4 s, then the 5 s cap (8 s uncapped).
    assert waits == [None, None, None, 2, 4]
    assert capped.retry_after == 5
    assert "failed sign-ins" in capped.message


async def test_without_redis_or_switched_off_nothing_is_limited(client: aioredis.Redis) -> None:
    async def no_redis() -> None:
        return None

    tight = settings(rate_submit_per_ip="1/60", rate_submit_per_account="1/60")
    for limits in (
        RateLimits(tight, no_redis, "10.0.0.1"),
        limits_for(client, tight.model_copy(update={"rate_limits": False}), "10.0.0.2"),
    ):
        for _ in range(3):
            await limits.submit(1, T0)
