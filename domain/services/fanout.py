"""Fan-out: one committed event becomes one notification per (event, recipient, channel)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain.events import event_kind
from domain.fanout import AGENCY_AUDIENCES, Audience, audiences_for, user_channels
from domain.messages import MessageFacts, render
from domain.policy import Action, ReportFacts, allowed_on_report, involvement
from domain.services import outbox, reference
from domain.services.accounts import Person, people
from domain.services.common import EVENT_TOPIC
from domain.services.reference import region_lineage
from models import Agency
from models.bulk import (
    ClaimedOutbox,
    EventContext,
    NewNotification,
    insert_notifications,
    load_event,
)
from models.enums import Channel, DeliveryStatus, ReportStatus, Role

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
    outbox_id: int | None = None
    in_app: list[tuple[int, int]] = field(default_factory=list)  # (notification id, user id)
    deliveries: list[tuple[int, int]] = field(default_factory=list)  # (notification id, round)
    request_id: str | None = None  # of the request whose change this event records


async def fan_out(
    now: datetime,
    *,
    email_enabled: bool,
    outbox_id: int | None = None,
    skip: Sequence[int] = (),
) -> FanOut | None:
    """Write the notifications of one committed outbox row (`outbox_id`, or else the oldest
    pending one not in `skip`) and mark the row relayed, in one transaction; None when there is
    none to relay (done already, or held by another worker). A failure raises RelayFailed."""

    async def handle(row: ClaimedOutbox) -> FanOut:
        if row.topic != EVENT_TOPIC or row.event is None:
            return FanOut(outbox_id=row.id)
        done = await _notify(row.event, now, email_enabled=email_enabled)
        done.outbox_id = row.id
        done.request_id = row.payload.get("request_id")
        return done

    relayed = await outbox.relay(now, handle, outbox_id, skip)
    return relayed[1] if relayed is not None else None


async def notify_event(event_id: int, now: datetime, *, email_enabled: bool) -> FanOut:
    """Store the notifications of one event (idempotent: rows that exist are kept) and return
    all of them."""
    event = await load_event(event_id, outbox.OPEN_STATUSES)
    if event is None:
        return FanOut(event_id)
    return await _notify(event, now, email_enabled=email_enabled)


async def _notify(event: EventContext, now: datetime, *, email_enabled: bool) -> FanOut:
    """Store the notifications of one event and return all of them. Call inside the transaction
    that marks the event's outbox row relayed."""
    audiences = audiences_for(event_kind(event.kind), event.data.get("stage"), event.internal)
    members = await _members(audiences, event)
    members.pop(event.actor_id or 0, None)  # nobody is told of what they did themselves
    need = Action.READ_INTERNAL if event.internal else Action.READ
    recipients = await _allowed(members, _facts(event), need)
    facts = await message_facts(event.kind, event.data, event, event.assignment_agency_id)
    texts: dict[str | None, str] = {}

    def text(locale: str | None) -> str:
        if locale not in texts:
            texts[locale] = render(facts, locale)
        return texts[locale]

    def row(
        channel: Channel, message: str, *, user: int | None, agency: int | None
    ) -> NewNotification:
        pending = channel is not Channel.IN_APP
        return NewNotification(
            user_id=user,
            agency_id=agency,
            event_id=event.event_id,
            report_id=event.report_id,
            channel=channel,
            kind=event.kind,
            message=message,
            created_at=now,
            # In-app notifications are delivered by being stored; the others wait for a job.
            status=DeliveryStatus.PENDING if pending else DeliveryStatus.SENT,
            delivered_at=None if pending else now,
            next_attempt_at=now if pending else None,
        )

    rows = [
        row(channel, text(person.locale), user=person.id, agency=None)
        for person, audiences_of_person in recipients
        for channel in user_channels(
            frozenset(audiences_of_person), email_enabled and bool(person.email)
        )
    ]
    rows += [
        row(Channel.WEBHOOK, text(None), user=None, agency=agency.id)
        for agency in await _webhook_agencies(audiences, event)
    ]
    result = FanOut(event.event_id)
    for stored in await insert_notifications(event.event_id, rows) if rows else []:
        if stored.channel is Channel.IN_APP:
            assert stored.user_id is not None
            result.in_app.append((stored.id, stored.user_id))
        elif stored.status is DeliveryStatus.PENDING:
            result.deliveries.append((stored.id, stored.round))
    return result


def _facts(event: EventContext) -> ReportFacts:
    involved, former = involvement(
        [a for a, _ in event.assignments], [s for _, s in event.assignments]
    )
    return ReportFacts(
        region_id=event.region_id,
        reporter_id=event.reporter_id,
        anonymous=event.anonymous,
        confidential=event.confidential,
        status=ReportStatus(event.status),
        agency_ids=involved,
        handed_over=event.handed_over,
        former_agency_ids=former,
    )


async def _members(audiences: frozenset[Audience], event: EventContext) -> dict[int, set[Audience]]:
    """The people in each audience of an event, user id -> the audiences they are in."""
    found: dict[int, set[Audience]] = defaultdict(set)

    def add(audience: Audience, user_ids: Iterable[int]) -> None:
        for uid in user_ids:
            found[uid].add(audience)

    for audience in sorted(audiences):
        if audience is Audience.REPORTER:
            add(audience, [event.reporter_id])
        elif audience is Audience.FOLLOWERS:
            add(audience, event.follower_ids)
        elif audience is Audience.COORDINATORS:
            add(audience, await reference.holders(Role.COORDINATOR, region_ids=[event.region_id]))
        elif audience is Audience.UPPER_COORDINATORS:
            upper = [r.id for r in (await region_lineage(event.region_id))[1:]]
            add(audience, await reference.holders(Role.COORDINATOR, region_ids=upper))
        elif audience is Audience.OMBUDSMAN:
            add(audience, await reference.holders(Role.OMBUDSMAN))
        else:
            agencies = _audience_agencies(audience, event)
            add(audience, await reference.holders(AGENCY_ROLE[audience], agency_ids=agencies))
    return found


def _audience_agencies(audience: Audience, event: EventContext) -> list[int]:
    """The agencies an agency audience stands for: the event's one, or all still working on it."""
    if audience in (Audience.OFFICERS, Audience.HEADS):
        return [event.assignment_agency_id] if event.assignment_agency_id is not None else []
    return sorted(event.open_agency_ids)


async def _webhook_agencies(audiences: frozenset[Audience], event: EventContext) -> list[Agency]:
    """The agencies told of an event by webhook: those an agency audience stands for, with a URL."""
    ids: set[int] = set()
    for audience in audiences & AGENCY_AUDIENCES:
        ids.update(_audience_agencies(audience, event))
    found = await reference.agencies(sorted(ids))
    return [found[i] for i in sorted(found) if found[i].webhook_url]


async def _allowed(
    members: dict[int, set[Audience]], facts: ReportFacts, need: Action
) -> list[tuple[Person, set[Audience]]]:
    """Only active people the access policy lets read the report (or its staff side), in id
    order, each with the audiences they are in."""
    if not members:
        return []
    found = await people(members)
    return [
        (person, members[uid])
        for uid, person in sorted(found.items())
        if person.active and allowed_on_report(person.actor, need, facts)
    ]


class _AboutReport(Protocol):
    @property
    def tracking_code(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def confidential(self) -> bool: ...
    @property
    def region_id(self) -> int: ...


async def message_facts(
    kind: str, data: dict[str, Any], report: _AboutReport, agency_id: int | None
) -> MessageFacts:
    """What a message about an event may say (domain/messages.py)."""
    agency = await reference.agency(agency_id) if agency_id is not None else None
    region = await reference.region(report.region_id)
    assert region is not None
    due = data.get("due_at")
    stage = data.get("stage")
    return MessageFacts(
        kind=kind,
        tracking_code=report.tracking_code,
        title=None if report.confidential else report.title,
        agency=agency.name if agency else None,
        stage=stage if isinstance(stage, str) else None,
        due_at=datetime.fromisoformat(due) if isinstance(due, str) else None,
        timezone=region.timezone,
    )
