"""Typed enqueue helpers: what the API calls after a commit to wake the workers."""

from __future__ import annotations

import logging

from arq.connections import ArqRedis

log = logging.getLogger("lapor.enqueue")

RELAY_OUTBOX_MESSAGE = "relay_outbox_message"


def outbox_job_id(outbox_id: int) -> str:
    """Deterministic: enqueuing the same outbox row twice runs it once."""
    return f"outbox:{outbox_id}"


class ArqOutboxDispatcher:
    """Enqueues one job per committed outbox row; Redis being down is not an error here,
    because the periodic relay drains whatever was not enqueued."""

    def __init__(self, redis: ArqRedis | None) -> None:
        self.redis = redis

    async def dispatch(self, outbox_ids: list[int]) -> None:
        if self.redis is None:
            return
        for outbox_id in outbox_ids:
            try:
                await self.redis.enqueue_job(
                    RELAY_OUTBOX_MESSAGE, outbox_id, _job_id=outbox_job_id(outbox_id)
                )
            except Exception as exc:  # any Redis failure: leave it to the relay
                log.warning(
                    "outbox %s not enqueued (%s); the relay will pick it up", outbox_id, exc
                )
                return
