"""The deadline sweep on PostgreSQL with the demo calendar (2026 collective leave): which steps
fall when around Idul Fitri 2026, in WIB and WIT; each step once however many sweeps run;
hand-over and closing by silence through the domain's own use cases; cost that follows the
rows that are due."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from domain.services import assignments, reports
from domain.services.sweep import SweepAction, SweepResult, sweep
from models import Assignment, Report, ReportEvent, SweepMark
from models.enums import ReportStatus, ResolutionCode, ResolutionTier
from tests.app_fixtures import JAYAPURA
from tests.factories import actor_for, demo_agency, new_complaint, utc

# Tuesday 17 March 2026, 10:00 WIB: the verify deadline is Friday 27 March (see
# test_deadlines.py), the reminder the end of Thursday 26 March, and the escalation five
# working days after the deadline: 30, 31 March, 1, 2 April, then Good Friday (3 April)
# and the weekend are off, so Monday 6 April, each at 23:59:59 local time.
SUBMITTED = utc(2026, 3, 17, 3, 0)


@pytest.fixture(autouse=True)
async def _clean(db: str) -> None:
    """Every test starts with no reports, events or sweep marks."""


def steps(actions: list[SweepAction]) -> set[tuple[str, str, str, bool]]:
    return {(a.target.split(":")[0], a.stage.value, a.level.value, a.skipped) for a in actions}


async def _steps_of(report: Report, actions: list[SweepAction]) -> set[tuple[str, str, bool]]:
    return {(a.stage.value, a.level.value, a.skipped) for a in actions if a.report_id == report.id}


async def test_the_sweep_after_idul_fitri_picks_exactly_the_steps_the_calendar_says() -> None:
    jember = await new_complaint(SUBMITTED)
    jayapura = await new_complaint(utc(2026, 3, 17, 1, 0), region=JAYAPURA)
    assert jember.due_at == utc(2026, 3, 27, 16, 59, 59)
    assert jayapura.due_at == utc(2026, 3, 27, 14, 59, 59)

    # Thursday 26 March, 23:00 WIB: Jember's reminder (end of Thursday WIB) has not come;
    # Jayapura's has (end of Thursday WIT = 14:59:59 UTC).
    run = await sweep(utc(2026, 3, 26, 16, 0))
    assert await _steps_of(jember, run.actions) == set()
    assert await _steps_of(jayapura, run.actions) == {("verify", "reminder", False)}
    marks = await SweepMark.all().count()

    # Friday 27 March 23:00 WIB is Saturday 01:00 WIT: Jember is reminded, Jayapura breached.
    as_of = utc(2026, 3, 27, 16, 0)
    dry = await sweep(as_of, dry_run=True)
    assert await SweepMark.all().count() == marks  # a dry run changes nothing
    done = await sweep(as_of)
    assert steps(done.actions) == steps(dry.actions)
    assert await _steps_of(jember, done.actions) == {("verify", "reminder", False)}
    assert await _steps_of(jayapura, done.actions) == {("verify", "breach", False)}
    assert done.rows_seen == 2

    # Monday 6 April 23:00 WIB: Jayapura's escalation fell an hour earlier (Monday 23:59:59
    # WIT); Jember's falls at the end of Monday WIB, later. Jember's breach came on Friday.
    done = await sweep(utc(2026, 4, 6, 16, 0))
    assert await _steps_of(jember, done.actions) == {("verify", "breach", False)}
    assert await _steps_of(jayapura, done.actions) == {("verify", "escalation", False)}
    done = await sweep(utc(2026, 4, 6, 17, 0))
    assert await _steps_of(jember, done.actions) == {("verify", "escalation", False)}
    # Nothing is left for either: the rows left the sweep.
    assert await Report.filter(sweep_at__isnull=False).count() == 0
    kinds = await ReportEvent.filter(report_id=jember.id).values_list("kind", flat=True)
    assert sorted(kinds) == sorted(
        ["report.submitted", "deadline.reminder", "deadline.breached", "deadline.escalated"]
    )


async def test_rerunning_the_sweep_takes_no_step_twice() -> None:
    report = await new_complaint(SUBMITTED)
    as_of = utc(2026, 4, 10, 0, 0)
    first = await sweep(as_of)
    assert (
        len(first.actions) == 3
    )  # reminder (skipped: came after the deadline), breach, escalation
    assert [a.skipped for a in first.actions] == [True, False, False]
    events = await ReportEvent.filter(report_id=report.id).count()
    # Force the row back into the sweep, as a crash between steps could leave it.
    await Report.filter(id=report.id).update(sweep_at=utc(2026, 3, 1))
    again = await sweep(as_of)
    assert again.actions == [] and again.outbox == []
    assert await ReportEvent.filter(report_id=report.id).count() == events


async def test_two_sweeps_at_once_take_each_step_once() -> None:
    for i in range(12):
        await new_complaint(SUBMITTED + timedelta(minutes=i))
    as_of = utc(2026, 4, 10, 0, 0)
    results = await asyncio.gather(sweep(as_of, batch=5), sweep(as_of, batch=5))
    taken = [a for r in results for a in r.actions]
    assert len(taken) == 12 * 3
    assert len({(a.target, a.stage, a.level) for a in taken}) == 12 * 3
    assert await SweepMark.all().count() == 12 * 3
    assert await ReportEvent.filter(kind="deadline.breached").count() == 12
    assert await ReportEvent.filter(kind="deadline.escalated").count() == 12


async def test_the_sweep_reads_only_the_rows_that_are_due() -> None:
    for i in range(3):
        await new_complaint(SUBMITTED + timedelta(minutes=i))
    for i in range(20):  # open, but due long after the sweep's time
        await new_complaint(utc(2026, 5, 4, 3, 0) + timedelta(minutes=i))
    done = await sweep(utc(2026, 3, 28, 0, 0))
    assert done.rows_seen == 3


async def test_a_missed_resolution_deadline_hands_a_consenting_report_over() -> None:
    coordinator = await actor_for("koordinator@jember.demo")
    officer = await actor_for("dinkes@jember.demo")
    dinkes = await demo_agency("DINKES")
    consenting = await new_complaint(utc(2026, 6, 1, 2, 0), ombudsman_consent=True)
    silent = await new_complaint(utc(2026, 6, 1, 2, 0))
    for report in (consenting, silent):
        await reports.verify(coordinator, utc(2026, 6, 1, 3, 0), report.id, [dinkes.id], None, None)
        assignment = await Assignment.get(report_id=report.id)
        now = utc(2026, 6, 1, 4, 0)
        await assignments.accept(officer, now, assignment.id, ResolutionTier.SIMPLE)
        await assignments.follow_up(officer, now, assignment.id, "Dicek", False, None)
    # SIMPLE: 5 working days from Monday 1 June (Idul Adha 2026 is 27 May, already past):
    # 2, 3, 4, 5, 8 June -> Monday 8 June 23:59:59 WIB.
    assignment = await Assignment.get(report_id=consenting.id)
    assert assignment.due_at == utc(2026, 6, 8, 16, 59, 59)
    done = await sweep(utc(2026, 6, 8, 17, 0))
    # The reminder fell an hour before the deadline but this sweep comes after it: skipped.
    assert await _steps_of(consenting, done.actions) == {
        ("resolution", "reminder", True),
        ("resolution", "breach", False),
        ("resolution", "handover", False),
    }
    assert await _steps_of(silent, done.actions) == {
        ("resolution", "reminder", True),
        ("resolution", "breach", False),
        ("resolution", "handover", True),
    }
    assert (await Report.get(id=consenting.id)).status is ReportStatus.ESCALATED
    assert (await Report.get(id=silent.id)).status is ReportStatus.IN_PROGRESS
    handed = await ReportEvent.get(report_id=consenting.id, kind="report.escalated")
    assert handed.actor_id is None  # the system did it
    # Once handed over, the agency's deadline no longer runs; the other one escalates later.
    later = await sweep(utc(2026, 6, 30, 0, 0))
    assert await _steps_of(consenting, later.actions) == set()
    assert await _steps_of(silent, later.actions) == {("resolution", "escalation", False)}


async def _forwarded_to_dinkes() -> tuple[Report, Assignment]:
    """A report submitted Monday 1 June 2026, 09:00 WIB, forwarded to DINKES an hour later."""
    coordinator = await actor_for("koordinator@jember.demo")
    dinkes = await demo_agency("DINKES")
    report = await new_complaint(utc(2026, 6, 1, 2, 0))
    await reports.verify(coordinator, utc(2026, 6, 1, 3, 0), report.id, [dinkes.id], None, None)
    return report, await Assignment.get(report_id=report.id)


async def test_a_responded_report_closes_when_the_reporter_stays_silent() -> None:
    officer = await actor_for("dinkes@jember.demo")
    report, assignment = await _forwarded_to_dinkes()
    await assignments.accept(officer, utc(2026, 6, 2, 2, 0), assignment.id, ResolutionTier.SIMPLE)
    await assignments.follow_up(
        officer, utc(2026, 6, 2, 3, 0), assignment.id, "Selesai", True, ResolutionCode.RESOLVED
    )
    report = await Report.get(id=report.id)
    assert report.status is ReportStatus.RESPONDED
    # Ten working days after Tuesday 2 June: 3, 4, 5, 8, 9, 10, 11, 12, 15, then Islamic New
    # Year (16 June) is off, so 17 June -> Wednesday 17 June 23:59:59 WIB; the reminder falls
    # at the end of the working day before it, Monday 15 June (not the holiday).
    assert report.due_at == utc(2026, 6, 17, 16, 59, 59)
    assert await sweep(utc(2026, 6, 15, 16, 0)) == SweepResult()
    done = await sweep(utc(2026, 6, 16, 0, 0))
    assert await _steps_of(report, done.actions) == {("reporter_window", "reminder", False)}
    reminder = await ReportEvent.get(report_id=report.id, kind="deadline.reminder")
    assert reminder.visibility == "public"  # the reporter's own reminder is theirs to see
    assert (await Report.get(id=report.id)).status is ReportStatus.RESPONDED
    done = await sweep(utc(2026, 6, 17, 17, 0))
    assert await _steps_of(report, done.actions) == {("reporter_window", "close", False)}
    closed = await Report.get(id=report.id)
    assert closed.status is ReportStatus.CLOSED and closed.sweep_at is None
    assert (await ReportEvent.get(report_id=report.id, kind="report.closed")).data == {
        "by": "silence"
    }


async def test_a_moved_deadline_is_swept_afresh() -> None:
    officer = await actor_for("dinkes@jember.demo")
    _, assignment = await _forwarded_to_dinkes()
    await assignments.accept(officer, utc(2026, 6, 1, 4, 0), assignment.id, ResolutionTier.FIELD)
    first_due = (await Assignment.get(id=assignment.id)).due_at
    assert first_due is not None
    # The first follow-up deadline is reminded of ...
    done = await sweep(first_due - timedelta(hours=1))
    assert {a.stage.value for a in done.actions} == {"first_response"}
    # ... then answered: the row now carries the resolution deadline, reminded on its own.
    await assignments.follow_up(
        officer, first_due - timedelta(minutes=30), assignment.id, "Dicek", False, None
    )
    moved = await Assignment.get(id=assignment.id)
    assert moved.due_at is not None and moved.due_at > first_due
    done = await sweep(moved.due_at - timedelta(hours=1))
    assert {(a.stage.value, a.level.value) for a in done.actions} == {("resolution", "reminder")}
