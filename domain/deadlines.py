"""Deadlines (service-level targets) in working days of the report's region."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.settings import Settings
from domain.calendar import WorkingCalendar
from models.enums import AssignmentStatus, ReportStatus, ResolutionTier


@dataclass(frozen=True)
class DeadlineRules:
    """How many working days each stage gets (DESIGN.md section 2), from settings."""

    verify_days: int = 3
    first_response_days: int = 5
    resolution_simple: int = 5
    resolution_standard: int = 14
    resolution_field: int = 60
    reporter_window_days: int = 10
    escalation_after_days: int = 5
    transfer_cap: int = 3

    @classmethod
    def from_settings(cls, s: Settings) -> DeadlineRules:
        return cls(
            verify_days=s.verify_days,
            first_response_days=s.first_response_days,
            resolution_simple=s.resolution_days_simple,
            resolution_standard=s.resolution_days_standard,
            resolution_field=s.resolution_days_field,
            reporter_window_days=s.reporter_window_days,
            escalation_after_days=s.escalation_after_days,
            transfer_cap=s.transfer_cap,
        )

    def resolution_days(self, tier: ResolutionTier) -> int:
        return {
            ResolutionTier.SIMPLE: self.resolution_simple,
            ResolutionTier.STANDARD: self.resolution_standard,
            ResolutionTier.FIELD: self.resolution_field,
        }[tier]


def is_overdue(due_at: datetime | None, now: datetime) -> bool:
    """A deadline has passed when `now` is later than its due instant."""
    return due_at is not None and now > due_at


def verify_due(cal: WorkingCalendar, rules: DeadlineRules, since: datetime) -> datetime:
    """When the coordinator must have verified and forwarded a report waiting since `since`."""
    return cal.add_working_days(since, rules.verify_days)


def first_response_due(
    cal: WorkingCalendar, rules: DeadlineRules, assigned_at: datetime
) -> datetime:
    return cal.add_working_days(assigned_at, rules.first_response_days)


def resolution_due(
    cal: WorkingCalendar, rules: DeadlineRules, start: datetime, tier: ResolutionTier
) -> datetime:
    """The resolution deadline of a tier, counted from the assignment (or its reopening)."""
    return cal.add_working_days(start, rules.resolution_days(tier))


def reporter_window_due(
    cal: WorkingCalendar, rules: DeadlineRules, responded_at: datetime
) -> datetime:
    return cal.add_working_days(responded_at, rules.reporter_window_days)


def assignment_stage_due(
    status: AssignmentStatus,
    first_response_at: datetime | None,
    first_due: datetime | None,
    resolution_due_at: datetime | None,
) -> datetime | None:
    """The deadline of the stage an assignment is in: first follow-up, then resolution."""
    if status not in (AssignmentStatus.PENDING, AssignmentStatus.ACCEPTED):
        return None
    if first_response_at is None:
        return first_due
    return resolution_due_at


def report_stage_due(
    status: ReportStatus,
    *,
    waiting_since: datetime,
    responded_at: datetime | None,
    open_assignment_dues: list[datetime | None],
    cal: WorkingCalendar,
    rules: DeadlineRules,
) -> datetime | None:
    """The deadline of the stage a report is in, or None when no one owes it an answer."""
    if status is ReportStatus.SUBMITTED:
        return verify_due(cal, rules, waiting_since)
    if status is ReportStatus.IN_PROGRESS:
        dues = [d for d in open_assignment_dues if d is not None]
        if dues:
            return min(dues)
        # Nothing open (all returned): the coordinator must forward it again.
        return verify_due(cal, rules, waiting_since)
    if status is ReportStatus.RESPONDED and responded_at is not None:
        return reporter_window_due(cal, rules, responded_at)
    return None
