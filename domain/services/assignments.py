"""Use cases of an agency desk on an assignment: accept, return, forward, follow up."""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from core.settings import get_settings
from domain.actor import Actor
from domain.calendar import WorkingCalendar
from domain.deadlines import resolution_due
from domain.errors import DomainError, ErrorCode, invalid, not_found
from domain.lifecycle import (
    OPEN_ASSIGNMENT,
    AssignmentAction,
    ReportAction,
    next_assignment_status,
    next_report_status,
)
from domain.policy import Action, AgencyFacts, allowed_on_agency, require_signed_in
from domain.services import reference
from domain.services.common import (
    Outcome,
    create_assignment,
    deadline_rules,
    lock_assignment,
    lock_report,
    optional_text,
    parse_id,
    record_event,
    refresh_assignment_due,
    refresh_report_due,
    report_facts,
    require_aware,
    require_readable,
    required_text,
)
from domain.services.outbox import OutboxEntry
from domain.services.reference import calendar_for
from models import Agency, Assignment, FollowUp, Report
from models.enums import AssignmentStatus, ReportStatus, ResolutionCode, ResolutionTier


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
        # Those who may not read the report are not told that it exists.
        require_readable(actor, await report_facts(report))
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
            "assignment.accepted",
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
            "assignment.returned",
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
            "assignment.forwarded",
            actor,
            now,
            assignment=assignment,
            data={"child_assignment_id": child.id, "agency_id": target.id},
        )
        _, oid2 = await record_event(
            report,
            "assignment.created",
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
) -> Outcome:
    """An interim or final written answer; the last final answer makes the report RESPONDED."""
    require_aware(now)
    text = required_text(message, "message", max_length=get_settings().message_max_length)
    if final and resolution is None:
        raise invalid("resolution", "a final follow-up needs a resolution code")
    if not final and resolution is not None:
        raise invalid("resolution", "only a final follow-up carries a resolution code")
    async with in_transaction():
        report, assignment = await _lock_for_desk(actor, assignment_id)
        action = AssignmentAction.RESPOND if final else AssignmentAction.FOLLOW_UP
        assignment.status = next_assignment_status(assignment.status, action)
        await FollowUp.create(
            assignment_id=assignment.id,
            author_id=actor.user_id,
            message=text,
            final=final,
            resolution=resolution,
            created_at=now,
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
            "assignment.final_follow_up" if final else "assignment.follow_up",
            actor,
            now,
            assignment=assignment,
            message=text,
            data={"resolution": resolution.value if resolution else None},
        )
        outbox.append(oid)
        still_open = await Assignment.filter(
            report_id=report.id, status__in=[s.value for s in OPEN_ASSIGNMENT]
        ).exists()
        if final and not still_open and report.status is ReportStatus.IN_PROGRESS:
            report.status = next_report_status(report.status, ReportAction.RESPOND)
            report.responded_at = now
            _, oid = await record_event(report, "report.responded", actor, now)
            outbox.append(oid)
        await _touch_report(report, now, cal)
        return Outcome(report, assignment, outbox)


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
            report, "assignment.reopened", actor, now, assignment=assignment
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
