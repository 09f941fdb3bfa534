"""Concurrent use cases on PostgreSQL: row locks serialise them, the loser gets CONFLICT.

Each race is made real, not a matter of luck: a separate transaction locks the report row
first, both contenders are launched, and we wait until PostgreSQL shows both of them blocked
on a lock (pg_stat_activity) before the holder lets go. Only then do they race for the row.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from tortoise.transactions import in_transaction

from domain.actor import Actor
from domain.errors import DomainError, ErrorCode
from domain.services import assignments, merges, reports
from domain.services.accounts import Grant, actor_for_user, create_user
from domain.services.common import Outcome
from models import Assignment, OutboxMessage, Report, ReportEvent, Support
from models.enums import ResolutionTier, Role
from tests.factories import actor_for, demo_agency, demo_region, new_complaint

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday, 09:00 in Jember
ROUNDS = 5
LOCK_WAIT_TIMEOUT = 15.0


# ----------------------------------------------------------------------------- helpers


async def _new_user(role: Role, **scope: int) -> Actor:
    """A fresh user with one grant (e-mail unique per call: users outlive the test)."""
    user = await create_user(
        NOW,
        name=f"Test {role.value.title()}",
        email=f"{role.value.lower()}-{uuid4().hex[:12]}@test.demo",
        password="lapor-test-password",
        grants=[Grant(role, **scope)],
    )
    return await actor_for_user(user.id)


def _error_code(result: object) -> ErrorCode | None:
    return result.code if isinstance(result, DomainError) else None


@pytest.fixture
async def watcher(db: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain asyncpg connection outside Tortoise's pool, to look at pg_stat_activity."""
    conn = await asyncpg.connect(db.replace("postgres://", "postgresql://", 1), timeout=10)
    try:
        yield conn
    finally:
        await conn.close()


async def _lock_waiters(watcher: asyncpg.Connection) -> int:
    """How many other sessions of this database wait on a heavyweight lock right now."""
    count = await watcher.fetchval(
        """
        SELECT count(*) FROM pg_stat_activity
        WHERE datname = current_database()
          AND pid <> pg_backend_pid()
          AND wait_event_type = 'Lock'
        """
    )
    return int(count)


async def _race_behind_a_held_lock(
    watcher: asyncpg.Connection,
    report_id: int,
    contenders: list[Callable[[], Coroutine[Any, Any, Outcome]]],
) -> list[Any]:
    """Lock the report row, launch every contender, wait until all of them are provably
    blocked on the lock, then release it; return their results (or exceptions)."""
    locked = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with in_transaction():
            await Report.filter(id=report_id).select_for_update().get()
            locked.set()
            await release.wait()

    holding = asyncio.create_task(holder())
    tasks: list[asyncio.Task[Outcome]] = []
    try:
        await asyncio.wait_for(locked.wait(), LOCK_WAIT_TIMEOUT)
        tasks = [asyncio.create_task(contender()) for contender in contenders]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOCK_WAIT_TIMEOUT
        waiting = 0
        while loop.time() < deadline:
            waiting = await _lock_waiters(watcher)
            if waiting >= len(contenders) or any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.02)
        finished_early = [t for t in tasks if t.done()]
        assert not finished_early, (
            "a contender finished while the row was locked: it did not wait for the lock "
            f"({[t.exception() or t.result() for t in finished_early]!r})"
        )
        assert waiting == len(contenders), (
            f"expected {len(contenders)} sessions blocked on the report's row lock, saw {waiting}"
        )
    finally:
        release.set()
        await holding
    return list(await asyncio.gather(*tasks, return_exceptions=True))


def _split(results: list[Any]) -> tuple[list[Outcome], list[BaseException]]:
    wins = [r for r in results if isinstance(r, Outcome)]
    losses = [r for r in results if isinstance(r, BaseException)]
    return wins, losses


# ------------------------------------------------------------------------------- tests


async def test_two_coordinators_verifying_one_report_at_once(
    db: str, watcher: asyncpg.Connection
) -> None:
    citizen = await actor_for("warga@jember.demo")
    first = await actor_for("koordinator@jember.demo")
    second = await _new_user(Role.COORDINATOR, region_id=(await demo_region()).id)
    targets = [(await demo_agency("DINKES")).id, (await demo_agency("DPUPR")).id]

    for round_no in range(ROUNDS):
        report = await new_complaint(NOW, by=citizen, title=f"Laporan ke-{round_no}")
        at = NOW + timedelta(minutes=5 + round_no)

        def verify_as(actor: Actor, report_id: int = report.id, at: datetime = at) -> Any:
            return lambda: reports.verify(actor, at, report_id, list(targets), None, None)

        results = await _race_behind_a_held_lock(
            watcher, report.id, [verify_as(first), verify_as(second)]
        )

        wins, losses = _split(results)
        assert len(wins) == 1, f"round {round_no}: expected one winner, got {results!r}"
        assert len(losses) == 1, f"round {round_no}: expected one loser, got {results!r}"
        assert isinstance(losses[0], DomainError), repr(losses[0])
        assert _error_code(losses[0]) is ErrorCode.CONFLICT, repr(losses[0])

        events = ReportEvent.filter(report_id=report.id)
        assert await events.filter(kind="report.verified").count() == 1
        assert await events.filter(kind="assignment.created").count() == len(targets)
        made = await Assignment.filter(report_id=report.id).values_list("agency_id", flat=True)
        assert sorted(int(str(a)) for a in made) == sorted(targets), "one set of assignments"
        # submitted + verified + one per assignment, and nothing from the loser
        outbox = OutboxMessage.filter(event__report_id=report.id)
        assert await outbox.count() == 2 + len(targets)
        stored = await Report.get(id=report.id)
        assert stored.status.value == "IN_PROGRESS"


async def test_two_officers_accepting_one_assignment_at_once(
    db: str, watcher: asyncpg.Connection
) -> None:
    citizen = await actor_for("warga@jember.demo")
    coordinator = await actor_for("koordinator@jember.demo")
    dinkes = await demo_agency("DINKES")
    first = await actor_for("dinkes@jember.demo")
    second = await _new_user(Role.OFFICER, agency_id=dinkes.id)

    for round_no in range(ROUNDS):
        report = await new_complaint(NOW, by=citizen, title=f"Antrean obat ke-{round_no}")
        await reports.verify(
            coordinator, NOW + timedelta(minutes=1), report.id, [dinkes.id], None, None
        )
        (assignment,) = await Assignment.filter(report_id=report.id)
        at = NOW + timedelta(minutes=10 + round_no)

        def accept_as(actor: Actor, aid: int = assignment.id, at: datetime = at) -> Any:
            return lambda: assignments.accept(actor, at, aid, ResolutionTier.STANDARD)

        results = await _race_behind_a_held_lock(
            watcher, report.id, [accept_as(first), accept_as(second)]
        )

        wins, losses = _split(results)
        assert len(wins) == 1, f"round {round_no}: expected one winner, got {results!r}"
        assert len(losses) == 1, f"round {round_no}: expected one loser, got {results!r}"
        assert _error_code(losses[0]) is ErrorCode.CONFLICT, repr(losses[0])
        accepted = ReportEvent.filter(report_id=report.id, kind="assignment.accepted")
        assert await accepted.count() == 1
        stored = await Assignment.get(id=assignment.id)
        assert stored.status.value == "ACCEPTED"
        assert stored.tier is ResolutionTier.STANDARD


async def test_two_coordinators_merging_one_pair_at_once(
    db: str, watcher: asyncpg.Connection
) -> None:
    citizen = await actor_for("warga@jember.demo")
    other = await _new_user(Role.CITIZEN)
    first = await actor_for("koordinator@jember.demo")
    second = await _new_user(Role.COORDINATOR, region_id=(await demo_region()).id)

    for round_no in range(ROUNDS):
        original = await new_complaint(NOW, by=citizen, title=f"Jembatan putus ke-{round_no}")
        duplicate = await new_complaint(NOW, by=other, title=f"Jembatan roboh ke-{round_no}")
        at = NOW + timedelta(minutes=5 + round_no)

        def merge_as(
            actor: Actor, rid: int = duplicate.id, into: int = original.id, at: datetime = at
        ) -> Any:
            return lambda: merges.merge(actor, at, rid, into, None)

        # Both take the lower id first: hold it, and both wait there.
        results = await _race_behind_a_held_lock(
            watcher, min(original.id, duplicate.id), [merge_as(first), merge_as(second)]
        )

        wins, losses = _split(results)
        assert len(wins) == 1, f"round {round_no}: expected one winner, got {results!r}"
        assert len(losses) == 1, f"round {round_no}: expected one loser, got {results!r}"
        assert _error_code(losses[0]) is ErrorCode.CONFLICT, repr(losses[0])
        merged = ReportEvent.filter(report_id=duplicate.id, kind="report.merged")
        assert await merged.count() == 1
        told = ReportEvent.filter(report_id=original.id, kind="report.duplicate_merged")
        assert await told.count() == 1
        # The duplicate's reporter follows the original once, counted once.
        assert await Support.filter(report_id=original.id).count() == 1
        assert (await Report.get(id=original.id)).support_count == 1


async def _citizens(n: int) -> list[Actor]:
    return [await _new_user(Role.CITIZEN) for _ in range(n)]


async def test_twenty_concurrent_submissions_get_distinct_tracking_codes(db: str) -> None:
    citizens = await _citizens(20)
    results = await asyncio.gather(
        *(
            new_complaint(NOW, by=c, title=f"Jalan berlubang nomor {i}")
            for i, c in enumerate(citizens)
        ),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures
    codes = [r.tracking_code for r in results if isinstance(r, Report)]
    assert len(codes) == 20
    assert len(set(codes)) == 20, codes
    stored = await Report.all().values_list("tracking_code", flat=True)
    assert sorted(str(c) for c in stored) == sorted(codes)
    reporters = await Report.all().values_list("reporter_id", flat=True)
    assert sorted(int(str(r)) for r in reporters) == sorted(c.user_id or 0 for c in citizens)
    assert await ReportEvent.filter(kind="report.submitted").count() == 20
    assert await OutboxMessage.all().count() == 20
    outbox_events = await OutboxMessage.all().values_list("event_id", flat=True)
    event_ids = await ReportEvent.all().values_list("id", flat=True)
    assert sorted(int(str(e)) for e in outbox_events) == sorted(int(str(e)) for e in event_ids)


async def test_concurrent_submissions_survive_tracking_code_collisions(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first five codes drawn are the same: four submitters must draw again, and do."""
    counter = itertools.count()
    fresh = reports.new_tracking_code

    def colliding() -> str:
        return "LPR-SAME-CODE" if next(counter) < 5 else fresh()

    monkeypatch.setattr(reports, "new_tracking_code", colliding)
    citizens = await _citizens(10)
    results = await asyncio.gather(
        *(new_complaint(NOW, by=c) for c in citizens), return_exceptions=True
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures
    codes = [r.tracking_code for r in results if isinstance(r, Report)]
    assert len(set(codes)) == 10
    assert codes.count("LPR-SAME-CODE") == 1
    assert next(counter) >= 14, "the colliding draws were retried"
    assert await Report.all().count() == 10
    assert await ReportEvent.filter(kind="report.submitted").count() == 10
    assert await OutboxMessage.all().count() == 10
