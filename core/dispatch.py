"""What the API, the sweep and the workers do with Redis after a commit: publish the committed
events (which the live inboxes push and the workers' outbox relays wake on), and enqueue the
deliveries of e-mails and webhooks."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from arq.connections import ArqRedis

from core.channels import (
    EVENTS_CHANNEL,
    NOTIFICATIONS_CHANNEL,
    EventMessage,
    NotificationsMessage,
)

log = logging.getLogger("lapor.enqueue")


class Committed(Protocol):
    """An outbox row that was committed (domain.services.outbox.OutboxEntry)."""

    @property
    def id(self) -> int: ...

    @property
    def payload(self) -> Mapping[str, Any]: ...


DELIVER_NOTIFICATION = "deliver_notification"
MAKE_THUMBNAIL = "make_thumbnail"


def deliver_job_id(notification_id: int, round_: int, attempts: int) -> str:
    """One job per try of a delivery: a lost job can be enqueued again without doubling it."""
    return f"deliver:{notification_id}:{round_}:{attempts}"


class ArqOutboxDispatcher:
    """After a commit: publishes the committed events, in order, in one round trip. Redis being
    down is not an error here: the outbox keeps the work (the relays find it by polling), and
    live listeners catch up with `updatedAfter`."""

    def __init__(self, redis: ArqRedis | None) -> None:
        self.redis = redis

    async def dispatch(self, entries: Sequence[Committed]) -> None:
        if self.redis is None or not entries:
            return
        messages = [EventMessage.of(entry.payload) for entry in entries]
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for message in messages:
                    if message is not None:
                        pipe.publish(EVENTS_CHANNEL, message.encode())
                await pipe.execute()
        except Exception as exc:  # any Redis failure: the relays poll the outbox anyway
            ids = [entry.id for entry in entries]
            log.warning("outbox %s not published (%s); the relays will find it", ids, exc)

    async def notify(self, in_app: Sequence[tuple[int, int]]) -> None:
        """Push stored in-app notifications, as (notification id, user id), to live listeners."""
        if self.redis is None or not in_app:
            return
        try:
            await self.redis.publish(
                NOTIFICATIONS_CHANNEL, NotificationsMessage(tuple(in_app)).encode()
            )
        except Exception as exc:
            log.warning("notifications not pushed live (%s); clients catch up", exc)

    async def deliver(self, deliveries: list[tuple[int, int]]) -> None:
        """Enqueue fresh rounds of deliveries, as (id, round); the safety net covers failures."""
        if self.redis is None:
            return
        try:
            for nid, round_ in deliveries:
                await self.redis.enqueue_job(
                    DELIVER_NOTIFICATION, nid, _job_id=deliver_job_id(nid, round_, 0)
                )
        except Exception as exc:
            log.warning("deliveries %s not enqueued (%s); the safety net will", deliveries, exc)

    async def thumbnails(self, attachment_ids: Sequence[int]) -> None:
        """Enqueue the thumbnails of new images, one job per file; the workers' sweep of missing
        thumbnails makes any whose job was lost."""
        if self.redis is None or not attachment_ids:
            return
        try:
            for aid in attachment_ids:
                await self.redis.enqueue_job(MAKE_THUMBNAIL, aid, _job_id=f"thumbnail:{aid}")
        except Exception as exc:
            log.warning("thumbnails %s not enqueued (%s); the sweep will", attachment_ids, exc)
