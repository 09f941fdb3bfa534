"""The deadline sweep: reminders, breaches, escalations, hand-overs and closing by silence.

It reads only rows whose `sweep_at` has come (an index), so its cost follows the rows that are
due, not all open rows. Each row is handled in its own transaction under the report's lock
(taken with SKIP LOCKED, so concurrent sweeps share the work instead of queueing), and every
step writes a unique SweepMark: a step is taken once however many sweeps run, or rerun.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.actor import SYSTEM
from domain.calendar import WorkingCalendar
from domain.deadlines import Stage, assignment_stage, report_stage
from domain.events import EventKind
from domain.lifecycle import OPEN_ASSIGNMENT, SETTLED, may_hand_over
from domain.services import reports
from domain.services.common import record_event, require_aware
from domain.services.deadlines import deadline_rules
from domain.services.outbox import OutboxEntry
from domain.services.reference import calendar_for
from domain.sweep import Level, Step, due_steps, is_stale_reminder, steps_of
from models import Assignment, Report, SweepMark

EVENT_OF_LEVEL = {
    Level.REMINDER: EventKind.DEADLINE_REMINDER,
    Level.BREACH: EventKind.DEADLINE_BREACHED,
    Level.ESCALATION: EventKind.DEADLINE_ESCALATED,
}


@dataclass(frozen=True)
class SweepAction:
    """One step the sweep took (or, in a dry run, would take) on one deadline."""

    target: str  # "report:<id>" or "assignment:<id>"
    report_id: int
    stage: Stage
    level: Level
    due_at: datetime
    skipped: bool = False  # a reminder that came after its deadline, a hand-over not consented


@dataclass
class SweepResult:
    """What one sweep run did, and the outbox rows to dispatch."""

    actions: list[SweepAction] = field(default_factory=list)
    outbox: list[OutboxEntry] = field(default_factory=list)
    rows_seen: int = 0


@dataclass
class _Run:
    """One sweep run: its time, whether it only looks, what it did, the calendars it read."""

    now: datetime
    dry_run: bool
    out: SweepResult = field(default_factory=SweepResult)
    calendars: dict[int, WorkingCalendar] = field(default_factory=dict)

    async def calendar(self, region_id: int) -> WorkingCalendar:
        """A region's calendar, read once per run (it does not change within a run)."""
        if region_id not in self.calendars:
            self.calendars[region_id] = await calendar_for(region_id)
        return self.calendars[region_id]


async def sweep(now: datetime, *, dry_run: bool = False, batch: int = 500) -> SweepResult:
    """Take every step whose time has come by `now`; in a dry run, only say which."""
    require_aware(now)
    run = _Run(now, dry_run)
    for model, handle, report_of in (
        (Assignment, _sweep_assignment, "report_id"),
        (Report, _sweep_report, "id"),
    ):
        after: tuple[datetime, int] | None = None
        while True:
            qs = model.filter(sweep_at__lte=now)
            if after is not None:
                qs = qs.filter(Q(sweep_at__gt=after[0]) | Q(sweep_at=after[0], id__gt=after[1]))
            page = (
                await qs.order_by("sweep_at", "id")
                .limit(batch)
                .values_list("id", "sweep_at", report_of)
            )
            for row_id, _, report_id in page:
                run.out.rows_seen += 1
                await handle(row_id, report_id, run)
            if len(page) < batch:
                break
            after = (page[-1][1], page[-1][0])
    return run.out


async def _sweep_assignment(row_id: int, report_id: int, run: _Run) -> None:
    async with in_transaction():
        report = await _lock(report_id, run.dry_run)
        query = Assignment.filter(id=row_id)
        assignment = await (query if run.dry_run else query.select_for_update()).first()
        if report is None or assignment is None or not _still_due(assignment.sweep_at, run.now):
            return
        stage = assignment_stage(assignment.status, assignment.first_response_at)
        if report.status in SETTLED or stage is None or assignment.due_at is None:
            await _stop(assignment, run.dry_run)
            return
        deadline = _Deadline(f"assignment:{assignment.id}", stage, assignment.due_at)
        cal = await run.calendar(report.region_id)
        steps, next_at = due_steps(deadline.due_at, stage, run.now, cal, deadline_rules())
        for level in await _take_steps(deadline, steps, report, assignment, run):
            if level is Level.HANDOVER:
                next_at = None  # handed over: the agencies' deadlines no longer run
        if not run.dry_run:
            await Assignment.filter(id=assignment.id).update(
                sweep_at=next_at, escalation_level=assignment.escalation_level
            )


async def _sweep_report(row_id: int, report_id: int, run: _Run) -> None:
    async with in_transaction():
        report = await _lock(report_id, run.dry_run)
        if report is None or not _still_due(report.sweep_at, run.now):
            return
        has_open = await Assignment.filter(
            report_id=report.id, status__in=[s.value for s in OPEN_ASSIGNMENT]
        ).exists()
        stage = report_stage(report.status, has_open)
        if stage is None or not steps_of(stage, deadline_rules()) or report.due_at is None:
            await _stop(report, run.dry_run)  # the agencies' deadlines run on their rows
            return
        deadline = _Deadline(f"report:{report.id}", stage, report.due_at)
        cal = await run.calendar(report.region_id)
        steps, next_at = due_steps(deadline.due_at, stage, run.now, cal, deadline_rules())
        acted = await _take_steps(deadline, steps, report, None, run)
        if not run.dry_run and Level.CLOSE not in acted:  # closing clears sweep_at itself
            await Report.filter(id=report.id).update(sweep_at=next_at)


async def _lock(report_id: int, dry_run: bool) -> Report | None:
    """The report, locked unless another transaction holds it (then None: that one is on it)."""
    query = Report.filter(id=report_id)
    if dry_run:
        return await query.first()
    return await query.select_for_update(skip_locked=True).first()


def _still_due(sweep_at: datetime | None, now: datetime) -> bool:
    """Re-checked under the lock: another sweep may have handled the row meanwhile."""
    return sweep_at is not None and sweep_at <= now


async def _stop(row: Report | Assignment, dry_run: bool) -> None:
    if not dry_run:
        await type(row).filter(id=row.id).update(sweep_at=None)


@dataclass(frozen=True)
class _Deadline:
    """One deadline of one row: what its sweep marks are keyed by."""

    target: str
    stage: Stage
    due_at: datetime


async def _take_steps(
    deadline: _Deadline,
    steps: list[Step],
    report: Report,
    assignment: Assignment | None,
    run: _Run,
) -> list[Level]:
    """Take each step once, in order (a mark says which were taken already); returns the
    levels acted on (or, in a dry run, that would be). A hand-over ends the row's steps."""
    taken = set(
        await SweepMark.filter(
            target=deadline.target, stage=deadline.stage.value, due_at=deadline.due_at
        ).values_list("level", flat=True)
    )
    acted: list[Level] = []
    for step in steps:
        if step.level.value in taken:
            continue
        skipped = is_stale_reminder(step, deadline.due_at, run.now) or (
            step.level is Level.HANDOVER
            and not may_hand_over(report.status, report.ombudsman_consent)
        )
        run.out.actions.append(
            SweepAction(
                deadline.target, report.id, deadline.stage, step.level, deadline.due_at, skipped
            )
        )
        if not run.dry_run:
            if not skipped:
                run.out.outbox += await _act(
                    report, assignment, deadline.stage, step.level, deadline.due_at, run.now
                )
            await SweepMark.create(
                target=deadline.target,
                stage=deadline.stage.value,
                level=step.level.value,
                due_at=deadline.due_at,
                report_id=report.id,
                acted=not skipped,
                at=run.now,
            )
        if not skipped:
            acted.append(step.level)
            if step.level is Level.HANDOVER:
                break
    return acted


async def _act(
    report: Report,
    assignment: Assignment | None,
    stage: Stage,
    level: Level,
    due_at: datetime,
    now: datetime,
) -> list[OutboxEntry]:
    """Do what a step means, through the domain's own use cases and events."""
    if level is Level.HANDOVER:
        reason = "the resolution deadline passed and the reporter consented to a hand-over"
        return (await reports.hand_over(SYSTEM, now, report.id, reason)).outbox
    if level is Level.CLOSE:
        return (await reports.close_by_silence(SYSTEM, now, report.id)).outbox
    if assignment is not None and level in (Level.BREACH, Level.ESCALATION):
        assignment.escalation_level = max(
            assignment.escalation_level, 1 if level is Level.BREACH else 2
        )
    _, oid = await record_event(
        report,
        EVENT_OF_LEVEL[level],
        SYSTEM,
        now,
        assignment=assignment,
        # The reporter's own reminder is theirs to see; the desks' deadlines are staff matters.
        internal=stage is not Stage.REPORTER_WINDOW,
        data={"stage": stage.value, "level": level.value, "due_at": due_at.isoformat()},
    )
    return [oid]
