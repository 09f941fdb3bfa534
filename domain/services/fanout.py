"""Fan-out: one committed event becomes one notification per (event, recipient, channel)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from domain.fanout import AGENCY_AUDIENCES, Audience, audiences_for, user_channels
from domain.lifecycle import OPEN_ASSIGNMENT
from domain.messages import MessageFacts, render
from domain.policy import Action, allowed_on_report
from domain.services import outbox
from domain.services.accounts import users_with_actors
from domain.services.common import EVENT_TOPIC, region_lineage, report_facts
from models import (
    Agency,
    Assignment,
    Notification,
    OutboxMessage,
    Region,
    Report,
    ReportEvent,
    RoleGrant,
    Support,
    User,
)
from models.enums import Channel, DeliveryStatus, Role

INSERT_BATCH = 500
# The role that makes someone part of an agency audience.
AGENCY_ROLE = {
    Audience.OFFICERS: Role.OFFICER,
    Audience.ASSIGNED_OFFICERS: Role.OFFICER,
    Audience.HEADS: Role.AGENCY_HEAD,
    Audience.ASSIGNED_HEADS: Role.AGENCY_HEAD,
}


@dataclass
class FanOut:
    """What one fan-out stored: in-app notifications to push live, deliveries to enqueue."""

    event_id: int | None = None
    in_app: list[tuple[int, int]] = field(default_factory=list)  # (notification id, user id)
    deliveries: list[tuple[int, int]] = field(default_factory=list)  # (notification id, round)
    request_id: str | None = None  # of the request whose change this event records


async def fan_out(outbox_id: int, now: datetime, *, email_enabled: bool) -> FanOut | None:
    """Write the notifications of one committed outbox row and mark the row relayed, in one
    transaction; None when it was relayed already (or another worker holds it)."""

    async def handle(row: OutboxMessage) -> FanOut:
        if row.topic != EVENT_TOPIC or row.event_id is None:
            return FanOut()
        done = await notify_event(row.event_id, now, email_enabled=email_enabled)
        done.request_id = row.payload.get("request_id")
        return done

    return await outbox.relay(outbox_id, now, handle)


async def notify_event(event_id: int, now: datetime, *, email_enabled: bool) -> FanOut:
    """Store the notifications of one event (idempotent: rows that exist are kept) and return
    all of them. Call inside the transaction that marks the event's outbox row relayed."""
    event = await ReportEvent.get_or_none(id=event_id)
    if event is None:
        return FanOut(event_id)
    report = await Report.get(id=event.report_id)
    assignment = (
        await Assignment.get_or_none(id=event.assignment_id) if event.assignment_id else None
    )
    internal = event.visibility != "public"
    stage = event.data.get("stage") if isinstance(event.data, dict) else None
    audiences = audiences_for(event.kind, stage, internal)
    members = await _members(audiences, report, assignment)
    members.pop(event.actor_id or 0, None)  # nobody is told of what they did themselves
    people = await _allowed(members, report, Action.READ_INTERNAL if internal else Action.READ)
    facts = await message_facts(event, report, assignment)
    rows = [
        Notification(
            user_id=user.id,
            event_id=event.id,
            report_id=report.id,
            channel=channel,
            kind=event.kind,
            message=render(facts, user.locale),
            created_at=now,
            **_delivery_state(channel, now),
        )
        for user, audiences_of_user in people
        for channel in user_channels(
            frozenset(audiences_of_user), email_enabled and bool(user.email)
        )
    ]
    for agency in await _webhook_agencies(audiences, report, assignment):
        rows.append(
            Notification(
                agency_id=agency.id,
                event_id=event.id,
                report_id=report.id,
                channel=Channel.WEBHOOK,
                kind=event.kind,
                message=render(facts, None),
                created_at=now,
                **_delivery_state(Channel.WEBHOOK, now),
            )
        )
    if rows:
        await Notification.bulk_create(rows, batch_size=INSERT_BATCH, ignore_conflicts=True)
    return await stored_fan_out(event.id)


async def stored_fan_out(event_id: int) -> FanOut:
    """Every notification stored for an event, as the jobs that follow need them."""
    result = FanOut(event_id)
    stored = (
        await Notification.filter(event_id=event_id)
        .order_by("id")
        .values_list("id", "user_id", "channel", "round", "status")
    )
    for nid, user_id, channel, round_, status in stored:
        if channel == Channel.IN_APP:
            result.in_app.append((nid, user_id))
        elif status == DeliveryStatus.PENDING:
            result.deliveries.append((nid, round_))
    return result


def _delivery_state(channel: Channel, now: datetime) -> dict[str, object]:
    """In-app notifications are delivered by being stored; the others wait for their job."""
    if channel is Channel.IN_APP:
        return {"status": DeliveryStatus.SENT, "delivered_at": now}
    return {"status": DeliveryStatus.PENDING, "next_attempt_at": now}


async def _members(
    audiences: frozenset[Audience], report: Report, assignment: Assignment | None
) -> dict[int, set[Audience]]:
    """The people in each audience of an event, user id -> the audiences they are in."""
    found: dict[int, set[Audience]] = defaultdict(set)

    def add(audience: Audience, user_ids: list[int]) -> None:
        for uid in user_ids:
            found[uid].add(audience)

    for audience in sorted(audiences):
        if audience is Audience.REPORTER:
            add(audience, [report.reporter_id])
        elif audience is Audience.FOLLOWERS:
            add(audience, await _ids(Support.filter(report_id=report.id), "user_id"))
        elif audience is Audience.COORDINATORS:
            add(audience, await _granted(Role.COORDINATOR, region_ids=[report.region_id]))
        elif audience is Audience.UPPER_COORDINATORS:
            upper = [r.id for r in (await region_lineage(report.region_id))[1:]]
            add(audience, await _granted(Role.COORDINATOR, region_ids=upper))
        elif audience is Audience.OMBUDSMAN:
            add(audience, await _granted(Role.OMBUDSMAN))
        else:
            agencies = await _audience_agencies(audience, report, assignment)
            add(audience, await _granted(AGENCY_ROLE[audience], agency_ids=agencies))
    return found


async def _audience_agencies(
    audience: Audience, report: Report, assignment: Assignment | None
) -> list[int]:
    """The agencies an agency audience stands for: the event's one, or all still working on it."""
    if audience in (Audience.OFFICERS, Audience.HEADS):
        return [assignment.agency_id] if assignment else []
    return await _ids(
        Assignment.filter(report_id=report.id, status__in=[s.value for s in OPEN_ASSIGNMENT]),
        "agency_id",
    )


async def _webhook_agencies(
    audiences: frozenset[Audience], report: Report, assignment: Assignment | None
) -> list[Agency]:
    """The agencies told of an event by webhook: those an agency audience stands for, with a URL."""
    ids: set[int] = set()
    for audience in audiences & AGENCY_AUDIENCES:
        ids.update(await _audience_agencies(audience, report, assignment))
    if not ids:
        return []
    return list(
        await Agency.filter(id__in=sorted(ids), webhook_url__isnull=False).exclude(webhook_url="")
    )


async def _granted(
    role: Role, *, region_ids: list[int] | None = None, agency_ids: list[int] | None = None
) -> list[int]:
    """The users holding `role` (in one of the regions or agencies, when given)."""
    qs = RoleGrant.filter(role=role)
    if region_ids is not None:
        qs = qs.filter(region_id__in=region_ids)
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    return await _ids(qs, "user_id")


async def _ids(qs: object, column: str) -> list[int]:
    return list(await qs.values_list(column, flat=True))  # type: ignore[attr-defined]


async def _allowed(
    members: dict[int, set[Audience]], report: Report, need: Action
) -> list[tuple[User, set[Audience]]]:
    """Only active people the access policy lets read the report (or its staff side), in id
    order, each with the audiences they are in."""
    if not members:
        return []
    facts = await report_facts(report)
    found = await users_with_actors(list(members))
    return [
        (user, members[uid])
        for uid, (user, actor) in sorted(found.items())
        if allowed_on_report(actor, need, facts)
    ]


async def message_facts(
    event: ReportEvent, report: Report, assignment: Assignment | None
) -> MessageFacts:
    agency = await Agency.get_or_none(id=assignment.agency_id) if assignment else None
    region = await Region.get(id=report.region_id)
    due = event.data.get("due_at") if isinstance(event.data, dict) else None
    return MessageFacts(
        kind=event.kind,
        tracking_code=report.tracking_code,
        title=None if report.confidential else report.title,
        agency=agency.name if agency else None,
        stage=event.data.get("stage") if isinstance(event.data, dict) else None,
        due_at=datetime.fromisoformat(due) if isinstance(due, str) else None,
        timezone=region.timezone,
    )
