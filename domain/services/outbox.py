"""The outbox: side effects committed with their change, then relayed by the workers."""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from models import OutboxMessage


async def pending_ids(limit: int = 500) -> list[int]:
    """Outbox rows not yet relayed, oldest first."""
    rows = await OutboxMessage.filter(dispatched_at__isnull=True).order_by("id").limit(limit)
    return [r.id for r in rows]


async def claim(outbox_id: int, now: datetime) -> OutboxMessage | None:
    """Lock one undelivered row for relaying (skipping rows another worker holds); None if done."""
    return (
        await OutboxMessage.filter(id=outbox_id, dispatched_at__isnull=True)
        .select_for_update(skip_locked=True)
        .first()
    )


async def relay(outbox_id: int, now: datetime, publish: object) -> bool:
    """Publish one outbox row and mark it relayed, in one transaction; False if already done.

    `publish` is an async callable (channel, payload) -> None; if it fails nothing is marked."""
    async with in_transaction():
        row = await claim(outbox_id, now)
        if row is None:
            return False
        row.attempts += 1
        await publish(row.topic, row.payload)  # type: ignore[operator]
        row.dispatched_at = now
        await row.save(update_fields=["attempts", "dispatched_at"])
        return True
