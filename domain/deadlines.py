"""Deadlines (service-level targets) in working days of the report's region: which stage a row
is in, when that stage is due, and whether it has passed (docs/design.md, "Deadlines").

Pure: the calendar and the rules are passed in, and so is `now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.calendar import WorkingCalendar
from domain.lifecycle import OPEN_ASSIGNMENT
from models.enums import AssignmentStatus, ReportStatus, ResolutionTier


class Stage(StrEnum):
    """What a row is waiting for; each stage has one deadline at a time."""

    VERIFY = "verify"  # the coordinator verifies and forwards (report)
    AGENCIES = "agencies"  # the agencies answer, on their own rows (report; swept there)
    FIRST_RESPONSE = "first_response"  # the agency's first follow-up (assignment)
    RESOLUTION = "resolution"  # the agency's final answer (assignment)
    REPORTER_WINDOW = "reporter_window"  # the reporter accepts or disputes (report)


@dataclass(frozen=True)
class DeadlineRules:
    """How many working days each stage gets; the values come from settings."""

    verify_days: int
    first_response_days: int
    resolution_simple: int
    resolution_standard: int
    resolution_field: int
    reporter_window_days: int
    escalation_after_days: int
    transfer_cap: int

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


def assignment_stage(status: AssignmentStatus, first_response_at: datetime | None) -> Stage | None:
    """The agency stage an assignment is in; None once it owes no answer."""
    if status not in OPEN_ASSIGNMENT:
        return None
    return Stage.FIRST_RESPONSE if first_response_at is None else Stage.RESOLUTION


def assignment_due(
    stage: Stage | None, first_response_due_at: datetime | None, resolution_due_at: datetime | None
) -> datetime | None:
    """The deadline of an assignment's stage: first follow-up, then resolution."""
    if stage is Stage.FIRST_RESPONSE:
        return first_response_due_at
    if stage is Stage.RESOLUTION:
        return resolution_due_at
    return None


def report_stage(status: ReportStatus, has_open_assignment: bool) -> Stage | None:
    """The stage a report is in; None when no one owes it an answer."""
    if status is ReportStatus.SUBMITTED:
        return Stage.VERIFY
    if status is ReportStatus.IN_PROGRESS:
        # With nothing open (everything was returned) the coordinator must forward it again.
        return Stage.AGENCIES if has_open_assignment else Stage.VERIFY
    if status is ReportStatus.RESPONDED:
        return Stage.REPORTER_WINDOW
    return None


def report_due(
    stage: Stage | None,
    *,
    waiting_since: datetime,
    responded_at: datetime | None,
    open_assignment_dues: list[datetime | None],
    cal: WorkingCalendar,
    rules: DeadlineRules,
) -> datetime | None:
    """The deadline of a report's stage (for AGENCIES: the earliest of its open assignments')."""
    if stage is Stage.VERIFY:
        return verify_due(cal, rules, waiting_since)
    if stage is Stage.AGENCIES:
        return min((d for d in open_assignment_dues if d is not None), default=None)
    if stage is Stage.REPORTER_WINDOW and responded_at is not None:
        return reporter_window_due(cal, rules, responded_at)
    return None
