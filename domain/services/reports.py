"""Use cases on a report: submit, the reporter's actions, and the coordinator desk's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q, Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from core.bounds import ADDRESS_MAX_LENGTH, MAX_AGENCIES_AT_ONCE, SEARCH_MAX_LENGTH
from core.settings import get_settings
from domain.actor import PUBLIC, Actor
from domain.deadlines import is_overdue
from domain.errors import DomainError, ErrorCode, invalid, not_found
from domain.events import EventKind
from domain.ids import parse_id
from domain.lifecycle import (
    FINAL_REPORT,
    LET_GO,
    OPEN_ASSIGNMENT,
    PUBLIC_REPORT,
    ReportAction,
    next_report_status,
)
from domain.policy import (
    Action,
    ReportFacts,
    allowed_on_report,
    keeps_record,
    reading,
    require_signed_in,
)
from domain.services import assignments, attachments, reference, search
from domain.services.common import (
    ASSIGNED_AGENCIES,
    Outcome,
    facts_of,
    lock_report_for,
    optional_text,
    record_event,
    report_facts,
    report_rows,
    require_aware,
    required_text,
)
from domain.services.deadlines import (
    clear_report_due,
    overdue_filter,
    refresh_report_due,
    set_report_due,
)
from domain.services.ratelimits import RateLimits
from domain.services.reading import (
    Page,
    PageRequest,
    SharedRows,
    newest_rows_first_with,
    page_size,
    shared_rows,
)
from domain.services.reference import calendar_for
from domain.services.views import (
    ReportView,
    record_view,
    view_as_read,
)
from domain.similarity import Likeness, Probe, likeness
from domain.tracking import new_tracking_code, normalize_tracking_code
from models import (
    Agency,
    Assignment,
    Rating,
    Region,
    Report,
    Support,
    rows,
)
from models.enums import AttachmentSource, RegionLevel, ReportKind, ReportStatus
from models.rows import ReportRow


@dataclass(frozen=True)
class SubmitInput:
    """A citizen's new report, as typed."""

    kind: ReportKind
    title: str
    body: str
    region_id: int | str
    category_id: int | str | None = None
    anonymous: bool = False
    confidential: bool = False
    ombudsman_consent: bool = False
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    # Photos and documents, as sent (cleaned before anything is stored).
    attachments: Sequence[attachments.Upload] = ()


async def submit(
    actor: Actor, now: datetime, data: SubmitInput, limits: RateLimits | None = None
) -> Outcome:
    """Store a new report in SUBMITTED with its verification deadline and a fresh tracking code;
    with `limits`, RATE_LIMITED beyond the submission windows (a valid report only counts)."""
    require_aware(now)
    require_signed_in(actor)
    if actor.user_id is None:
        raise DomainError(ErrorCode.FORBIDDEN, "only a person can submit a report")
    s = get_settings()
    title = required_text(data.title, "title", max_length=s.title_max_length)
    body = required_text(data.body, "body", max_length=s.body_max_length)
    address = optional_text(data.address, "address", max_length=ADDRESS_MAX_LENGTH)
    _check_place(data.latitude, data.longitude)
    region = await _report_region(data.region_id)
    category_id = None
    if data.category_id is not None:
        category_id = parse_id(data.category_id, "categoryId")
        if await reference.category(category_id) is None:
            raise not_found("category", "categoryId")
    files = await attachments.cleaned(data.attachments, "attachments")
    if limits is not None:
        await limits.submit(actor.user_id, now)
    cal = await calendar_for(region.id)
    async with attachments.kept_if_committed() as stored:
        for _attempt in range(5):
            try:
                async with in_transaction():
                    report = Report(
                        tracking_code=new_tracking_code(),
                        kind=data.kind,
                        title=title,
                        body=body,
                        anonymous=data.anonymous,
                        confidential=data.confidential,
                        ombudsman_consent=data.ombudsman_consent,
                        status=ReportStatus.SUBMITTED,
                        region_id=region.id,
                        category_id=category_id,
                        reporter_id=actor.user_id,
                        latitude=data.latitude,
                        longitude=data.longitude,
                        address=address,
                        created_at=now,
                        updated_at=now,
                    )
                    set_report_due(report, cal, now, open_assignment_dues=[])
                    await report.save()
                    made = await attachments.attach(
                        report,
                        files,
                        uploader_id=actor.user_id,
                        source=AttachmentSource.REPORTER,
                        now=now,
                        stored=stored,
                    )
                    _, entry = await record_event(report, EventKind.REPORT_SUBMITTED, actor, now)
                    return Outcome(
                        report,
                        outbox=[entry],
                        facts=facts_of(report),
                        images=attachments.images_of(made),
                    )
            except IntegrityError:
                # A tracking-code collision (about 1 in 10^12): draw again.
                continue
    raise DomainError(ErrorCode.CONFLICT, "could not allocate a tracking code, try again")


def _check_place(latitude: float | None, longitude: float | None) -> None:
    """VALIDATION unless the coordinates are WGS84 degrees (or absent)."""
    if latitude is not None and not -90 <= latitude <= 90:
        raise invalid("latitude", "must be between -90 and 90")
    if longitude is not None and not -180 <= longitude <= 180:
        raise invalid("longitude", "must be between -180 and 180")


async def _report_region(region_id: int | str) -> Region:
    """The regency or city a report may be about: NOT_FOUND or VALIDATION on regionId."""
    region = await reference.region(parse_id(region_id, "regionId"))
    if region is None:
        raise not_found("region", "regionId")
    if region.level is RegionLevel.PROVINCE:
        raise invalid("regionId", "choose the regency or city the report is about")
    return region


async def add_info(
    actor: Actor,
    now: datetime,
    report_id: int | str,
    message: str,
    files: Sequence[attachments.Upload] = (),
) -> Outcome:
    """The reporter adds information, and files if any; a report on hold goes back to the
    coordinator."""
    require_aware(now)
    text = required_text(message, "message", max_length=get_settings().message_max_length)
    rid = parse_id(report_id, "reportId")
    cleaned = await attachments.cleaned(files, "attachments")
    async with attachments.kept_if_committed() as stored, in_transaction():
        report = await lock_report_for(
            actor, rid, Action.ADD_INFO, "only the reporter adds information"
        )
        was = report.status
        report.status = next_report_status(report.status, ReportAction.ADD_INFO)
        report.updated_at = now
        if was is ReportStatus.ON_HOLD:
            await refresh_report_due(report, await calendar_for(report.region_id), now)
        await report.save(update_fields=["status", "updated_at", "due_at", "sweep_at"])
        made = await attachments.attach(
            report,
            cleaned,
            uploader_id=actor.user_id,
            source=AttachmentSource.REPORTER,
            now=now,
            stored=stored,
        )
        _, oid = await record_event(report, EventKind.REPORT_INFO_ADDED, actor, now, message=text)
        return Outcome(report, outbox=[oid], images=attachments.images_of(made))


async def support(actor: Actor, now: datetime, report_id: int | str) -> Outcome:
    """A signed-in user supports a public report once; they follow it from then on."""
    require_aware(now)
    require_signed_in(actor)
    rid = parse_id(report_id, "reportId")
    async with in_transaction():
        report = await lock_report_for(
            actor, rid, Action.SUPPORT, "only public reports can be supported"
        )
        if await Support.exists(report_id=report.id, user_id=actor.user_id):
            raise DomainError(
                ErrorCode.ALREADY_DONE, "you already support this report", ["reportId"]
            )
        await Support.create(report_id=report.id, user_id=actor.user_id, created_at=now)
        await Report.filter(id=report.id).update(support_count=F("support_count") + 1)
        report.support_count += 1
        _, oid = await record_event(report, EventKind.REPORT_SUPPORTED, actor, now, internal=True)
        return Outcome(report, outbox=[oid])


async def rate(
    actor: Actor, now: datetime, report_id: int | str, rating: int, comment: str | None
) -> Outcome:
    """The reporter accepts the answer with a rating of 1 to 5; the report closes."""
    require_aware(now)
    if not 1 <= rating <= 5:
        raise invalid("rating", "must be from 1 to 5")
    text = optional_text(comment, "comment", max_length=get_settings().message_max_length)
    rid = parse_id(report_id, "reportId")
    async with in_transaction():
        report = await lock_report_for(actor, rid, Action.RATE, "only the reporter rates a report")
        report.status = next_report_status(report.status, ReportAction.RATE)
        report.closed_at = now
        report.updated_at = now
        clear_report_due(report)
        await report.save(update_fields=["status", "closed_at", "updated_at", "due_at", "sweep_at"])
        await Rating.create(
            report_id=report.id, user_id=actor.user_id, score=rating, comment=text, created_at=now
        )
        _, oid = await record_event(
            report, EventKind.REPORT_RATED, actor, now, message=text, data={"rating": rating}
        )
        return Outcome(report, outbox=[oid])


async def dispute(actor: Actor, now: datetime, report_id: int | str, reason: str) -> Outcome:
    """The reporter disputes the answer within the window: the agencies work on it again."""
    require_aware(now)
    text = required_text(reason, "reason", max_length=get_settings().message_max_length)
    rid = parse_id(report_id, "reportId")
    async with in_transaction():
        report = await lock_report_for(actor, rid, Action.DISPUTE, "only the reporter disputes")
        if is_overdue(report.due_at, now):
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, "the window to dispute this answer has passed"
            )
        report.status = next_report_status(report.status, ReportAction.DISPUTE)
        report.reopen_count += 1
        report.responded_at = None
        report.updated_at = now
        cal = await calendar_for(report.region_id)
        outbox = []
        outbox += await assignments.reopen_responded(report, actor, now, cal)
        await refresh_report_due(report, cal, now)
        await report.save(
            update_fields=[
                "status",
                "reopen_count",
                "responded_at",
                "updated_at",
                "due_at",
                "sweep_at",
            ]
        )
        _, oid = await record_event(report, EventKind.REPORT_DISPUTED, actor, now, message=text)
        return Outcome(report, outbox=[oid, *outbox])


async def verify(
    actor: Actor,
    now: datetime,
    report_id: int | str,
    agency_ids: list[int | str],
    category_id: int | str | None,
    note: str | None,
) -> Outcome:
    """The coordinator verifies a SUBMITTED report and forwards it to one or more agencies."""
    require_aware(now)
    if not agency_ids:
        raise invalid("agencyIds", "name at least one agency")
    ids = sorted({parse_id(a, "agencyIds") for a in agency_ids})
    if len(ids) > MAX_AGENCIES_AT_ONCE:
        raise invalid("agencyIds", f"at most {MAX_AGENCIES_AT_ONCE} agencies at once")
    text = optional_text(note, "note", max_length=get_settings().message_max_length)
    rid = parse_id(report_id, "reportId")
    async with in_transaction():
        report = await lock_report_for(
            actor, rid, Action.VERIFY, "only the region's coordinator verifies"
        )
        report.status = next_report_status(report.status, ReportAction.VERIFY)
        if category_id is not None:
            cid = parse_id(category_id, "categoryId")
            if await reference.category(cid) is None:
                raise not_found("category", "categoryId")
            report.category_id = cid
        agencies = await _agencies_for(report, ids, "agencyIds")
        cal = await calendar_for(report.region_id)
        outbox = []
        # The desk's note travels on the assignments (staff only), not on the public line.
        _, oid = await record_event(report, EventKind.REPORT_VERIFIED, actor, now)
        outbox.append(oid)
        for agency in agencies:
            assignment = await assignments.create_assignment(report, agency, now, cal, text)
            _, oid = await record_event(
                report,
                EventKind.ASSIGNMENT_CREATED,
                actor,
                now,
                assignment=assignment,
                data={"agency_id": agency.id},
            )
            outbox.append(oid)
        report.updated_at = now
        await refresh_report_due(report, cal, now)
        await report.save(
            update_fields=["status", "category_id", "updated_at", "due_at", "sweep_at"]
        )
        return Outcome(report, outbox=outbox)


async def assign(
    actor: Actor, now: datetime, report_id: int | str, agency_id: int | str, note: str | None
) -> Outcome:
    """The coordinator forwards a report to one more agency (after a return, or in addition)."""
    require_aware(now)
    aid = parse_id(agency_id, "agencyId")
    text = optional_text(note, "note", max_length=get_settings().message_max_length)
    rid = parse_id(report_id, "reportId")
    async with in_transaction():
        report = await lock_report_for(
            actor, rid, Action.ASSIGN, "only the region's coordinator assigns"
        )
        report.status = next_report_status(report.status, ReportAction.ASSIGN)
        (agency,) = await _agencies_for(report, [aid], "agencyId")
        if await Assignment.exists(
            report_id=report.id,
            agency_id=agency.id,
            status__in=[s.value for s in OPEN_ASSIGNMENT],
        ):
            raise DomainError(
                ErrorCode.ALREADY_DONE, "this agency already has the report open", ["agencyId"]
            )
        cal = await calendar_for(report.region_id)
        assignment = await assignments.create_assignment(report, agency, now, cal, text)
        report.updated_at = now
        report.responded_at = None
        await refresh_report_due(report, cal, now)
        await report.save(
            update_fields=["status", "updated_at", "due_at", "sweep_at", "responded_at"]
        )
        _, oid = await record_event(
            report,
            EventKind.ASSIGNMENT_CREATED,
            actor,
            now,
            assignment=assignment,
            data={"agency_id": agency.id},
        )
        return Outcome(report, assignment, [oid])


async def hold(actor: Actor, now: datetime, report_id: int | str, reason: str) -> Outcome:
    """The coordinator asks the reporter for more information; no deadline runs meanwhile."""
    return await _coordinator_transition(
        actor, now, report_id, reason, ReportAction.HOLD, Action.HOLD, EventKind.REPORT_HELD
    )


async def archive(
    actor: Actor,
    now: datetime,
    report_id: int | str,
    reason: str,
    duplicate_of_id: int | str | None,
) -> Outcome:
    """The coordinator archives spam, a duplicate or an out-of-scope report."""
    dup = parse_id(duplicate_of_id, "duplicateOfId") if duplicate_of_id is not None else None
    if dup is not None:
        if dup == parse_id(report_id, "reportId"):
            raise invalid("duplicateOfId", "a report cannot duplicate itself")
    return await _coordinator_transition(
        actor,
        now,
        report_id,
        reason,
        ReportAction.ARCHIVE,
        Action.ARCHIVE,
        EventKind.REPORT_ARCHIVED,
        duplicate_of_id=dup,
    )


async def hand_over(actor: Actor, now: datetime, report_id: int | str, reason: str) -> Outcome:
    """Hand over to the Ombudsman: an agency deadline passed and the reporter consented."""
    require_aware(now)
    text = required_text(reason, "reason", max_length=get_settings().message_max_length)
    rid = parse_id(report_id, "reportId")
    async with in_transaction():
        report = await lock_report_for(
            actor, rid, Action.HAND_OVER, "only the region's coordinator hands over"
        )
        target = next_report_status(report.status, ReportAction.HAND_OVER)
        if not report.ombudsman_consent:
            raise DomainError(
                ErrorCode.CONSENT_MISSING, "the reporter did not consent to a hand-over"
            )
        if not await _resolution_deadline_missed(report, now):
            raise DomainError(
                ErrorCode.DEADLINE_NOT_PASSED, "no agency has missed its resolution deadline yet"
            )
        report.status = target
        report.escalated_at = now
        report.updated_at = now
        clear_report_due(report)
        await report.save(
            update_fields=["status", "escalated_at", "updated_at", "due_at", "sweep_at"]
        )
        _, oid = await record_event(report, EventKind.REPORT_HANDED_OVER, actor, now, message=text)
        return Outcome(report, outbox=[oid])


async def close_escalated(actor: Actor, now: datetime, report_id: int | str, note: str) -> Outcome:
    """The Ombudsman closes a report handed over to it."""
    require_aware(now)
    text = required_text(note, "note", max_length=get_settings().message_max_length)
    rid = parse_id(report_id, "reportId")
    async with in_transaction():
        report = await lock_report_for(
            actor, rid, Action.CLOSE_ESCALATED, "only the Ombudsman closes"
        )
        report.status = next_report_status(report.status, ReportAction.CLOSE_ESCALATED)
        report.closed_at = now
        report.updated_at = now
        await report.save(update_fields=["status", "closed_at", "updated_at"])
        _, oid = await record_event(report, EventKind.REPORT_CLOSED, actor, now, message=text)
        return Outcome(report, outbox=[oid])


async def close_by_silence(actor: Actor, now: datetime, report_id: int | str) -> Outcome:
    """The reporter let the window pass without answering: the report closes (system only)."""
    require_aware(now)
    rid = parse_id(report_id, "reportId")
    async with in_transaction():
        report = await lock_report_for(
            actor, rid, Action.CLOSE_BY_SILENCE, "only the deadline sweep closes by silence"
        )
        target = next_report_status(report.status, ReportAction.CLOSE_BY_SILENCE)
        if not is_overdue(report.due_at, now):
            raise DomainError(ErrorCode.DEADLINE_NOT_PASSED, "the reporter's window is still open")
        report.status = target
        report.closed_at = now
        report.updated_at = now
        clear_report_due(report)
        await report.save(update_fields=["status", "closed_at", "updated_at", "due_at", "sweep_at"])
        _, oid = await record_event(
            report, EventKind.REPORT_CLOSED, actor, now, data={"by": "silence"}
        )
        return Outcome(report, outbox=[oid])


async def _coordinator_transition(
    actor: Actor,
    now: datetime,
    report_id: int | str,
    reason: str,
    action: ReportAction,
    permission: Action,
    kind: EventKind,
    duplicate_of_id: int | None = None,
) -> Outcome:
    require_aware(now)
    text = required_text(reason, "reason", max_length=get_settings().message_max_length)
    rid = parse_id(report_id, "reportId")
    async with in_transaction():
        report = await lock_report_for(
            actor, rid, permission, "only the region's coordinator does this"
        )
        report.status = next_report_status(report.status, action)
        report.updated_at = now
        clear_report_due(report)
        if duplicate_of_id is not None:
            await _require_readable_report(actor, duplicate_of_id, "duplicateOfId")
        if report.status is ReportStatus.ARCHIVED:
            report.closed_at = now
            report.duplicate_of_id = duplicate_of_id
        await report.save(
            update_fields=[
                "status",
                "updated_at",
                "due_at",
                "sweep_at",
                "closed_at",
                "duplicate_of_id",
            ]
        )
        _, oid = await record_event(
            report,
            kind,
            actor,
            now,
            message=text,
            data={"duplicate_of_id": duplicate_of_id} if duplicate_of_id else None,
        )
        return Outcome(report, outbox=[oid])


async def _agencies_for(report: Report, ids: list[int], field_name: str) -> list[Agency]:
    """The named agencies, which must exist and serve the report's region or the nation."""
    agencies = await Agency.filter(id__in=ids).order_by("id")
    if len(agencies) != len(ids):
        raise not_found("agency", field_name)
    for agency in agencies:
        if agency.region_id is not None and agency.region_id != report.region_id:
            raise invalid(field_name, f"agency {agency.code} does not serve this report's region")
    return list(agencies)


async def _require_readable_report(actor: Actor, report_id: int, field_name: str) -> None:
    """NOT_FOUND on `field_name` unless the report exists and the actor may read it."""
    other = await Report.get_or_none(id=report_id)
    if other is None or not allowed_on_report(actor, Action.READ, await report_facts(other)):
        raise not_found("report", field_name)


async def _resolution_deadline_missed(report: Report, now: datetime) -> bool:
    """Has an agency let its resolution deadline pass without a final answer?"""
    dues = await Assignment.filter(
        report_id=report.id, status__in=[s.value for s in OPEN_ASSIGNMENT]
    ).values_list("resolution_due_at", flat=True)
    return any(is_overdue(d, now) for d in dues)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ReportQuery:
    statuses: Sequence[ReportStatus] | None = None
    region_id: int | str | None = None
    category_id: int | str | None = None
    kind: ReportKind | None = None
    mine: bool = False
    overdue: bool | None = None
    updated_after: datetime | None = None
    search: str | None = None
    # Any of these categories (Open311's service_code list).
    category_ids: Sequence[int] | None = None
    # Submitted in [created_from, created_before).
    created_from: datetime | None = None
    created_before: datetime | None = None


def _views(
    actor: Actor, reports: Sequence[Report | ReportRow], facts: dict[int, ReportFacts]
) -> list[ReportView | None]:
    """Each report as the actor may see it; None where it may not read it."""
    views: list[ReportView | None] = []
    for r in reports:
        seen = reading(actor, facts[r.id])
        views.append(None if seen is None else view_as_read(r, seen))
    return views


async def readable_report(actor: Actor, report_id: int) -> ReportView:
    """The report as the actor may see it; NOT_FOUND when it is absent or unreadable alike."""
    found = await reports_by_ids(actor, [report_id])
    if report_id not in found:
        raise not_found("report", "reportId")
    return found[report_id]


async def reports_by_ids(
    actor: Actor, ids: Sequence[int], shared: SharedRows | None = None
) -> dict[int, ReportView]:
    """Readable reports among `ids`, as masked views (two queries, or none with `shared` rows)."""
    wanted = sorted(set(ids))
    reports, facts = await shared_rows(shared, ("reports", *wanted), lambda: report_rows(wanted))
    return {v.id: v for v in _views(actor, reports, facts) if v is not None}


async def report_records(
    actor: Actor, ids: Sequence[int], shared: SharedRows | None = None
) -> dict[int, ReportView]:
    """The record an agency desk keeps of reports among `ids` that it let go and no longer
    reads (`record_view`); reports it reads, or never held, are not among them."""
    wanted = sorted(set(ids))
    reports, facts = await shared_rows(shared, ("reports", *wanted), lambda: report_rows(wanted))
    return {
        r.id: record_view(actor, r, facts[r.id])
        for r in reports
        if not allowed_on_report(actor, Action.READ, facts[r.id])
        and any(keeps_record(actor, agency) for agency in facts[r.id].former_agency_ids)
    }


def readable_in(
    actor: Actor, found: Sequence[tuple[ReportRow, tuple[Any, ...]]]
) -> dict[int, ReportView]:
    """Readable reports among rows read with `report_and_facts`, as masked views."""
    views: dict[int, ReportView] = {}
    for report, (agencies, statuses) in found:
        seen = reading(actor, facts_of(report, agencies, statuses))
        if seen is not None:
            views[report.id] = view_as_read(report, seen)
    return views


async def committed_view(
    actor: Actor, report: Report, facts: ReportFacts | None
) -> ReportView | None:
    """A report a use case just committed, as the actor may see it now: made from the row in
    hand when the use case gave its `facts`, else read back; None when no longer readable."""
    if facts is None:
        return (await reports_by_ids(actor, [report.id])).get(report.id)
    return _views(actor, [report], {report.id: facts})[0]


async def list_reports(
    actor: Actor,
    now: datetime,
    query: ReportQuery,
    page: PageRequest,
) -> Page[ReportView]:
    """Readable reports, filtered, newest first: keyset on id so inserts do not shift pages.
    A search term (not a tracking code) ranks them instead, best match first: keyset on
    (rank, id), a rank being a function of the report and the term alone."""
    qs = Report.all()
    visible = readable_reports_q(actor)
    if visible is not None:
        qs = qs.filter(visible)
    if query.statuses:
        qs = qs.filter(status__in=[s.value for s in query.statuses])
    if query.region_id is not None:
        qs = qs.filter(region_id=parse_id(query.region_id, "regionId"))
    if query.category_id is not None:
        qs = qs.filter(category_id=parse_id(query.category_id, "categoryId"))
    if query.category_ids is not None:
        qs = qs.filter(category_id__in=list(query.category_ids))
    if query.created_from is not None:
        qs = qs.filter(created_at__gte=query.created_from)
    if query.created_before is not None:
        qs = qs.filter(created_at__lt=query.created_before)
    if query.kind is not None:
        qs = qs.filter(kind=query.kind.value)
    if query.mine:
        require_signed_in(actor)
        qs = qs.filter(reporter_id=actor.user_id)
    late = overdue_filter(query.overdue, now)
    if late is not None:
        qs = qs.filter(late)
    if query.updated_after is not None:
        qs = qs.filter(updated_at__gt=query.updated_after)
    page_rows = await _page_rows(qs, (query.search or "").strip()[:SEARCH_MAX_LENGTH], page)
    readable = readable_in(actor, page_rows.items)
    return page_rows.with_items([readable[r.id] for r, _ in page_rows.items if r.id in readable])


async def _page_rows(
    qs: QuerySet[Report], term: str, page: PageRequest
) -> Page[tuple[ReportRow, tuple[Any, ...]]]:
    """The page's rows with their policy facts, in one statement: newest first; with a search
    term, the report of that tracking code, else ranked by the words."""
    code = normalize_tracking_code(term) if term else None
    shape = rows.REPORT.as_shown()
    if code and page.after_rank is None:
        found = await newest_rows_first_with(
            shape, qs.filter(tracking_code=code), page, ASSIGNED_AGENCIES, alias="r"
        )
        # Eight letters may be a word ("kerusakn") as much as a code: when no report the
        # viewer reads has the code, they are words (one answer whether it exists or not).
        if found.items:
            return found
    if term:
        return await search.ranked_page(qs, term, page, ASSIGNED_AGENCIES)
    return await newest_rows_first_with(shape, qs, page, ASSIGNED_AGENCIES, alias="r")


async def ratings_of_reports(ids: Sequence[int]) -> list[int | None]:
    found = await rows.pairs(
        "SELECT report_id, score FROM rating WHERE report_id = ANY($1::bigint[])", list(set(ids))
    )
    scores = dict(found)
    return [scores.get(i) for i in ids]


def readable_reports_q(actor: Actor) -> Q | None:
    """The SQL twin of READ: a filter on Report, or None when every report is readable."""
    if actor.system:
        return None
    q = Q(confidential=False, status__in=[s.value for s in PUBLIC_REPORT])
    if actor.user_id is not None:
        q |= Q(reporter_id=actor.user_id)
    if actor.coordinator_regions:
        q |= Q(region_id__in=sorted(actor.coordinator_regions))
    if actor.agencies:
        # Current involvement (policy.involvement): an assignment the agency has not let go.
        assigned = (
            Assignment.filter(agency_id__in=sorted(actor.agencies))
            .exclude(status__in=[s.value for s in LET_GO])
            .values("report_id")
        )
        q |= Q(id__in=Subquery(assigned))
    if actor.is_ombudsman:
        q |= Q(escalated_at__isnull=False)
    return q


# Similar reports (issue 15, docs/adr/0028): how many, and how far back they are looked for.
SIMILAR_DEFAULT = 5
SIMILAR_MAX = search.CANDIDATES
# A citizen is shown public reports of the last year; the desk, reports still open and any
# of the last 90 days (a closed one may say the problem was already dealt with).
PUBLIC_SIMILAR_WINDOW = timedelta(days=365)
DESK_SIMILAR_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class SimilarQuery:
    """What a citizen is about to send, to find public reports like it first."""

    title: str
    body: str | None
    region_id: int | str
    latitude: float | None = None
    longitude: float | None = None
    first: int | None = None


@dataclass(frozen=True)
class Similar:
    """A report like another, as the viewer may see it, and why it is alike."""

    report: ReportView
    likeness: Likeness


async def similar_public_reports(actor: Actor, now: datetime, query: SimilarQuery) -> list[Similar]:
    """Public reports of the region (of the last year) most like what a citizen is about to
    send, best first, each as the viewer may see it: never a report the public may not read."""
    require_aware(now)
    size = page_size(query.first, SIMILAR_DEFAULT, SIMILAR_MAX)
    s = get_settings()
    title = required_text(query.title, "title", max_length=s.title_max_length)
    body = optional_text(query.body, "body", max_length=s.body_max_length) or ""
    _check_place(query.latitude, query.longitude)
    region = await _report_region(query.region_id)
    public = readable_reports_q(PUBLIC)
    assert public is not None
    qs = Report.filter(public, region_id=region.id, created_at__gte=now - PUBLIC_SIMILAR_WINDOW)
    found = await search.alike(qs, title, body, ASSIGNED_AGENCIES)
    return _most_alike(actor, found, Probe(query.latitude, query.longitude, None, now), size)


async def similar_reports(
    actor: Actor, now: datetime, report: ReportView, first: int | None
) -> list[Similar]:
    """Reports of the same region, open or of the last 90 days, most like `report` (the
    viewer's view of it), best first, among those the viewer reads: for its desk staff
    (READ_INTERNAL) only, empty for anyone else."""
    require_aware(now)
    size = page_size(first, SIMILAR_DEFAULT, SIMILAR_MAX)
    if not report.staff_view:
        return []
    qs = Report.filter(region_id=report.region_id).exclude(id=report.id)
    qs = qs.filter(
        Q(created_at__gte=now - DESK_SIMILAR_WINDOW)
        | ~Q(status__in=[st.value for st in FINAL_REPORT])
    )
    visible = readable_reports_q(actor)
    if visible is not None:
        qs = qs.filter(visible)
    found = await search.alike(qs, report.title, report.body, ASSIGNED_AGENCIES)
    probe = Probe(report.latitude, report.longitude, report.category_id, report.created_at)
    return _most_alike(actor, found, probe, size)


def _most_alike(
    actor: Actor,
    found: Sequence[tuple[ReportRow, tuple[Any, ...], float, tuple[str, ...]]],
    probe: Probe,
    size: int,
) -> list[Similar]:
    """The `size` best of candidates read with their text part, scored on what the viewer
    sees of each (an anonymous report's place is not used where it is hidden)."""
    views = readable_in(actor, [(row, more) for row, more, _, _ in found])
    alike = [
        Similar(
            view,
            likeness(
                probe, text, words, view.latitude, view.longitude, view.category_id, view.created_at
            ),
        )
        for row, _, text, words in found
        if (view := views.get(row.id)) is not None
    ]
    alike.sort(key=lambda s: (-s.likeness.score, -s.report.id))
    return alike[:size]
