"""Idempotency keys on PostgreSQL (domain/services/idempotency.py): one change per key, even
when two requests with it run at once; expired keys are forgotten."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from domain.services import idempotency
from domain.services.idempotency import Claim, Replay
from models import IdempotencyKey, Region
from tests.factories import utc

NOW = utc(2026, 3, 2, 9, 0)
TTL = 24 * 3600


def _claim(key: str = "k-1", fingerprint: str = "f" * 64, scope: int = 7) -> Claim:
    return Claim(scope=scope, key=key, operation="reportSubmit", fingerprint=fingerprint)


async def test_two_changes_at_once_under_one_key_make_one_write(db: str) -> None:
    runs: list[int] = []

    async def change() -> int:
        runs.append(1)
        region = await Region.first()
        assert region is not None
        await asyncio.sleep(0.3)  # the claim is held: the other must wait for the commit
        return region.id

    started = time.monotonic()
    results = await asyncio.gather(
        idempotency.once(_claim(), NOW, TTL, change, lambda rid: {"region": rid}),
        idempotency.once(_claim(), NOW, TTL, change, lambda rid: {"region": rid}),
    )
    assert len(runs) == 1
    replays = [r for r in results if isinstance(r, Replay)]
    (first,) = [r for r in results if not isinstance(r, Replay)]
    assert replays == [Replay({"region": first})]
    assert time.monotonic() - started >= 0.3


async def test_a_failed_change_releases_its_key(db: str) -> None:
    async def failing() -> int:
        raise RuntimeError("rolled back")

    try:
        await idempotency.once(_claim(), NOW, TTL, failing, lambda n: {"n": n})
    except RuntimeError:
        pass
    assert await IdempotencyKey.all().count() == 0

    async def working() -> int:
        return 5

    assert await idempotency.once(_claim(), NOW, TTL, working, lambda n: {"n": n}) == 5


async def test_expired_keys_are_purged_and_live_ones_kept(db: str) -> None:
    for i, age in enumerate((TTL + 60, TTL + 1, 10)):
        created = NOW - timedelta(seconds=age)
        await IdempotencyKey.create(
            scope=1, key=f"k{i}", operation="reportSubmit", fingerprint="f",
            outcome={"report": i}, created_at=created,
            expires_at=created + timedelta(seconds=TTL),
        )  # fmt: skip
    assert await idempotency.purge_expired(NOW, batch=1) == 2
    assert await IdempotencyKey.all().values_list("key", flat=True) == ["k2"]


def test_the_fingerprint_is_keyed_and_follows_what_was_asked() -> None:
    args = {"input": {"title": "Banjir", "when": datetime(2026, 1, 5, tzinfo=UTC)}}
    same = idempotency.fingerprint("s", "reportSubmit", args)
    assert same == idempotency.fingerprint("s", "reportSubmit", dict(reversed(args.items())))
    assert same != idempotency.fingerprint("other secret", "reportSubmit", args)
    assert same != idempotency.fingerprint("s", "reportAddInfo", args)
    assert same != idempotency.fingerprint("s", "reportSubmit", {"input": {"title": "Banjir!"}})
