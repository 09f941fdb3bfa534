"""Masked views: what one viewer may see of an object, decided once when the view is built.

The GraphQL types read plain attributes of these views, so no per-field permission work
runs on hot paths (docs/design.md, "Performance"). No view can change once the policy made it:
they are named tuples, made from their values in order, which take a third of the time of a
frozen dataclass (whose every field is set through `object.__setattr__`): a page makes reports
and assignments by the hundred, timeline lines, follow-ups and people by the ten.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple, Protocol

from domain.actor import Actor
from domain.policy import SEES_NOTHING_MORE, Reading, ReportFacts, may_name, reading
from models import Agency as AgencyRecord
from models import Assignment, FollowUp, Report
from models import Category as CategoryRecord
from models import Notification as NotificationRecord
from models import Region as RegionRecord
from models.enums import (
    AssignmentStatus,
    ReportKind,
    ReportStatus,
    ResolutionCode,
    ResolutionTier,
    Role,
)
from models.rows import AssignmentRow, EventLine, FollowUpRow, ReportRow

# Reference data and notifications are shown as stored: the outer layers read these records.
__all__ = [
    "AgencyRecord",
    "AssignmentView",
    "CategoryRecord",
    "EventView",
    "FollowUpView",
    "NotificationRecord",
    "RegionRecord",
    "ReportView",
    "UserView",
    "assignment_view",
    "event_view",
    "event_views",
    "follow_up_view",
    "record_view",
    "report_view",
    "user_view",
    "view_as_read",
]

# A named tuple made from its values in order: the views a page makes by the hundred are made
# so. Named arguments cost more than the rest of a view: binding ReportView's twenty-two took
# 2.7 us against 0.2 us for making it from a tuple.
_made = tuple.__new__


class ReportView(NamedTuple):
    id: int
    tracking_code: str
    kind: ReportKind
    title: str
    body: str
    anonymous: bool
    confidential: bool
    status: ReportStatus
    region_id: int
    category_id: int | None
    reporter_id: int | None  # None when the viewer may not know who reported
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None
    support_count: int
    reopen_count: int
    transfer_count: int
    latitude: float | None
    longitude: float | None
    address: str | None
    # The viewer works on this report (coordinator, agency, ombudsman): internal lines show.
    staff_view: bool
    duplicate_of_id: int | None
    # Only the record of the viewer's former assignment (`record_view`): the content is withheld.
    withheld: bool = False


def report_view(actor: Actor, report: Report | ReportRow, facts: ReportFacts) -> ReportView:
    """The report as `actor` may see it; the caller has checked that it may read it."""
    return view_as_read(report, reading(actor, facts) or SEES_NOTHING_MORE)


def view_as_read(report: Report | ReportRow, seen: Reading) -> ReportView:
    """The report as a reader who sees `seen` of it sees it (`policy.reading`)."""
    see_reporter = seen.reporter
    # In ReportView's order (tests/domain/test_views.py checks every field by name).
    return _made(
        ReportView,
        (
            report.id,
            report.tracking_code,
            report.kind,
            report.title,
            report.body,
            report.anonymous,
            report.confidential,
            report.status,
            report.region_id,
            report.category_id,
            report.reporter_id if see_reporter else None,
            report.created_at,
            report.updated_at,
            report.due_at,
            report.support_count,
            report.reopen_count,
            report.transfer_count,
            report.latitude if see_reporter else None,
            report.longitude if see_reporter else None,
            report.address if see_reporter else None,
            seen.internal,
            report.duplicate_of_id,
            False,
        ),
    )


def record_view(actor: Actor, report: Report | ReportRow, facts: ReportFacts) -> ReportView:
    """What an agency desk keeps of a report it let go, beside its own assignment: the tracking
    code, kind, region, status and dates; the title and body are empty, and the place, the
    reporter, the deadline and what others did since are withheld (policy.keeps_record)."""
    return report_view(actor, report, facts)._replace(
        title="",
        body="",
        reporter_id=None,
        due_at=None,
        support_count=0,
        reopen_count=0,
        transfer_count=0,
        latitude=None,
        longitude=None,
        address=None,
        staff_view=False,
        duplicate_of_id=None,
        withheld=True,
    )


class AssignmentView(NamedTuple):
    id: int
    report_id: int
    agency_id: int
    parent_id: int | None
    status: AssignmentStatus
    tier: ResolutionTier | None
    assigned_at: datetime
    due_at: datetime | None
    escalation_level: int
    # Internal desk details: shown to staff of the report only.
    return_reason: str | None
    suggested_agency_id: int | None


def assignment_view(assignment: Assignment | AssignmentRow, staff_view: bool) -> AssignmentView:
    """An assignment as seen by someone who may read its report."""
    # In AssignmentView's order (tests/domain/test_views.py checks every field by name).
    return _made(
        AssignmentView,
        (
            assignment.id,
            assignment.report_id,
            assignment.agency_id,
            assignment.parent_id,
            assignment.status,
            assignment.tier,
            assignment.assigned_at,
            assignment.due_at,
            assignment.escalation_level,
            assignment.return_reason if staff_view else None,
            assignment.suggested_agency_id if staff_view else None,
        ),
    )


class FollowUpView(NamedTuple):
    id: int
    assignment_id: int
    message: str
    final: bool
    resolution: ResolutionCode | None
    author_id: int | None
    created_at: datetime


def follow_up_view(follow_up: FollowUp | FollowUpRow) -> FollowUpView:
    # In FollowUpView's order (tests/domain/test_views.py checks every field by name).
    return _made(
        FollowUpView,
        (
            follow_up.id,
            follow_up.assignment_id,
            follow_up.message,
            follow_up.final,
            follow_up.resolution,
            follow_up.author_id,
            follow_up.created_at,
        ),
    )


class EventView(NamedTuple):
    id: int
    report_id: int
    kind: str
    message: str | None
    actor_id: int | None
    at: datetime
    # What the desk it was written as (`timeline.acted_as`) is read from.
    region_id: int
    assignment_id: int | None
    by_reporter: bool


def event_view(line: EventLine, report: ReportView, hidden_reporter_id: int | None) -> EventView:
    """A line of `report`'s timeline; a line by a reporter hidden from the viewer carries no
    actor (`hidden_reporter_id` names them)."""
    return event_views((line,), report, hidden_reporter_id)[0]


def event_views(
    lines: Iterable[EventLine], report: ReportView, hidden_reporter_id: int | None
) -> list[EventView]:
    """Lines of `report`'s timeline, each as `event_view` makes it, in one loop (a page of
    twenty, with no call for each). Each line is read by position, in EventRow's order: a
    report's page holds its first lines as the records they were read as."""
    reporter_id, region_id = report.reporter_id, report.region_id
    views = []
    # (Unpacked, a line of another width fails here rather than showing a wrong column.)
    for line_id, report_id, kind, message, actor_id, _visibility, at, assignment_id in lines:
        by_reporter = actor_id is not None and actor_id in (hidden_reporter_id, reporter_id)
        if hidden_reporter_id is not None and actor_id == hidden_reporter_id:
            actor_id = None
        # In EventView's order (tests/domain/test_views.py checks every field by name).
        views.append(
            _made(
                EventView,
                (
                    line_id,
                    report_id,
                    kind,
                    message,
                    actor_id,
                    at,
                    region_id,
                    assignment_id,
                    by_reporter,
                ),
            )
        )
    return views


class UserView(NamedTuple):
    id: int
    name: str
    email: str | None
    roles: tuple[Role, ...]


class Named(Protocol):
    """Whom a UserView shows (a person of domain.services.accounts)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def roles(self) -> frozenset[Role]: ...


def user_view(person: Named, viewer: Actor) -> UserView | None:
    """A person as `viewer` sees them: None for staff to citizens and the public (staff are
    named only to staff, `policy.may_name`); the e-mail only to themselves and to the
    superadmin (who manages accounts); desks reach people through notifications."""
    if not may_name(viewer, person.id, person.roles):
        return None
    show_email = viewer.user_id == person.id or viewer.is_superadmin
    email = person.email if show_email else None
    # In UserView's order (tests/domain/test_views.py checks every field by name).
    return _made(UserView, (person.id, person.name, email, tuple(sorted(person.roles))))
