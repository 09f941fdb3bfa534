"""The per-request context: who asks, the request's `now`, fresh loaders, the outbox dispatcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain.actor import Actor
from lapor.settings import Settings
from schema.loaders import Loaders


class OutboxDispatcher(Protocol):
    """Enqueues committed outbox rows for the workers (best effort: the relay drains the rest)."""

    async def dispatch(self, outbox_ids: list[int]) -> None: ...

    async def deliver(self, deliveries: list[tuple[int, int]]) -> None: ...


@dataclass
class Context:
    actor: Actor
    now: datetime
    settings: Settings
    dispatcher: OutboxDispatcher
    loaders: Loaders = field(init=False)
    request: Any = None
    response: Any = None
    # The operation being run ("" when unnamed), set once it is known: for logs and metrics.
    operation_name: str | None = None

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.actor, self.settings.max_page_size)
