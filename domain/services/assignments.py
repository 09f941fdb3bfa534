"""Use cases of an agency desk on an assignment: accept, return, forward, follow up."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from core.settings import get_settings
from domain.actor import Actor
from domain.calendar import WorkingCalendar
from domain.deadlines import first_response_due, resolution_due
from domain.errors import DomainError, ErrorCode, invalid, not_found
from domain.events import EventKind
from domain.ids import parse_id
from domain.lifecycle import (
    OPEN_ASSIGNMENT,
    AssignmentAction,
    ReportAction,
    next_assignment_status,
    next_report_status,
)
from domain.policy import (
    Action,
    AgencyFacts,
    allowed_on_agency,
    allowed_on_report,
    keeps_record,
    require_signed_in,
)
from domain.services import attachments, reference, reports
from domain.services.common import (
    Outcome,
    lock_assignment,
    lock_report,
    optional_text,
    record_event,
    report_and_facts,
    report_facts,
    require_aware,
    required_text,
)
from domain.services.deadlines import (
    deadline_rules,
    overdue_filter,
    refresh_assignment_due,
    refresh_report_due,
)
from domain.services.outbox import OutboxEntry
from domain.services.reading import (
    Page,
    PageRequest,
    SharedRows,
    newest_rows_first_with,
    shared_rows,
)
from domain.services.reference import calendar_for
from domain.services.views import (
    AssignmentView,
    FollowUpView,
    ReportView,
    assignment_view,
    follow_up_view,
)
from models import (
    Agency,
    Assignment,
    FollowUp,
    Report,
    ReportEvent,
    rows,
)
from models.enums import (
    AssignmentStatus,
    AttachmentSource,
    ReportStatus,
    ResolutionCode,
    ResolutionTier,
)
from models.rows import AssignmentRow


async def _lock_for_desk(actor: Actor, assignment_id: int | str) -> tuple[Report, Assignment]:
    """Lock the report, then the assignment (always in this order), and check the desk."""
    require_signed_in(actor)
    aid = parse_id(assignment_id, "assignmentId")
    found = await Assignment.get_or_none(id=aid).values("report_id")
    if found is None:
        raise not_found("assignment", "assignmentId")
    report = await lock_report(found["report_id"], "assignmentId")
    assignment = await lock_assignment(aid)
    agency = await reference.agency(assignment.agency_id)
    assert agency is not None  # an assignment's agency cannot be removed (RESTRICT)
    if not allowed_on_agency(
        actor, Action.WORK_ASSIGNMENT, AgencyFacts(agency.id, agency.region_id)
    ):
        # Those who may not read the report are told what they would be told of an assignment
        # that does not exist: ids cannot be probed.
        if not allowed_on_report(actor, Action.READ, await report_facts(report)):
            raise not_found("assignment", "assignmentId")
        raise DomainError(ErrorCode.FORBIDDEN, "only the agency's desk works on this assignment")
    return report, assignment


async def accept(
    actor: Actor, now: datetime, assignment_id: int | str, tier: ResolutionTier
) -> Outcome:
    """The agency takes the report on, choosing its resolution tier (and so its deadline)."""
    require_aware(now)
    async with in_transaction():
        report, assignment = await _lock_for_desk(actor, assignment_id)
        assignment.status = next_assignment_status(assignment.status, AssignmentAction.ACCEPT)
        cal = await calendar_for(report.region_id)
        assignment.tier = tier
        assignment.accepted_at = now
        assignment.resolution_due_at = resolution_due(
            cal, deadline_rules(), assignment.assigned_at, tier
        )
        assignment.updated_at = now
        refresh_assignment_due(assignment, cal)
        await assignment.save()
        await _touch_report(report, now, cal)
        _, oid = await record_event(
            report,
            EventKind.ASSIGNMENT_ACCEPTED,
            actor,
            now,
            assignment=assignment,
            data={"tier": tier.value},
        )
        return Outcome(report, assignment, [oid])


async def return_(
    actor: Actor,
    now: datetime,
    assignment_id: int | str,
    reason: str,
    suggested_agency_id: int | str | None,
) -> Outcome:
    """'Not our remit': the assignment goes back to the coordinator, naming who should act."""
    require_aware(now)
    text = required_text(reason, "reason", max_length=get_settings().message_max_length)
    suggested = None
    if suggested_agency_id is not None:
        suggested = await reference.agency(parse_id(suggested_agency_id, "suggestedAgencyId"))
        if suggested is None:
            raise not_found("agency", "suggestedAgencyId")
    async with in_transaction():
        report, assignment = await _lock_for_desk(actor, assignment_id)
        assignment.status = next_assignment_status(assignment.status, AssignmentAction.RETURN)
        _count_transfer(report)
        if suggested is not None and suggested.id == assignment.agency_id:
            raise invalid("suggestedAgencyId", "suggest another agency than your own")
        assignment.return_reason = text
        assignment.suggested_agency_id = suggested.id if suggested else None
        assignment.updated_at = now
        cal = await calendar_for(report.region_id)
        refresh_assignment_due(assignment, cal)
        await assignment.save()
        await _touch_report(report, now, cal)
        _, oid = await record_event(
            report,
            EventKind.ASSIGNMENT_RETURNED,
            actor,
            now,
            assignment=assignment,
            message=text,
            internal=True,
            data={"suggested_agency_id": suggested.id if suggested else None},
        )
        return Outcome(report, assignment, [oid])


async def forward(
    actor: Actor, now: datetime, assignment_id: int | str, agency_id: int | str, note: str | None
) -> Outcome:
    """Forward to a sub-unit (a Puskesmas under its Dinas); a child assignment carries on."""
    require_aware(now)
    text = optional_text(note, "note", max_length=get_settings().message_max_length)
    target = await reference.agency(parse_id(agency_id, "agencyId"))
    if target is None:
        raise not_found("agency", "agencyId")
    async with in_transaction():
        report, assignment = await _lock_for_desk(actor, assignment_id)
        assignment.status = next_assignment_status(assignment.status, AssignmentAction.FORWARD)
        if not await _is_descendant(target, assignment.agency_id):
            raise invalid("agencyId", "forward only to a sub-unit of your agency")
        _count_transfer(report)
        assignment.updated_at = now
        cal = await calendar_for(report.region_id)
        refresh_assignment_due(assignment, cal)
        await assignment.save()
        child = await create_assignment(report, target, now, cal, text, parent=assignment)
        await _touch_report(report, now, cal)
        _, oid = await record_event(
            report,
            EventKind.ASSIGNMENT_FORWARDED,
            actor,
            now,
            assignment=assignment,
            data={"child_assignment_id": child.id, "agency_id": target.id},
        )
        _, oid2 = await record_event(
            report,
            EventKind.ASSIGNMENT_CREATED,
            actor,
            now,
            assignment=child,
            data={"agency_id": target.id},
        )
        return Outcome(report, child, [oid, oid2])


async def follow_up(
    actor: Actor,
    now: datetime,
    assignment_id: int | str,
    message: str,
    final: bool,
    resolution: ResolutionCode | None,
    files: Sequence[attachments.Upload] = (),
) -> Outcome:
    """An interim or final written answer, with evidence files if any; the last final answer
    makes the report RESPONDED."""
    require_aware(now)
    text = required_text(message, "message", max_length=get_settings().message_max_length)
    if final and resolution is None:
        raise invalid("resolution", "a final follow-up needs a resolution code")
    if not final and resolution is not None:
        raise invalid("resolution", "only a final follow-up carries a resolution code")
    cleaned = await attachments.cleaned(files, "attachments")
    async with attachments.kept_if_committed() as stored, in_transaction():
        report, assignment = await _lock_for_desk(actor, assignment_id)
        action = AssignmentAction.RESPOND if final else AssignmentAction.FOLLOW_UP
        assignment.status = next_assignment_status(assignment.status, action)
        # The deadline this answer is judged by (transparency's "on time"): the one in force
        # now, before the answer moves the assignment on.
        due_in_force = assignment.due_at
        written = await FollowUp.create(
            assignment_id=assignment.id,
            author_id=actor.user_id,
            message=text,
            final=final,
            resolution=resolution,
            created_at=now,
        )
        made = await attachments.attach(
            report,
            cleaned,
            uploader_id=actor.user_id,
            source=AttachmentSource.AGENCY,
            now=now,
            stored=stored,
            follow_up_id=written.id,
        )
        if assignment.first_response_at is None:
            assignment.first_response_at = now
        if final:
            assignment.responded_at = now
        assignment.updated_at = now
        cal = await calendar_for(report.region_id)
        refresh_assignment_due(assignment, cal)
        await assignment.save()
        outbox = []
        _, oid = await record_event(
            report,
            EventKind.ASSIGNMENT_FINAL_FOLLOW_UP if final else EventKind.ASSIGNMENT_FOLLOW_UP,
            actor,
            now,
            assignment=assignment,
            message=text,
            data={
                "resolution": resolution.value if resolution else None,
                "due_at": due_in_force.isoformat() if due_in_force else None,
            },
        )
        outbox.append(oid)
        still_open = await Assignment.filter(
            report_id=report.id, status__in=[s.value for s in OPEN_ASSIGNMENT]
        ).exists()
        if final and not still_open and report.status is ReportStatus.IN_PROGRESS:
            report.status = next_report_status(report.status, ReportAction.RESPOND)
            report.responded_at = now
            _, oid = await record_event(report, EventKind.REPORT_RESPONDED, actor, now)
            outbox.append(oid)
        await _touch_report(report, now, cal)
        return Outcome(report, assignment, outbox, images=attachments.images_of(made))


async def reopen_responded(
    report: Report, actor: Actor, now: datetime, cal: WorkingCalendar
) -> list[OutboxEntry]:
    """After a dispute: answered assignments reopen with a fresh resolution deadline."""
    outbox = []
    answered = await Assignment.filter(
        report_id=report.id, status=AssignmentStatus.RESPONDED
    ).select_for_update()
    for assignment in answered:
        assignment.status = next_assignment_status(assignment.status, AssignmentAction.REOPEN)
        tier = assignment.tier or ResolutionTier.STANDARD
        assignment.resolution_due_at = resolution_due(cal, deadline_rules(), now, tier)
        assignment.responded_at = None
        assignment.updated_at = now
        refresh_assignment_due(assignment, cal)
        await assignment.save()
        _, oid = await record_event(
            report, EventKind.ASSIGNMENT_REOPENED, actor, now, assignment=assignment
        )
        outbox.append(oid)
    return outbox


def _count_transfer(report: Report) -> None:
    """Returns and forwards are transfers; past the cap only the coordinator decides."""
    cap = deadline_rules().transfer_cap
    if report.transfer_count >= cap:
        raise DomainError(
            ErrorCode.TRANSFER_CAP,
            f"this report was transferred {report.transfer_count} times (the cap is {cap}): "
            "ask the coordinator",
        )
    report.transfer_count += 1


async def _is_descendant(agency: Agency, ancestor_id: int) -> bool:
    seen: set[int] = set()
    parent_id = agency.parent_id
    while parent_id is not None and parent_id not in seen:
        if parent_id == ancestor_id:
            return True
        seen.add(parent_id)
        parent = await reference.agency(parent_id)
        parent_id = parent.parent_id if parent else None
    return False


async def _touch_report(report: Report, now: datetime, cal: WorkingCalendar) -> None:
    """Save the report's changed fields and its recomputed stage deadline."""
    report.updated_at = now
    await refresh_report_due(report, cal, now)
    await report.save(
        update_fields=[
            "status",
            "responded_at",
            "transfer_count",
            "updated_at",
            "due_at",
            "sweep_at",
        ]
    )


async def create_assignment(
    report: Report,
    agency: Agency,
    now: datetime,
    cal: WorkingCalendar,
    note: str | None,
    parent: Assignment | None = None,
) -> Assignment:
    """A new PENDING assignment with its first follow-up deadline, and a provisional resolution
    deadline from the category's usual tier (STANDARD when none) until the agency picks one."""
    tier = ResolutionTier.STANDARD
    if report.category_id is not None:
        category = await reference.category(report.category_id)
        tier = (category.default_tier if category else None) or tier
    assignment = Assignment(
        report_id=report.id,
        agency_id=agency.id,
        parent_id=parent.id if parent else None,
        status=AssignmentStatus.PENDING,
        note=note,
        assigned_at=now,
        first_response_due_at=first_response_due(cal, deadline_rules(), now),
        resolution_due_at=resolution_due(cal, deadline_rules(), now, tier),
        updated_at=now,
    )
    refresh_assignment_due(assignment, cal)
    await assignment.save()
    return assignment


# Whoever may open an agency's inbox is staff of its assignments: the desk details show.
INBOX_STAFF_VIEW = True


async def inbox(
    actor: Actor,
    now: datetime,
    agency_id: int | str,
    statuses: Sequence[AssignmentStatus] | None,
    overdue: bool | None,
    updated_after: datetime | None,
    page: PageRequest,
) -> InboxPage:
    """An agency desk's assignments, newest first; for its members and its region's coordinators."""
    desk = await open_inbox(actor, agency_id)
    qs = Assignment.filter(agency_id=desk.agency_id)
    if statuses:
        qs = qs.filter(status__in=[s.value for s in statuses])
    late = overdue_filter(overdue, now)
    if late is not None:
        qs = qs.filter(late)
    if updated_after is not None:
        qs = qs.filter(updated_at__gt=updated_after)
    # The assignments with their reports, and the reports' policy facts, in one statement.
    report = rows.REPORT.as_shown()
    page_rows = await newest_rows_first_with(
        rows.ASSIGNMENT,
        qs,
        page,
        report_and_facts(report),
        "JOIN report r ON r.id = p.report_id",
    )
    return InboxPage(
        page_rows.with_items([assignment_view(a, INBOX_STAFF_VIEW) for a, _ in page_rows.items]),
        reports.readable_in(actor, report.take_all([more for _, more in page_rows.items])),
    )


@dataclass(frozen=True)
class InboxPage:
    """A page of a desk's inbox, and the reports of its assignments that the viewer reads
    (masked views, read with the page)."""

    assignments: Page[AssignmentView]
    reports: dict[int, ReportView]


@dataclass(frozen=True)
class InboxDesk:
    """An agency inbox that `actor` was found allowed to watch (made by `open_inbox` only)."""

    actor: Actor
    agency_id: int


async def open_inbox(actor: Actor, agency_id: int | str) -> InboxDesk:
    """The inbox of an agency, for its members and its region's coordinators; UNAUTHENTICATED,
    NOT_FOUND or FORBIDDEN otherwise."""
    require_signed_in(actor)
    aid = parse_id(agency_id, "agencyId")
    agency = await reference.agency(aid)
    if agency is None:
        raise not_found("agency", "agencyId")
    # Agencies are public reference data: saying "not yours" reveals nothing.
    if not allowed_on_agency(actor, Action.VIEW_INBOX, AgencyFacts(agency.id, agency.region_id)):
        raise DomainError(ErrorCode.FORBIDDEN, "this is not your agency's inbox", ["agencyId"])
    return InboxDesk(actor, agency.id)


async def _inbox_row(desk: InboxDesk, event_id: int) -> ReportEvent | None:
    return (
        await ReportEvent.filter(id=event_id, assignment__agency_id=desk.agency_id)
        .select_related("assignment")
        .first()
    )


@dataclass(frozen=True)
class InboxEventView:
    """A timeline event about one of a desk's assignments, with the assignment as it is now."""

    kind: str
    at: datetime
    assignment: AssignmentView


async def inbox_event(
    desk: InboxDesk, event_id: int, shared: SharedRows | None = None
) -> InboxEventView | None:
    """The event as the desk's inbox shows it; None unless it is about one of its assignments."""
    event = await shared_rows(
        shared, ("inbox_event", desk.agency_id, event_id), lambda: _inbox_row(desk, event_id)
    )
    if event is None or event.assignment is None:
        return None
    return InboxEventView(event.kind, event.at, assignment_view(event.assignment, INBOX_STAFF_VIEW))


async def assignments_by_ids(
    actor: Actor, ids: Sequence[int], shared: SharedRows | None = None
) -> dict[int, AssignmentView]:
    """Assignments whose report the actor may read, and those of the actor's own agency desk
    whatever became of the report (`policy.keeps_record`)."""
    wanted = sorted(set(ids))
    rows = await shared_rows(shared, ("assignments", *wanted), lambda: _assignment_rows(wanted))
    readable = await reports.reports_by_ids(actor, [a.report_id for a in rows], shared)
    found: dict[int, AssignmentView] = {}
    for a in rows:
        own = keeps_record(actor, a.agency_id)  # its own desk's details show to it
        if a.report_id in readable or own:
            staff = own or readable[a.report_id].staff_view
            found[a.id] = assignment_view(a, staff)
    return found


async def _assignment_rows(ids: list[int]) -> list[AssignmentRow]:
    return await rows.select(rows.ASSIGNMENT, rows.by_ids(rows.ASSIGNMENT), ids)


_OF_REPORTS = "FROM assignment a WHERE a.report_id = ANY($1::bigint[]) ORDER BY a.id"


async def assignments_of_reports(
    keys: Sequence[tuple[int, bool]],
) -> list[list[AssignmentView]]:
    """For (report id, staff view) keys of readable reports: their assignments, oldest first."""
    found = await rows.select(
        rows.ASSIGNMENT,
        f"SELECT {rows.ASSIGNMENT.columns_of('a')} {_OF_REPORTS}",
        list({k[0] for k in keys}),
    )
    return _by_key(found, keys)


@dataclass(frozen=True)
class WithFollowUps:
    """The assignments of reports, by key, and the follow-ups of each of them by its id."""

    assignments: list[list[AssignmentView]]
    follow_ups: dict[int, list[FollowUpView]]


# Each assignment's follow-ups (as `a`), oldest first as `follow_ups_of_assignments` gives
# them: a column of an assignment's statement.
FOLLOW_UPS_OF_EACH = (
    f"ARRAY(SELECT {rows.FOLLOW_UP.typed_row('f')} FROM follow_up f"
    " WHERE f.assignment_id = a.id ORDER BY f.id)"
)


def assignments_of_each_report(with_follow_ups: bool) -> str:
    """Each report's assignments (as `r`), oldest first, as an array of rows (each with its
    follow-ups after its columns, when asked; else NULL there): a column of a report's
    statement."""
    follow_ups = FOLLOW_UPS_OF_EACH if with_follow_ups else "NULL"
    return (
        f"ARRAY(SELECT {rows.ASSIGNMENT.typed_row('a', follow_ups)} FROM assignment a"
        " WHERE a.report_id = r.id ORDER BY a.id)"
    )


async def assignments_with_follow_ups_of_reports(
    keys: Sequence[tuple[int, bool]],
) -> WithFollowUps:
    """`assignments_of_reports`, with each assignment's follow-ups (oldest first, as
    `follow_ups_of_assignments` gives them) read in the same statement."""
    found = await rows.select_with(
        rows.ASSIGNMENT,
        f"SELECT {rows.ASSIGNMENT.columns_of('a')}, {FOLLOW_UPS_OF_EACH} {_OF_REPORTS}",
        list({k[0] for k in keys}),
    )
    return WithFollowUps(_by_key([a for a, _ in found], keys), follow_ups_of(found))


def follow_ups_of(
    found: Sequence[tuple[AssignmentRow, tuple[Any, ...]]],
) -> dict[int, list[FollowUpView]]:
    """The follow-ups read with each assignment (`FOLLOW_UPS_OF_EACH`, its first column after
    the assignment's), by assignment id."""
    make_all = rows.FOLLOW_UP.make_all
    return {a.id: [follow_up_view(f) for f in make_all(more[0])] for a, more in found}


def _by_key(
    found: Sequence[AssignmentRow], keys: Sequence[tuple[int, bool]]
) -> list[list[AssignmentView]]:
    by_report: dict[int, list[AssignmentRow]] = defaultdict(list)
    for a in found:
        by_report[a.report_id].append(a)
    return [[assignment_view(a, staff) for a in by_report[rid]] for rid, staff in keys]


def views_of_report(
    found: Sequence[AssignmentRow], report_id: int, staff_view: bool
) -> list[AssignmentView]:
    """The views of a readable report's assignments, read with it (`assignments_of_each_report`),
    as `assignments_of_reports` gives them for its key."""
    return _by_key(found, [(report_id, staff_view)])[0]


async def follow_ups_of_assignments(ids: Sequence[int]) -> list[list[FollowUpView]]:
    found = await rows.select(
        rows.FOLLOW_UP,
        f"SELECT {rows.FOLLOW_UP.columns} FROM follow_up"
        " WHERE assignment_id = ANY($1::bigint[]) ORDER BY id",
        list(set(ids)),
    )
    grouped: dict[int, list[FollowUpView]] = defaultdict(list)
    for f in found:
        grouped[f.assignment_id].append(follow_up_view(f))
    return [grouped[i] for i in ids]


async def follow_up_by_id(actor: Actor, fid: int) -> FollowUpView | None:
    row = await FollowUp.get_or_none(id=fid)
    if row is None or not await assignments_by_ids(actor, [row.assignment_id]):
        return None
    return follow_up_view(row)
