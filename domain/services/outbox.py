"""The outbox: side effects committed with their change, then relayed by the workers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

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


T = TypeVar("T")
Handle = Callable[[OutboxMessage], Awaitable[T]]


async def _claim(outbox_id: int) -> OutboxMessage | None:
    """Lock one undelivered row for relaying (skipping rows another worker holds); None if done."""
    return (
        await OutboxMessage.filter(id=outbox_id, dispatched_at__isnull=True)
        .select_for_update(skip_locked=True)
        .first()
    )


async def relay(outbox_id: int, now: datetime, handle: Handle[T]) -> T | None:
    """Handle one outbox row and mark it relayed, in one transaction; None if already done or
    held by another worker. If handling fails, nothing is kept (the row is tried again)."""
    async with in_transaction():
        row = await _claim(outbox_id)
        if row is None:
            return None
        row.attempts += 1
        result = await handle(row)
        row.dispatched_at = now
        await row.save(update_fields=["attempts", "dispatched_at"])
        return result
