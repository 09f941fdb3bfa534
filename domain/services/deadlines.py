"""Deadlines on the rows: the rules from settings, setting a row's deadline and its sweep time
(the one place that does), and their SQL twins for lists and monitoring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q

from core.settings import get_settings
from domain.calendar import WorkingCalendar
from domain.deadlines import (
    DeadlineRules,
    Stage,
    assignment_due,
    assignment_stage,
    report_due,
    report_stage,
)
from domain.lifecycle import OPEN_ASSIGNMENT, SETTLED
from domain.sweep import first_sweep_at
from models import Assignment, Report
from models.enums import ReportStatus


def deadline_rules() -> DeadlineRules:
    """The working days each stage gets, from settings."""
    s = get_settings()
    return DeadlineRules(
        verify_days=s.verify_days,
        first_response_days=s.first_response_days,
        resolution_simple=s.resolution_days_simple,
        resolution_standard=s.resolution_days_standard,
        resolution_field=s.resolution_days_field,
        reporter_window_days=s.reporter_window_days,
        escalation_after_days=s.escalation_after_days,
        transfer_cap=s.transfer_cap,
    )


def _schedule_sweep(
    row: Report | Assignment, due_at: datetime | None, stage: Stage | None, cal: WorkingCalendar
) -> None:
    """Set a row's deadline and when the sweep must look at it: afresh when the deadline moved,
    never when its stage takes no steps, unchanged otherwise (its steps so far stay taken)."""
    first = first_sweep_at(due_at, stage, cal, deadline_rules())
    if first is None:
        row.sweep_at = None
    elif due_at != row.due_at:
        row.sweep_at = first
    row.due_at = due_at


def refresh_assignment_due(assignment: Assignment, cal: WorkingCalendar) -> None:
    """Set the assignment's current due_at (and sweep time) from its stage (not saved here)."""
    stage = assignment_stage(assignment.status, assignment.first_response_at)
    due = assignment_due(stage, assignment.first_response_due_at, assignment.resolution_due_at)
    _schedule_sweep(assignment, due, stage, cal)


async def refresh_report_due(report: Report, cal: WorkingCalendar, waiting_since: datetime) -> None:
    """Recompute the report's stage deadline (and sweep time) from its status and open
    assignments (not saved)."""
    open_dues = await Assignment.filter(
        report_id=report.id, status__in=[s.value for s in OPEN_ASSIGNMENT]
    ).values_list("due_at", flat=True)
    set_report_due(report, cal, waiting_since, list(open_dues))  # type: ignore[arg-type]


def set_report_due(
    report: Report,
    cal: WorkingCalendar,
    waiting_since: datetime,
    open_assignment_dues: list[datetime | None],
) -> None:
    """Set the report's stage deadline (and sweep time) from its status and the deadlines of
    its open assignments (not saved)."""
    stage = report_stage(report.status, bool(open_assignment_dues))
    due = report_due(
        stage,
        waiting_since=waiting_since,
        responded_at=report.responded_at,
        open_assignment_dues=open_assignment_dues,
        cal=cal,
        rules=deadline_rules(),
    )
    _schedule_sweep(report, due, stage, cal)


def clear_report_due(report: Report) -> None:
    """No one owes the report an answer any more (closed, archived, handed over, on hold)."""
    report.due_at = None
    report.sweep_at = None


def overdue_filter(overdue: bool | None, now: datetime) -> Q | None:
    """The SQL twin of `is_overdue` on `due_at`: rows past it (True), within it or without one
    (False), or no filter (None)."""
    if overdue is None:
        return None
    if overdue:
        return Q(due_at__lt=now)
    return Q(due_at__isnull=True) | Q(due_at__gte=now)


@dataclass(frozen=True)
class OverdueCounts:
    """Open work whose current deadline has passed."""

    assignments: int
    reports: int


async def overdue_counts(now: datetime) -> OverdueCounts:
    """How many open assignments and unsettled reports are past `due_at` (two indexed counts
    on (status, due_at)); for monitoring, not shown to any viewer."""
    late = overdue_filter(True, now)
    assert late is not None
    assignments = await Assignment.filter(
        late, status__in=[s.value for s in OPEN_ASSIGNMENT]
    ).count()
    unsettled = [s.value for s in ReportStatus if s not in SETTLED]
    reports = await Report.filter(late, status__in=unsettled).count()
    return OverdueCounts(assignments, reports)
