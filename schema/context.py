"""The per-request context: who asks, the request's `now`, fresh loaders, the outbox dispatcher,
and for WebSocket connections the live feed that subscriptions listen to."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from core.dispatch import Committed
from core.settings import Settings
from domain.actor import Actor
from domain.errors import DomainError, ErrorCode
from domain.services.idempotency import KEY_FIELD as IDEMPOTENCY_KEY_FIELD
from domain.services.ratelimits import RateLimits
from domain.services.reading import SharedRows
from domain.services.views import UserView
from schema.loaders import Loaders


class OutboxDispatcher(Protocol):
    """Enqueues committed outbox rows for the workers (best effort: the relay drains the rest)."""

    async def dispatch(self, entries: Sequence[Committed]) -> None: ...

    async def deliver(self, deliveries: list[tuple[int, int]]) -> None: ...

    async def thumbnails(self, attachment_ids: Sequence[int]) -> None: ...


class LiveTopic(StrEnum):
    """What a subscription listens to; the key is an agency, a report or a user id."""

    INBOX = "inbox"
    REPORT = "report"
    NOTIFICATIONS = "notifications"


@dataclass(frozen=True, slots=True)
class LiveMessage:
    """Something happened: a timeline event (INBOX, REPORT) or a notification (NOTIFICATIONS),
    by its id, and when this process heard of it. Its subscribers in this process share the
    rows read for it (never the views)."""

    id: int
    received_at: datetime
    shared: SharedRows = field(default_factory=SharedRows, compare=False)


class LiveFeed(Protocol):
    """The process's live relay as one WebSocket connection sees it (api/live.py)."""

    def listen(
        self, topic: LiveTopic, key: int
    ) -> AbstractAsyncContextManager[AsyncIterator[LiveMessage]]:
        """Messages for (topic, key) from now on, until the context is left."""
        ...


@dataclass(slots=True)
class _EventScope:
    """One subscription event's time, rows and loaders. The loaders are made when the event
    first reads through them: the tabs of one viewer after the first find their event's item
    and answer made (schema/subscriptions.py), and need none."""

    context: LiveContext
    now: datetime
    shared: SharedRows
    made_loaders: Loaders | None = None

    @property
    def loaders(self) -> Loaders:
        if self.made_loaders is None:
            context = self.context
            self.made_loaders = Loaders(context.actor, context.settings.max_page_size, self.shared)
        return self.made_loaders


# The subscription event being resolved in this task. A WebSocket connection has one Context
# for all its operations; each operation runs in its own task, so a context variable gives each
# event its own time and loaders without touching what other subscriptions are resolving.
_event_scope: ContextVar[_EventScope | None] = ContextVar("lapor_event_scope", default=None)


class Context:
    """One HTTP request's context: its time and loaders are plain attributes, read by every
    resolver of every item of a page (a context variable's lookup each time cost 4 % of an inbox
    page). A WebSocket connection's is a `LiveContext`."""

    def __init__(
        self,
        *,
        actor: Actor,
        now: datetime,
        settings: Settings,
        dispatcher: OutboxDispatcher,
        request: Any = None,
        response: Any = None,
        live: LiveFeed | None = None,
        limits: RateLimits | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        self.actor = actor
        self.settings = settings
        self.dispatcher = dispatcher
        # The rate limits this request counts against (HTTP only), and, once one refused it,
        # the seconds it must wait (the answer's Retry-After).
        self.limits = limits
        self.retry_after: int | None = None
        self.request = request
        self.response = response
        self.live = live
        # Strawberry puts the connection_init payload here (WebSocket only).
        self.connection_params: dict[str, object] | None = None
        # The operation being run ("" when unnamed), set once it is known: for logs and metrics.
        self.operation_name: str | None = None
        # The request's time, and its loaders.
        self.now = now
        self.loaders = Loaders(actor, settings.max_page_size)
        # The request's Idempotency-Key (docs/adr/0025), and the mutation it went to.
        self._idempotency_key = idempotency_key
        self._keyed_mutation: str | None = None

    def idempotency_key_for(self, mutation: str) -> str | None:
        """The request's idempotency key, for the mutation at response key `mutation`; a key
        covers one mutation, so a second one is refused (VALIDATION)."""
        if self._idempotency_key is None:
            return None
        if self._keyed_mutation not in (None, mutation):
            raise DomainError(
                ErrorCode.VALIDATION,
                "an Idempotency-Key covers one mutation: send the others in requests of their own",
                [IDEMPOTENCY_KEY_FIELD],
            )
        self._keyed_mutation = mutation
        return self._idempotency_key

    def sign_in(self, actor: Actor) -> None:
        """Act as `actor` from now on (a WebSocket signs in after it is opened)."""
        self.actor = actor
        self.loaders = Loaders(actor, self.settings.max_page_size)

    @contextmanager
    def own_loaders(self, people: dict[int, UserView]) -> Iterator[None]:
        """Resolve what runs inside with loaders of its own, holding only `people` (what the
        root of a subscription event fetched before it was resolved): the compiled executor's
        check runs the generic executor this way."""
        fresh = Loaders(self.actor, self.settings.max_page_size)
        fresh.know_people(people)
        kept = self.loaders
        self.loaders = fresh
        try:
            yield
        finally:
            self.loaders = kept

    def event_rows(self) -> SharedRows | None:
        """The rows shared by the subscribers of the event being resolved: none over HTTP."""
        return None

    def release(self) -> None:
        """Let go of what the request loaded, once its answer is made (Loaders.release)."""
        self.loaders.release()


class LiveContext(Context):
    """A WebSocket connection's context, one for all its operations. Each subscription event is
    resolved in its subscription's own task with its own `now` and loaders (a context
    variable), so nothing one event loaded is shown for another."""

    @property  # type: ignore[override]
    def now(self) -> datetime:
        """The connection's time; while a subscription event is resolved, that event's time."""
        scope = self._scope()
        return scope.now if scope else self._now

    @now.setter
    def now(self, value: datetime) -> None:
        self._now = value

    @property  # type: ignore[override]
    def loaders(self) -> Loaders:
        """The connection's loaders; while a subscription event is resolved, that event's own."""
        scope = self._scope()
        return scope.loaders if scope else self._loaders

    @loaders.setter
    def loaders(self, value: Loaders) -> None:
        self._loaders = value

    def begin_event(self, message: LiveMessage) -> None:
        """Resolve what this task does next as a new subscription event: its own `now` and fresh
        loaders (over the rows its subscribers share), made when first used."""
        _event_scope.set(_EventScope(self, message.received_at, message.shared))

    @contextmanager
    def own_loaders(self, people: dict[int, UserView]) -> Iterator[None]:
        scope = self._scope()
        if scope is None:
            with super().own_loaders(people):
                yield
            return
        fresh = Loaders(self.actor, self.settings.max_page_size, scope.shared)
        fresh.know_people(people)
        token = _event_scope.set(_EventScope(self, scope.now, scope.shared, fresh))
        try:
            yield
        finally:
            _event_scope.reset(token)

    def event_rows(self) -> SharedRows | None:
        """The rows shared by the subscribers of the event being resolved, if one is."""
        scope = self._scope()
        return scope.shared if scope is not None else None

    def end_event(self) -> None:
        """Back to the connection's own time and loaders, letting the event's loaders go."""
        scope = self._scope()
        _event_scope.set(None)
        if scope is not None and scope.made_loaders is not None:
            scope.made_loaders.release()

    def release(self) -> None:
        """Let go of what the connection itself loaded (an event's loaders go at its end)."""
        self._loaders.release()

    def _scope(self) -> _EventScope | None:
        scope = _event_scope.get()
        return scope if scope is not None and scope.context is self else None
