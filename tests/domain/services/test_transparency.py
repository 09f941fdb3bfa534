"""The transparency figures on PostgreSQL (domain/services/transparency.py): a story told
through the use cases, folded by the workers' catch-up and read back with its numbers worked
out by hand; confidential reports counted and never named; a rebuild from scratch equal to the
incrementally folded figures after random histories; two workers folding at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import strategies as st
from tortoise import connections

from core.settings import get_settings
from domain.actor import Actor
from domain.errors import DomainError, ErrorCode
from domain.services import assignments, calendars, reports, transparency
from domain.services.accounts import Grant, actor_for_user, create_user
from domain.transparency import Figures
from models import Assignment, Report
from models.enums import ResolutionCode, ResolutionTier, Role
from tests.app_fixtures import DEMO_VIEWERS
from tests.factories import actor_for, demo_agency, demo_region, submit_complaint
from tests.fuzzing import collect, examples

JAYAPURA = "91.03"
SECRET_TITLE = "Rahasia: dokter meminta uang di Puskesmas"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def open_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every figure shown (no small cells, a minimum sample of one): the numbers themselves."""
    monkeypatch.setattr(get_settings(), "transparency_small_cell", 1)
    monkeypatch.setattr(get_settings(), "transparency_min_sample", 1)


async def officer_of(code: str, region: str) -> Actor:
    agency = await demo_agency(code, region)
    user = await create_user(
        utc(2031, 1, 1),
        name="Petugas Uji",
        email=f"officer-{uuid4().hex[:12]}@test.demo",
        password="lapor-test-password",
        grants=[Grant(Role.OFFICER, agency_id=agency.id)],
    )
    return await actor_for_user(user.id)


async def cells() -> list[tuple[Any, ...]]:
    rows = await connections.get("default").execute_query_dict(
        "SELECT scope, scope_id, month, measure, value, n FROM perf_cell ORDER BY 1, 2, 3, 4, 5"
    )
    return [tuple(r.values()) for r in rows]


def row(found: list[transparency.ScopeFigures], scope_id: int) -> Figures:
    return next(s.figures for s in found if s.scope_id == scope_id)


async def test_a_story_folded_and_read_back(db: str, open_rules: None) -> None:
    coordinator = await actor_for(DEMO_VIEWERS["coordinator"])
    dinkes = await actor_for(DEMO_VIEWERS["officer"])
    citizen = await actor_for(DEMO_VIEWERS["reporter"])
    pupr = await actor_for("pupr@jember.demo")
    dinkes_j, dpupr_j = await demo_agency("DINKES"), await demo_agency("DPUPR")
    jember, jayapura = await demo_region(), await demo_region(JAYAPURA)

    # A confidential report, Friday 21 March 2031 09:00 WIB, to Dinkes at 10:00, answered on
    # Wednesday 26 March (Saturday, Sunday and Nyepi on Monday 24 are off: 2 working days),
    # rated 4.
    secret = (
        await submit_complaint(utc(2031, 3, 21, 2), title=SECRET_TITLE, confidential=True)
    ).report
    await reports.verify(coordinator, utc(2031, 3, 21, 3), secret.id, [dinkes_j.id], None, None)
    a = await Assignment.get(report_id=secret.id)
    await assignments.accept(dinkes, utc(2031, 3, 21, 4), a.id, ResolutionTier.SIMPLE)
    await assignments.follow_up(
        dinkes, utc(2031, 3, 26, 3), a.id, "Sudah ditangani", True, ResolutionCode.RESOLVED
    )
    await reports.rate(citizen, utc(2031, 3, 27, 3), secret.id, 4, None)

    # Monday 3 March: forwarded to DPUPR, returned on Wednesday 5 (held 2 working days),
    # assigned to Dinkes, which has not answered.
    plain = (await submit_complaint(utc(2031, 3, 3, 2))).report
    await reports.verify(coordinator, utc(2031, 3, 3, 3), plain.id, [dpupr_j.id], None, None)
    wrong = await Assignment.get(report_id=plain.id)
    await assignments.return_(pupr, utc(2031, 3, 5, 3), wrong.id, "Bukan kewenangan", None)
    await reports.assign(coordinator, utc(2031, 3, 5, 4), plain.id, dinkes_j.id, None)

    # Jayapura (WIT): 16:00 UTC on 31 March is 01:00 on 1 April there: an April report. Its
    # regional holiday on Wednesday 2 April and Idul Adha on Thursday 3 are off; Dinkes
    # Jayapura's first answer on Tuesday 8 April comes 3 working days after it was forwarded.
    papua = await actor_for("koordinator@jayapura.demo")
    try:
        await calendars.add_day_off(papua, utc(2031, 1, 1), date(2031, 4, 2), "Libur", jayapura.id)
    except DomainError as e:  # added by an earlier test of this session
        assert e.code is ErrorCode.ALREADY_DONE
    far = (await submit_complaint(utc(2031, 3, 31, 16), region=JAYAPURA)).report
    dinkes_p = await demo_agency("DINKES", JAYAPURA)
    await reports.verify(papua, utc(2031, 3, 31, 16, 30), far.id, [dinkes_p.id], None, None)
    p = await Assignment.get(report_id=far.id)
    officer_p = await officer_of("DINKES", JAYAPURA)
    await assignments.accept(officer_p, utc(2031, 4, 7, 0), p.id, ResolutionTier.STANDARD)
    await assignments.follow_up(officer_p, utc(2031, 4, 8, 0), p.id, "Sedang dicek", False, None)

    assert await transparency.catch_up(utc(2031, 5, 1)) == 3
    march = transparency.period_of("2031-03")
    found = await transparency.agency_performance(march, jember.id)
    d = row(found, dinkes_j.id)
    assert (d.received, d.verified, d.answered) == (2, 1, 1)
    assert (d.answered_on_time.value, d.answered_on_time.sample) == (1.0, 1)
    assert (d.first_response_median.value, d.resolution_median.value) == (2, 2)
    assert (d.rating_average.value, d.rating_average.sample) == (4.0, 1)
    u = row(found, dpupr_j.id)
    assert (u.received, u.returned, u.held_median.value, u.answered) == (1, 1, 2, 0)
    # Ranked: Dinkes (answered on time) before those with nothing to rank.
    assert found[0].scope_id == dinkes_j.id

    table = await transparency.region_performance(march)
    j = row(table.regions, jember.id)
    assert (j.received, j.verified, j.answered, j.returned) == (2, 2, 1, 1)
    assert row(table.regions, jayapura.id).received == 0
    april = await transparency.region_performance(transparency.period_of("2031-04"))
    assert row(april.regions, jayapura.id).first_response_median.value == 3
    q1 = await transparency.region_performance(transparency.period_of("2031-Q1"))
    assert q1.national.received == 2  # the Jayapura report is April's, a Q2 report
    q2 = await transparency.agency_performance(transparency.period_of("2031-Q2"), jayapura.id)
    assert row(q2, dinkes_p.id).first_response_median.value == 3

    # Folding again changes nothing; a rebuild from scratch finds the same counts.
    before = await cells()
    assert await transparency.catch_up(utc(2031, 5, 1)) == 0
    assert await transparency.rebuild(utc(2031, 5, 1)) == 3
    assert await cells() == before


async def test_small_cells_hide_the_breakdown_and_confidential_titles_are_nowhere(db: str) -> None:
    coordinator = await actor_for(DEMO_VIEWERS["coordinator"])
    dinkes_j = await demo_agency("DINKES")
    secret = (
        await submit_complaint(utc(2031, 6, 2, 2), title=SECRET_TITLE, confidential=True)
    ).report
    await reports.verify(coordinator, utc(2031, 6, 2, 3), secret.id, [dinkes_j.id], None, None)
    await transparency.catch_up(utc(2031, 7, 1))
    june = transparency.period_of("2031-06")
    d = row(await transparency.agency_performance(june, (await demo_region()).id), dinkes_j.id)
    # One report: counted, and nothing more is said of it (the default small cell is 3).
    assert d.received == 1 and d.withheld and d.verified is None
    assert not d.answered_on_time.rankable
    stored = " ".join(str(c) for c in await cells())
    assert SECRET_TITLE not in stored and str(secret.tracking_code) not in stored


# ------------------------------------------------------------- random histories, rebuilt


# Verifying and accepting come up more often: a history goes further.
ACTIONS = (
    "verify",
    "verify",
    "accept",
    "accept",
    "interim",
    "final",
    "final",
    "return",
    "assign",
    "dispute",
    "rate",
)
STEPS = st.lists(
    st.tuples(
        st.integers(0, 1),  # which report
        st.sampled_from(ACTIONS),
        st.integers(0, 2),  # which agency
        st.integers(1, 60),  # hours later
        st.booleans(),  # fold now
    ),
    min_size=20,
    max_size=40,
)


@dataclass(frozen=True)
class Cast:
    """Who acts in the random histories."""

    coordinator: Actor
    citizen: Actor
    agencies: list[int]
    desks: dict[int, Actor]  # agency id -> an officer of it


async def _step(cast: Cast, report: Report, action: str, agency: int, at: datetime) -> None:
    """One step of a random history; a step the story does not allow there is refused, and
    the history goes on."""
    latest = await Assignment.filter(report_id=report.id).order_by("-id").first()
    try:
        if action == "verify":
            target = [cast.agencies[agency]]
            await reports.verify(cast.coordinator, at, report.id, target, None, None)
        elif action == "assign":
            await reports.assign(cast.coordinator, at, report.id, cast.agencies[agency], None)
        elif action == "dispute":
            await reports.dispute(cast.citizen, at, report.id, "Belum beres")
        elif action == "rate":
            await reports.rate(cast.citizen, at, report.id, 1 + agency, None)
        elif latest is not None:
            desk, aid = cast.desks[latest.agency_id], latest.id
            if action == "accept":
                await assignments.accept(desk, at, aid, ResolutionTier.SIMPLE)
            elif action == "return":
                await assignments.return_(desk, at, aid, "bukan kami", None)
            else:
                final = action == "final"
                code = ResolutionCode.RESOLVED if final else None
                await assignments.follow_up(desk, at, aid, "jawaban", final, code)
    except DomainError:
        pass


async def test_a_rebuild_equals_the_folded_figures_after_random_histories(db: str) -> None:
    codes = ("DINKES", "DPUPR", "DISDIK")
    agencies = [(await demo_agency(c)).id for c in codes]
    cast = Cast(
        await actor_for(DEMO_VIEWERS["coordinator"]),
        await actor_for(DEMO_VIEWERS["reporter"]),
        agencies,
        {a: await officer_of(c, "35.09") for a, c in zip(agencies, codes, strict=True)},
    )
    kinds: set[str] = set()
    for steps in collect(STEPS, examples(8)):
        await connections.get("default").execute_script(
            "TRUNCATE perf_cell, perf_source, perf_dirty, report RESTART IDENTITY CASCADE"
        )
        now = utc(2031, 8, 29, 1)
        made = [
            (await submit_complaint(now + timedelta(hours=i), confidential=i % 2 == 1)).report
            for i in range(2)
        ]
        for which, action, agency, hours, fold in steps:
            now += timedelta(hours=hours)
            await _step(cast, made[which], action, agency, now)
            if fold:
                await transparency.catch_up(now)
        await transparency.catch_up(now)
        folded = await cells()
        kinds |= {c[3] for c in folded}
        await transparency.rebuild(now)
        assert await cells() == folded, steps
    # The histories reached most of what is counted.
    assert {"received", "verified", "answered", "returned", "first_response_days"} <= kinds


async def forwarded_to_dinkes(count: int, at: datetime) -> int:
    """`count` Jember reports submitted from `at` and forwarded to Dinkes an hour later;
    returns Dinkes's id."""
    coordinator = await actor_for(DEMO_VIEWERS["coordinator"])
    dinkes = await demo_agency("DINKES")
    for i in range(count):
        r = (await submit_complaint(at + timedelta(minutes=i))).report
        await reports.verify(coordinator, at + timedelta(hours=1), r.id, [dinkes.id], None, None)
    return dinkes.id


async def test_two_workers_folding_at_once_count_each_report_once(db: str) -> None:
    now = utc(2031, 9, 1, 2)
    dinkes = await forwarded_to_dinkes(40, now)
    # Small batches, many rounds each: the two interleave on the same marks and reports.
    done = await asyncio.gather(
        transparency.catch_up(now + timedelta(days=1), batch=7),
        transparency.catch_up(now + timedelta(days=1), batch=5),
    )
    assert sum(done) >= 40
    folded = await cells()
    await transparency.rebuild(now + timedelta(days=1))
    assert await cells() == folded
    d = row(
        await transparency.agency_performance(
            transparency.period_of("2031-09"), (await demo_region()).id
        ),
        dinkes,
    )
    assert (d.received, d.verified) == (40, 0)
    assert await Report.filter().count() == 40


async def test_readers_keep_the_old_figures_while_a_rebuild_runs(db: str) -> None:
    now = utc(2031, 10, 6, 2)
    dinkes = await forwarded_to_dinkes(30, now)
    await transparency.catch_up(now + timedelta(days=1))
    region = (await demo_region()).id
    october = transparency.period_of("2031-10")
    seen: list[int] = []
    done = asyncio.Event()

    async def read() -> None:
        while not done.is_set():
            found = await transparency.agency_performance(october, region)
            seen.append(row(found, dinkes).received)
            await asyncio.sleep(0)

    reader = asyncio.create_task(read())
    await transparency.rebuild(now + timedelta(days=1), batch=1)  # thirty transactions' worth
    done.set()
    await reader
    # Read again and again while the rebuild ran: never a partial count, never kept waiting.
    assert len(seen) >= 3 and set(seen) == {30}
