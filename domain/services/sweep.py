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
from domain.lifecycle import OPEN_ASSIGNMENT
from domain.services import reports
from domain.services.common import calendar_for, deadline_rules, record_event, require_aware
from domain.sweep import (
    Level,
    Stage,
    Step,
    assignment_stage,
    due_steps,
    is_stale_reminder,
    report_stage,
)
from models import Assignment, Report, SweepMark
from models.enums import ReportStatus

# Reports in these states owe no one anything: their rows leave the sweep.
SETTLED = frozenset({ReportStatus.CLOSED, ReportStatus.ARCHIVED, ReportStatus.ESCALATED})
EVENT_OF_LEVEL = {
    Level.REMINDER: "deadline.reminder",
    Level.BREACH: "deadline.breached",
    Level.ESCALATION: "deadline.escalated",
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
    outbox_ids: list[int] = field(default_factory=list)
    rows_seen: int = 0


async def sweep(now: datetime, *, dry_run: bool = False, batch: int = 500) -> SweepResult:
    """Take every step whose time has come by `now`; in a dry run, only say which."""
    require_aware(now)
    result = SweepResult()
    for model, handle in ((Assignment, _sweep_assignment), (Report, _sweep_report)):
        after: tuple[datetime, int] | None = None
        while True:
            qs = model.filter(sweep_at__lte=now)
            if after is not None:
                qs = qs.filter(Q(sweep_at__gt=after[0]) | Q(sweep_at=after[0], id__gt=after[1]))
            page = await qs.order_by("sweep_at", "id").limit(batch).values_list("id", "sweep_at")
            for row_id, _ in page:
                result.rows_seen += 1
                await handle(row_id, now, dry_run, result)
            if len(page) < batch:
                break
            after = (page[-1][1], page[-1][0])
    return result


async def _sweep_assignment(row_id: int, now: datetime, dry_run: bool, out: SweepResult) -> None:
    found = await Assignment.filter(id=row_id).values_list("report_id", flat=True)
    if not found:
        return
    report_id = int(found[0])  # type: ignore[call-overload]
    async with in_transaction():
        report = await _lock(report_id, dry_run)
        query = Assignment.filter(id=row_id)
        assignment = await (query if dry_run else query.select_for_update()).first()
        if report is None or assignment is None or not _still_due(assignment.sweep_at, now):
            return
        stage = assignment_stage(assignment.status, assignment.first_response_at)
        if report.status in SETTLED or stage is None or assignment.due_at is None:
            await _stop(assignment, dry_run)
            return
        target = f"assignment:{assignment.id}"
        cal = await calendar_for(report.region_id)
        steps, next_at = due_steps(assignment.due_at, stage, now, cal, deadline_rules())
        for step in steps:
            action = await _take(
                target, report, assignment, stage, step, assignment.due_at, now, dry_run, out
            )
            if action is not None and action.level is Level.HANDOVER and not action.skipped:
                next_at = None  # handed over: the agencies' deadlines no longer run
                break
        if not dry_run:
            await Assignment.filter(id=assignment.id).update(
                sweep_at=next_at, escalation_level=assignment.escalation_level
            )


async def _sweep_report(row_id: int, now: datetime, dry_run: bool, out: SweepResult) -> None:
    async with in_transaction():
        report = await _lock(row_id, dry_run)
        if report is None or not _still_due(report.sweep_at, now):
            return
        has_open = await Assignment.filter(
            report_id=report.id, status__in=[s.value for s in OPEN_ASSIGNMENT]
        ).exists()
        stage = report_stage(report.status, has_open)
        if stage is None or report.due_at is None:
            await _stop(report, dry_run)
            return
        cal = await calendar_for(report.region_id)
        steps, next_at = due_steps(report.due_at, stage, now, cal, deadline_rules())
        closed = False
        for step in steps:
            action = await _take(
                f"report:{report.id}", report, None, stage, step, report.due_at, now, dry_run, out
            )
            closed = closed or (
                action is not None and action.level is Level.CLOSE and not action.skipped
            )
        if not dry_run and not closed:  # closing cleared sweep_at itself
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


async def _take(
    target: str,
    report: Report,
    assignment: Assignment | None,
    stage: Stage,
    step: Step,
    due_at: datetime,
    now: datetime,
    dry_run: bool,
    out: SweepResult,
) -> SweepAction | None:
    """Take one step once: None when a mark says it was taken already."""
    if await SweepMark.exists(
        target=target, stage=stage.value, level=step.level.value, due_at=due_at
    ):
        return None
    skipped = is_stale_reminder(step, due_at, now) or (
        step.level is Level.HANDOVER and not _may_hand_over(report)
    )
    action = SweepAction(target, report.id, stage, step.level, due_at, skipped)
    out.actions.append(action)
    if dry_run:
        return action
    if not skipped:
        out.outbox_ids += await _act(report, assignment, stage, step.level, due_at, now)
    await SweepMark.create(
        target=target,
        stage=stage.value,
        level=step.level.value,
        due_at=due_at,
        report_id=report.id,
        acted=not skipped,
        at=now,
    )
    return action


def _may_hand_over(report: Report) -> bool:
    return report.ombudsman_consent and report.status in (
        ReportStatus.IN_PROGRESS,
        ReportStatus.RESPONDED,
    )


async def _act(
    report: Report,
    assignment: Assignment | None,
    stage: Stage,
    level: Level,
    due_at: datetime,
    now: datetime,
) -> list[int]:
    """Do what a step means, through the domain's own use cases and events."""
    if level is Level.HANDOVER:
        reason = "the resolution deadline passed and the reporter consented to a hand-over"
        return (await reports.escalate(SYSTEM, now, report.id, reason)).outbox_ids
    if level is Level.CLOSE:
        return (await reports.close_by_silence(SYSTEM, now, report.id)).outbox_ids
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
