"""The outbox: side effects committed with their change, then relayed by the workers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from models import OutboxMessage


async def pending_ids(limit: int = 500) -> list[int]:
    """Outbox rows not yet relayed, oldest first."""
    rows = await OutboxMessage.filter(dispatched_at__isnull=True).order_by("id").limit(limit)
    return [r.id for r in rows]


async def messages(outbox_ids: list[int]) -> list[tuple[str, dict[str, Any]]]:
    """The (topic, payload) of the given outbox rows, in id order."""
    rows = (
        await OutboxMessage.filter(id__in=outbox_ids).order_by("id").values_list("topic", "payload")
    )
    return [(topic, payload) for topic, payload in rows]


Publish = Callable[[str, dict[str, Any]], Awaitable[None]]


async def _claim(outbox_id: int) -> OutboxMessage | None:
    """Lock one undelivered row for relaying (skipping rows another worker holds); None if done."""
    return (
        await OutboxMessage.filter(id=outbox_id, dispatched_at__isnull=True)
        .select_for_update(skip_locked=True)
        .first()
    )


async def relay(outbox_id: int, now: datetime, publish: Publish) -> bool:
    """Publish one outbox row and mark it relayed, in one transaction; False if already done
    or held by another worker. If publishing fails, nothing is marked (it is tried again)."""
    async with in_transaction():
        row = await _claim(outbox_id)
        if row is None:
            return False
        row.attempts += 1
        await publish(row.topic, row.payload)
        row.dispatched_at = now
        await row.save(update_fields=["attempts", "dispatched_at"])
        return True
