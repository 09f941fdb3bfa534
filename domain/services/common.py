"""What every writing use case shares: locking, calendars, events with their outbox rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.exceptions import DoesNotExist

from core.bounds import text_problem
from core.requestctx import request_id
from domain.actor import Actor
from domain.errors import DomainError, ErrorCode, invalid, not_found
from domain.events import EventKind
from domain.policy import Action, ReportFacts, allowed_on_report, involvement, require_signed_in
from domain.services.outbox import OutboxEntry
from models import Assignment, OutboxMessage, Report, ReportEvent, rows
from models.rows import ReportRow

EVENT_TOPIC = "report.event"


@dataclass
class Outcome:
    """What a writing use case changed, and the outbox rows to dispatch after commit."""

    report: Report
    assignment: Assignment | None = None
    outbox: list[OutboxEntry] = field(default_factory=list)
    # The policy's facts of `report` as committed, when the use case knows them without a read
    # (a new report): its view is then made without reading the report back.
    facts: ReportFacts | None = None
    # Images the change stored, whose thumbnails the workers make after commit.
    images: list[int] = field(default_factory=list)

    @property
    def outbox_ids(self) -> list[int]:
        return [entry.id for entry in self.outbox]


def require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the domain takes an aware `now`")


async def lock_report(report_id: int, field_name: str = "reportId") -> Report:
    """The report row, locked until the transaction ends (FOR UPDATE on PostgreSQL)."""
    try:
        return await Report.filter(id=report_id).select_for_update().get()
    except DoesNotExist:
        raise not_found("report", field_name) from None


async def lock_report_for(actor: Actor, report_id: int, action: Action, refusal: str) -> Report:
    """Lock the report; UNAUTHENTICATED for the public, NOT_FOUND unless the actor may read it,
    FORBIDDEN unless it may act."""
    require_signed_in(actor)
    report = await lock_report(report_id)
    facts = await report_facts(report)
    require_readable(actor, facts)
    if not allowed_on_report(actor, action, facts):
        raise DomainError(ErrorCode.FORBIDDEN, refusal)
    return report


async def lock_assignment(assignment_id: int, field_name: str = "assignmentId") -> Assignment:
    try:
        return await Assignment.filter(id=assignment_id).select_for_update().get()
    except DoesNotExist:
        raise not_found("assignment", field_name) from None


async def report_facts(report: Report) -> ReportFacts:
    """The policy's view of a report, with the agencies involved in it now and before."""
    return (await facts_for([report]))[report.id]


# The agencies a report was assigned to and where each assignment stands, two arrays in the
# same order, as SQL over a report aliased `r`: what `facts_of` makes the policy's facts of
# (who is involved now, who let the report go), the one definition every statement uses.
ASSIGNED_AGENCIES = (
    "ARRAY(SELECT a.agency_id FROM assignment a WHERE a.report_id = r.id ORDER BY a.id), "
    "ARRAY(SELECT a.status FROM assignment a WHERE a.report_id = r.id ORDER BY a.id)"
)
# The columns ASSIGNED_AGENCIES adds after a report's own.
FACT_COLUMNS = 2


def report_and_facts(shape: rows.Shape) -> str:
    """A report's columns as `shape` reads them (as `r`) and its policy facts: what its views
    are made from. Other reads select them with their own rows (a desk's inbox) and make the
    views with `reports.readable_in`."""
    return f"{shape.columns_of('r')}, {ASSIGNED_AGENCIES}"


async def report_rows(ids: Sequence[int]) -> tuple[list[ReportRow], dict[int, ReportFacts]]:
    """The reports among `ids` and their policy facts, in one statement (as the running
    operation shows them, `Shape.as_shown`)."""
    shape = rows.REPORT.as_shown()
    found = await rows.select_with(
        shape,
        f"SELECT {report_and_facts(shape)} FROM report r WHERE r.id = ANY($1::bigint[])",
        list(ids),
    )
    return with_facts(found)


def with_facts(
    found: Sequence[tuple[ReportRow, tuple[Any, ...]]],
) -> tuple[list[ReportRow], dict[int, ReportFacts]]:
    """Rows read with `report_and_facts`, and the policy's facts of each."""
    return [report for report, _ in found], {
        report.id: facts_of(report, agencies, statuses) for report, (agencies, statuses) in found
    }


async def facts_for(reports: Sequence[Report | ReportRow]) -> dict[int, ReportFacts]:
    """The policy's view of many reports, in one query."""
    found: dict[int, tuple[Sequence[int], Sequence[str]]] = {}
    if reports:
        read = await rows.pairs(
            f"SELECT r.id, {ASSIGNED_AGENCIES} FROM report r WHERE r.id = ANY($1::bigint[])",
            [r.id for r in reports],
        )
        found = {rid: (agencies, statuses) for rid, agencies, statuses in read}
    return {r.id: facts_of(r, *found.get(r.id, ((), ()))) for r in reports}


def facts_of(
    report: Report | ReportRow, agencies: Sequence[int] = (), statuses: Sequence[str] = ()
) -> ReportFacts:
    """The policy's view of a report whose assignments went to `agencies` and stand at
    `statuses` (the two arrays of ASSIGNED_AGENCIES, in the same order)."""
    involved, former = involvement(agencies, statuses)
    # By position, in ReportFacts' order, made as the views are (domain/services/views.py:
    # NamedTuple's own __new__ is a Python call, made for every report a page reads);
    # tests/domain/test_views.py checks every field by name.
    return _made(
        ReportFacts,
        (
            report.region_id,
            report.reporter_id,
            report.anonymous,
            report.confidential,
            report.status,
            involved,
            report.escalated_at is not None,
            former,
        ),
    )


_made = tuple.__new__


async def record_event(
    report: Report,
    kind: EventKind,
    actor: Actor,
    now: datetime,
    *,
    message: str | None = None,
    assignment: Assignment | None = None,
    internal: bool = False,
    data: dict[str, Any] | None = None,
) -> tuple[ReportEvent, OutboxEntry]:
    """Append a timeline line and its outbox row; returns the event and the outbox entry."""
    event = await ReportEvent.create(
        report_id=report.id,
        assignment_id=assignment.id if assignment else None,
        kind=kind,
        message=message,
        actor_id=actor.user_id,
        visibility="internal" if internal else "public",
        data=data or {},
        at=now,
    )
    payload = {
        "event_id": event.id,
        "report_id": report.id,
        "assignment_id": assignment.id if assignment else None,
        "agency_id": assignment.agency_id if assignment else None,
        "kind": kind,
        "request_id": request_id.get(),
    }
    row = await OutboxMessage.create(
        topic=EVENT_TOPIC, event_id=event.id, payload=payload, created_at=now
    )
    return event, OutboxEntry(row.id, EVENT_TOPIC, payload)


def required_text(value: str | None, field_name: str, *, max_length: int) -> str:
    """Trimmed, non-empty text within bounds, or a VALIDATION error naming the field."""
    text = optional_text(value, field_name, max_length=max_length)
    if text is None:
        raise invalid(field_name, "must not be empty")
    return text


def optional_text(value: str | None, field_name: str, *, max_length: int) -> str | None:
    """Trimmed text within bounds (None when blank), or a VALIDATION error naming the field."""
    if value is None:
        return None
    text = value.strip()
    problem = text_problem(text, max_length)
    if problem is not None:
        raise invalid(field_name, problem)
    return text or None


def require_readable(actor: Actor, facts: ReportFacts) -> None:
    """NOT_FOUND unless the actor may read the report: never reveal that it exists."""
    if not allowed_on_report(actor, Action.READ, facts):
        raise not_found("report", "reportId")
