"""The outbox: side effects committed with their change, then relayed by the workers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from tortoise.transactions import in_transaction

from domain.lifecycle import OPEN_ASSIGNMENT
from models import OutboxMessage
from models.bulk import ClaimedOutbox, claim_outbox


@dataclass(frozen=True)
class OutboxEntry:
    """An outbox row as written: what to publish and enqueue after its commit."""

    id: int
    topic: str
    payload: dict[str, Any]


T = TypeVar("T")
OPEN_STATUSES = [status.value for status in OPEN_ASSIGNMENT]
Handle = Callable[[ClaimedOutbox], Awaitable[T]]


class RelayFailed(Exception):
    """Handling an outbox row failed: nothing of it was kept, and the row is still pending."""

    def __init__(self, outbox_id: int, cause: Exception) -> None:
        super().__init__(f"outbox row {outbox_id}: {type(cause).__name__}: {cause}")
        self.outbox_id = outbox_id
        self.cause = cause


async def relay(
    now: datetime, handle: Handle[T], outbox_id: int | None = None, skip: Sequence[int] = ()
) -> tuple[int, T] | None:
    """Handle one outbox row (`outbox_id`, or else the oldest pending one not in `skip`) and
    mark it relayed, in one transaction; returns the row's id and what `handle` returned, None
    when there is nothing to relay. If handling fails (RelayFailed), nothing is kept."""
    claimed: int | None = None
    try:
        async with in_transaction():
            row = await claim_outbox(now, OPEN_STATUSES, outbox_id, skip)
            if row is None:
                return None
            claimed = row.id
            return row.id, await handle(row)
    except Exception as exc:
        if claimed is None:
            raise
        raise RelayFailed(claimed, exc) from exc


async def record_failure(outbox_id: int, error: str) -> None:
    """Note why relaying a row failed (it stays pending, and is tried again)."""
    await OutboxMessage.filter(id=outbox_id).update(last_error=error[:1000])
