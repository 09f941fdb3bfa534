"""Deliveries of e-mail and webhook notifications: attempts, backoff, dead letters, retries.

The domain decides what is sent (the words, the webhook body, what privacy allows) and keeps
the books; the workers own the transports (SMTP, HTTP) and pass them in as `send`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from core.settings import Settings
from domain.actor import Actor
from domain.errors import DomainError, ErrorCode
from domain.ids import parse_id
from domain.messages import Email, email_for, notice_email
from domain.policy import Action, allowed_on_report, require_signed_in
from domain.services import reference
from domain.services.common import facts_for, require_aware
from domain.services.fanout import message_facts
from domain.services.reading import Page, PageRequest, newest_first
from models import Agency, Assignment, Notification, Report, ReportEvent, User
from models.enums import Channel, DeliveryStatus

ERROR_MAX_LENGTH = 1000


class DeliveryFailed(Exception):
    """A transport could not deliver (refused, timed out, answered with an error)."""


@dataclass(frozen=True)
class Webhook:
    """A signed JSON POST to an agency's own system; `delivery_id` is its idempotency key."""

    url: str
    secret: str
    body: bytes
    delivery_id: int
    event_kind: str


Outgoing = Email | Webhook
Send = Callable[[Outgoing], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a delivery is tried: exponential backoff with jitter."""

    max_attempts: int = 8
    base_seconds: float = 5.0
    max_seconds: float = 3600.0

    @classmethod
    def from_settings(cls, s: Settings) -> RetryPolicy:
        return cls(s.delivery_max_attempts, s.delivery_backoff_seconds, s.delivery_backoff_max)

    def delay(self, attempt: int, draw: float) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based): base * 2^(n-1),
        capped, then scaled by a jitter in [0.5, 1) so that failing deliveries spread out."""
        backoff = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1))
        return backoff * (0.5 + draw / 2)


@dataclass(frozen=True)
class Attempt:
    """The state of a delivery after an attempt (or after finding it not yet due)."""

    notification_id: int
    round: int
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    error: str | None = None


async def attempt_delivery(
    notification_id: int,
    now: datetime,
    send: Send,
    policy: RetryPolicy,
    draw: Callable[[], float] = random.random,
) -> Attempt | None:
    """Try one pending delivery if it is due, and record the outcome; None when there is
    nothing to do (delivered, dead, or another worker is sending it right now).

    The row stays locked while sending, so two workers never send it at once; a crash after
    sending and before commit sends it again (at least once; receivers dedupe by delivery id)."""
    require_aware(now)
    async with in_transaction():
        row = (
            await Notification.filter(id=notification_id, status=DeliveryStatus.PENDING)
            .select_for_update(skip_locked=True)
            .first()
        )
        if row is None:
            return None
        if row.next_attempt_at is not None and row.next_attempt_at > now:
            return Attempt(row.id, row.round, row.status, row.attempts, row.next_attempt_at)
        row.attempts += 1
        row.last_attempt_at = now
        error: str | None = None
        try:
            await send(await outgoing_for(row))
        except DeliveryFailed as exc:
            error = (str(exc) or type(exc).__name__)[:ERROR_MAX_LENGTH]
        if error is None:
            row.status, row.delivered_at, row.next_attempt_at = DeliveryStatus.SENT, now, None
        elif row.attempts >= policy.max_attempts:
            row.status, row.next_attempt_at = DeliveryStatus.DEAD, None
        else:
            row.next_attempt_at = now + timedelta(seconds=policy.delay(row.attempts, draw()))
        row.last_error = error if error is not None else row.last_error
        await row.save(
            update_fields=[
                "attempts",
                "last_attempt_at",
                "status",
                "delivered_at",
                "next_attempt_at",
                "last_error",
            ]
        )
        return Attempt(row.id, row.round, row.status, row.attempts, row.next_attempt_at, error)


async def outgoing_for(row: Notification) -> Outgoing:
    """What to send for a stored delivery; DeliveryFailed when its recipient lost its address."""
    if row.event_id is None and row.report_id is None and row.channel == Channel.EMAIL:
        # A notice about the recipient's own account (accounts.register): its words are stored.
        owner = await _mailbox(row)
        return notice_email(row.message, owner.locale, owner.email)
    event = await ReportEvent.get(id=row.event_id) if row.event_id else None
    report = await Report.get(id=row.report_id) if row.report_id else None
    if event is None or report is None:
        raise DeliveryFailed("the event of this delivery no longer exists")
    assignment = (
        await Assignment.get_or_none(id=event.assignment_id) if event.assignment_id else None
    )
    if row.channel == Channel.EMAIL:
        user = await _mailbox(row)
        facts = await message_facts(
            event.kind, event.data, report, assignment.agency_id if assignment else None
        )
        return email_for(facts, user.locale, user.email)
    agency = await Agency.get_or_none(id=row.agency_id)
    if agency is None or not agency.webhook_url or not agency.webhook_secret:
        raise DeliveryFailed("the agency has no webhook URL and secret")
    body = await webhook_body(row, event, report, assignment)
    return Webhook(agency.webhook_url, agency.webhook_secret, body, row.id, event.kind)


async def _mailbox(row: Notification) -> User:
    """The active user an e-mail delivery goes to; DeliveryFailed when there is none."""
    user = await User.get_or_none(id=row.user_id, is_active=True)
    if user is None or not user.email:
        raise DeliveryFailed("the recipient has no active e-mail address")
    return user


async def webhook_body(
    row: Notification, event: ReportEvent, report: Report, assignment: Assignment | None
) -> bytes:
    """The JSON an agency receives: what its desk may see, never the reporter's identity and
    never a confidential report's content."""
    region = await reference.region(report.region_id)
    assert region is not None
    agency = await reference.agency(assignment.agency_id) if assignment else None
    doc = {
        "delivery_id": row.id,
        "event_id": event.id,
        "kind": event.kind,
        "occurred_at": event.at.isoformat(),
        "message": row.message,
        "report": {
            "tracking_code": report.tracking_code,
            "kind": report.kind.value,
            "status": report.status.value,
            "title": None if report.confidential else report.title,
            "confidential": report.confidential,
            "region": region.code,
            "due_at": report.due_at.isoformat() if report.due_at else None,
        },
        "assignment": None
        if assignment is None
        else {
            "id": assignment.id,
            "agency": agency.code if agency else None,
            "status": assignment.status.value,
            "due_at": assignment.due_at.isoformat() if assignment.due_at else None,
        },
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


async def due_ids(before: datetime, limit: int = 500) -> list[tuple[int, int, int]]:
    """Pending deliveries due before `before`, oldest first, as (id, round, attempts): the
    safety net re-enqueues them when their own job was lost (Redis restarted empty)."""
    rows = (
        await Notification.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=before)
        .order_by("next_attempt_at")
        .limit(limit)
        .values_list("id", "round", "attempts")
    )
    return [(nid, round_, attempts) for nid, round_, attempts in rows]


def _require_admin(actor: Actor) -> None:
    require_signed_in(actor)
    if not actor.is_superadmin:
        raise DomainError(ErrorCode.FORBIDDEN, "only a superadmin handles dead deliveries")


@dataclass(frozen=True)
class DeliveryView:
    """A delivery as an admin sees it, with its recipient's address spelled out."""

    id: int
    channel: Channel
    status: DeliveryStatus
    kind: str
    recipient: str
    attempts: int
    last_error: str | None
    last_attempt_at: datetime | None
    created_at: datetime
    report_id: int | None


# What a delivery to a reporter the viewer may not know shows instead of the address.
WITHHELD_RECIPIENT = "(the reporter, withheld)"


async def _views(actor: Actor, rows: Sequence[Notification]) -> list[DeliveryView]:
    emails = dict(
        await User.filter(id__in=[r.user_id for r in rows if r.user_id]).values_list("id", "email")
    )
    urls = dict(
        await Agency.filter(id__in=[r.agency_id for r in rows if r.agency_id]).values_list(
            "id", "webhook_url"
        )
    )
    hidden = await _hidden_reporters(actor, rows)

    def view(r: Notification) -> DeliveryView:
        recipient = str(
            emails.get(r.user_id) if r.user_id else urls.get(r.agency_id) or "(no address)"
        )
        error = r.last_error
        if r.id in hidden:  # the address, wherever it is written
            error = error.replace(recipient, WITHHELD_RECIPIENT) if error else error
            recipient = WITHHELD_RECIPIENT
        return DeliveryView(
            id=r.id,
            channel=r.channel,
            status=r.status,
            kind=r.kind,
            recipient=recipient,
            attempts=r.attempts,
            last_error=error,
            last_attempt_at=r.last_attempt_at,
            created_at=r.created_at,
            report_id=r.report_id,
        )

    return [view(r) for r in rows]


async def _hidden_reporters(actor: Actor, rows: Sequence[Notification]) -> set[int]:
    """The deliveries among `rows` to their report's reporter where `actor` may not see who
    reported it (an anonymous report, or one it may not read): their recipient is withheld."""
    report_ids = {r.report_id for r in rows if r.report_id is not None and r.user_id is not None}
    found = list(await Report.filter(id__in=sorted(report_ids))) if report_ids else []
    facts = await facts_for(found)
    reporters = {r.id: r.reporter_id for r in found}
    hidden = {
        rid for rid, f in facts.items() if not allowed_on_report(actor, Action.SEE_REPORTER, f)
    }
    return {r.id for r in rows if r.report_id in hidden and r.user_id == reporters[r.report_id]}


async def dead_deliveries(actor: Actor, page: PageRequest) -> Page[DeliveryView]:
    """Deliveries that ran out of attempts, newest first (superadmin only)."""
    _require_admin(actor)
    rows = await newest_first(_dead(), page)
    return rows.with_items(await _views(actor, rows.items))


def _dead() -> QuerySet[Notification]:
    """The deliveries `dead_deliveries` lists, and the only ones `delivery_by_id` opens."""
    return Notification.filter(status=DeliveryStatus.DEAD).exclude(channel=Channel.IN_APP)


async def delivery_by_id(actor: Actor, delivery_id: int) -> DeliveryView | None:
    """A dead delivery, as `dead_deliveries` lists it, for the superadmin only (None for anyone
    else, and for deliveries that are not dead)."""
    if not actor.is_superadmin:
        return None
    row = await _dead().filter(id=delivery_id).first()
    return (await _views(actor, [row]))[0] if row else None


async def retry_dead(
    actor: Actor, now: datetime, ids: Sequence[int | str]
) -> list[tuple[int, int]]:
    """Give dead deliveries a fresh round of attempts (superadmin only); returns the (id, round)
    of those revived, to enqueue after commit. Deliveries that are not dead are left alone."""
    _require_admin(actor)
    require_aware(now)
    wanted = [parse_id(i, "ids") for i in ids]
    revived: list[tuple[int, int]] = []
    async with in_transaction():
        rows = await Notification.filter(
            id__in=wanted, status=DeliveryStatus.DEAD
        ).select_for_update()
        for row in rows:
            row.status, row.attempts, row.next_attempt_at = DeliveryStatus.PENDING, 0, now
            row.round += 1
            await row.save(update_fields=["status", "attempts", "next_attempt_at", "round"])
            revived.append((row.id, row.round))
    return revived
