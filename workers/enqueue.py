"""Typed enqueue helpers: what the API (and the sweep) calls after a commit to wake the workers."""

from __future__ import annotations

import json
import logging

from arq.connections import ArqRedis

from domain.services import outbox
from workers.channels import EVENTS_CHANNEL

log = logging.getLogger("lapor.enqueue")

RELAY_OUTBOX_MESSAGE = "relay_outbox_message"
DELIVER_NOTIFICATION = "deliver_notification"


def outbox_job_id(outbox_id: int) -> str:
    """Deterministic: enqueuing the same outbox row twice runs it once."""
    return f"outbox:{outbox_id}"


def deliver_job_id(notification_id: int, round_: int, attempts: int) -> str:
    """One job per try of a delivery: a lost job can be enqueued again without doubling it."""
    return f"deliver:{notification_id}:{round_}:{attempts}"


class ArqOutboxDispatcher:
    """After a commit: publishes the committed events live, in order, then enqueues one job per
    outbox row. Redis being down is not an error here: the periodic relay drains whatever was
    not enqueued, and live listeners catch up with `updatedAfter`."""

    def __init__(self, redis: ArqRedis | None) -> None:
        self.redis = redis

    async def dispatch(self, outbox_ids: list[int]) -> None:
        if self.redis is None or not outbox_ids:
            return
        try:
            for topic, payload in await outbox.messages(outbox_ids):
                await self.redis.publish(EVENTS_CHANNEL, json.dumps({"topic": topic, **payload}))
            for outbox_id in outbox_ids:
                await self.redis.enqueue_job(
                    RELAY_OUTBOX_MESSAGE, outbox_id, _job_id=outbox_job_id(outbox_id)
                )
        except Exception as exc:  # any Redis failure: leave it to the relay
            log.warning("outbox %s not dispatched (%s); the relay will pick it up", outbox_ids, exc)

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
