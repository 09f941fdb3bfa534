"""Live subscriptions: one Redis subscription per API process, fanned out to its WebSockets.

- `LiveHub` (one per process, owned by the app's lifespan) holds the process's single Redis
  pub/sub connection and routes each message to the subscribers of its (topic, key), dropping
  repeats; it reconnects when Redis drops and counts subscribers and connections. It checks
  every connection's user again when the change feed announces a change to people or roles
  (every second while the feed does not listen) and closes, with 4403, those who changed.
- `LiveConnection` is one signed-in WebSocket: its user's slot, its token's expiry, keep-alive,
  its subscriptions' bounded queues, and the close that ends all of them at once.
- `LiveSocket` is Strawberry's graphql-transport-ws handler with those rules.

Pub/sub is at most once. Whenever this process may have missed events for a connection (Redis
dropped, or the subscriber fell behind), the connection is closed with 1013 so that the client
reconnects and catches up with `updatedAfter` queries (docs/adr/0008-live-subscriptions.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from graphql import GraphQLError
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    PongMessage,
)

from api.tokens import init_token
from core.channels import (
    EVENTS_CHANNEL,
    NOTIFICATIONS_CHANNEL,
    EventMessage,
    NotificationsMessage,
)
from core.settings import Settings
from domain.actor import PUBLIC, Actor
from domain.services.accounts import actors_for_users, session_for_token
from domain.services.health import database_unavailable
from models.changes import EVERYTHING, ChangeFeed
from schema.context import Context, LiveMessage, LiveTopic

log = logging.getLogger("lapor.live")

# The tables whose changes may change who a connection's user is (docs/adr/0015).
PEOPLE_TABLES = frozenset({"app_user", "role_grant"})

# Close codes. 4403 and 4429 are the protocol's (graphql-transport-ws); 1013 "try again later"
# is WebSocket's own, for every case where the client should reconnect and catch up (graphql-ws
# retries it by itself). Reasons are short: a close frame carries at most 123 bytes.
FORBIDDEN = 4403
TOO_MANY = 4429
TRY_AGAIN = 1013


def utc_now() -> datetime:
    return datetime.now(UTC)


class Refused(Exception):
    """A WebSocket refused at connection_init: closed with `code` and `reason`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Mailbox:
    """A bounded queue with one reader, who iterates it: a list, and a future only while the
    reader waits. An asyncio.Queue (three deques and an Event) and an async generator over it
    held about 3 KB for each of thousands of subscribers who mostly wait."""

    __slots__ = ("items", "loop", "size", "waiter")

    def __init__(self, size: int) -> None:
        self.items: list[LiveMessage] = []
        self.size = size
        self.waiter: asyncio.Future[None] | None = None
        # Kept: on Python 3.11 each asyncio.get_running_loop() is a getpid() system call, and
        # a live event's thousands of deliveries each waited on a new future.
        self.loop = asyncio.get_running_loop()

    def put(self, item: LiveMessage) -> bool:
        """Add an item; False, adding nothing, when `size` items already wait."""
        if len(self.items) >= self.size:
            return False
        self.items.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)
        return True

    def __aiter__(self) -> _Mailbox:
        return self

    async def __anext__(self) -> LiveMessage:
        """The oldest item, once there is one (a mailbox never ends: its reader stops)."""
        while not self.items:
            self.waiter = self.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.items.pop(0)


class _Subscriber:
    """One subscription's bounded mailbox, filed under its (topic, key)."""

    __slots__ = ("connection", "mailbox", "route")

    def __init__(self, connection: LiveConnection, route: tuple[LiveTopic, int], size: int) -> None:
        self.connection = connection
        self.route = route
        self.mailbox = _Mailbox(size)


class LiveHub:
    """The process's live relay: one Redis subscription to the event and notification channels,
    routed to the subscribers of this process. Counts are for this process only."""

    RETRY_FIRST = 0.2
    RETRY_MOST = 5.0
    # How often viewers are checked again while the change feed does not listen.
    VIEWER_CHECK_SECONDS = 1.0
    # Workers publish an event again when they relay its outbox row: remember this many ids.
    REPEAT_WINDOW = 10_000

    def __init__(self, settings: Settings, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self.now = clock
        self._routes: dict[tuple[LiveTopic, int], set[_Subscriber]] = {}
        self._subscriber_count = 0
        self._users: dict[int, set[LiveConnection]] = {}
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._was_connected = False
        self._closing: set[asyncio.Task[None]] = set()
        # Viewers to check again (user ids; EVERYONE for all), and the task that does it.
        self._changes: ChangeFeed | None = None
        self._unchecked: set[int] = set()
        self._check_now = asyncio.Event()
        self._checker: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ what others read

    @property
    def subscriber_count(self) -> int:
        """Live subscriptions in this process."""
        return self._subscriber_count

    @property
    def connection_count(self) -> int:
        """Signed-in live WebSocket connections in this process."""
        return sum(len(c) for c in self._users.values())

    @property
    def connected(self) -> bool:
        """Whether this process is subscribed to Redis right now."""
        return self._connected.is_set()

    async def wait_connected(self, seconds: float) -> bool:
        """Wait until subscribed to Redis; False if that took longer than `seconds`."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._connected.wait()
        return self.connected

    # ------------------------------------------------------------------ lifecycle

    async def start(self, changes: ChangeFeed | None = None) -> None:
        """Subscribe to Redis in the background, and again whenever the link drops; check the
        viewers again whenever `changes` (this process's change feed) announces a change to
        people or their roles, and every second while it does not listen."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="lapor-live-hub")
        if changes is not None:
            self._changes = changes
            changes.subscribe(self._people_changed)
        if self._checker is None:
            self._checker = asyncio.create_task(self._check_viewers(), name="lapor-live-viewers")

    async def close(self) -> None:
        """Stop listening and close what is still open (uvicorn has closed the sockets first)."""
        task, self._task = self._task, None
        checker, self._checker = self._checker, None
        for running in (task, checker):
            if running is not None:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
        for connection in [c for group in self._users.values() for c in group]:
            connection.close_soon(1001, "server shutting down")
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=5)

    async def _run(self) -> None:
        delay = self.RETRY_FIRST
        while True:
            self._was_connected = False
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any Redis failure: tell clients, then connect again
                if self._was_connected or delay == self.RETRY_FIRST:
                    log.warning("live feed: no Redis subscription (%s); retrying", exc)
            self._interrupt()
            delay = self.RETRY_FIRST if self._was_connected else min(delay * 2, self.RETRY_MOST)
            await asyncio.sleep(delay)

    async def _listen(self) -> None:
        client = aioredis.Redis.from_url(
            self.settings.redis_url,
            decode_responses=True,
            client_name=f"lapor-live:{os.getpid()}",
            socket_connect_timeout=5,
            # A silent peer (cable pulled, host gone) is found by TCP keep-alive in ~25 s.
            socket_keepalive=True,
            socket_keepalive_options=_keepalive_options(),
        )
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(EVENTS_CHANNEL, NOTIFICATIONS_CHANNEL)
            confirmations = 0
            async for message in pubsub.listen():
                if message["type"] == "message":
                    try:
                        self._route(message["channel"], message["data"])
                    except Exception:  # a bug on one message must not close every connection
                        log.exception("live feed: could not route %.200r", message["data"])
                elif message["type"] == "subscribe":
                    confirmations += 1
                    if confirmations == 2:
                        log.info("live feed: subscribed to Redis")
                        self._was_connected = True
                        self._connected.set()
            raise ConnectionError("Redis ended the subscription")
        finally:
            self._connected.clear()
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await client.aclose()

    def _interrupt(self) -> None:
        for connection in [c for group in self._users.values() for c in group]:
            connection.close_soon(
                TRY_AGAIN, "live feed interrupted: reconnect, then catch up with updatedAfter"
            )

    # ------------------------------------------------------------------ viewers

    def _people_changed(self, table: str, key: str) -> None:
        """A change feed listener: a user or their roles changed (or, for EVERYTHING, anything
        may have): check their connections again."""
        if table == EVERYTHING or (table in PEOPLE_TABLES and not key.isdigit()):
            self._unchecked.update(self._users)
        elif table in PEOPLE_TABLES:
            self._unchecked.add(int(key))
        else:
            return
        self._check_now.set()

    async def _check_viewers(self) -> None:
        """Close, with 4403, every connection whose user is no longer who it signed in as
        (disabled, removed, a role granted or withdrawn): at once when the change feed says so,
        else within `VIEWER_CHECK_SECONDS` (while the feed does not listen)."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.VIEWER_CHECK_SECONDS):
                    await self._check_now.wait()
            self._check_now.clear()
            listening = self._changes is not None and self._changes.live
            users = set(self._users) if not listening else self._unchecked & set(self._users)
            self._unchecked.clear()
            if not users:
                continue
            try:
                current = await actors_for_users(sorted(users))
            except Exception as exc:  # the database is away: check again at the next round
                log.warning("live: cannot check viewers again (%s)", exc)
                self._unchecked.update(users)
                continue
            for user_id in users:
                for connection in list(self._users.get(user_id, ())):
                    if current.get(user_id, PUBLIC) != connection.actor:
                        connection.close_soon(FORBIDDEN, "your account changed: sign in again")

    # ------------------------------------------------------------------ routing

    def _route(self, channel: str, data: str) -> None:
        if channel == EVENTS_CHANNEL:
            event = EventMessage.decode(data)
            if event is None:
                log.warning("live feed: not an event on %s: %.200r", channel, data)
                return
            routes = [(LiveTopic.INBOX, event.agency_id), (LiveTopic.REPORT, event.report_id)]
            self._deliver(channel, event.event_id, routes)
        elif channel == NOTIFICATIONS_CHANNEL:
            stored = NotificationsMessage.decode(data)
            if stored is None:
                log.warning("live feed: not notifications on %s: %.200r", channel, data)
                return
            for notification_id, user_id in stored.notifications:
                self._deliver(channel, notification_id, [(LiveTopic.NOTIFICATIONS, user_id)])

    def _deliver(self, channel: str, item: int, routes: list[tuple[LiveTopic, int | None]]) -> None:
        if self._repeat(channel, item):
            return
        message = LiveMessage(item, self.now())
        for topic, key in routes:
            if key is None:
                continue
            for subscriber in tuple(self._routes.get((topic, key), ())):
                if not subscriber.mailbox.put(message):
                    subscriber.connection.close_soon(
                        TRY_AGAIN,
                        f"too slow: over {subscriber.mailbox.size} events waiting; "
                        "reconnect, then catch up with updatedAfter",
                    )

    def _repeat(self, channel: str, item: int) -> bool:
        """Whether this message was routed lately; remembers it if not."""
        key = (channel, item)
        if key in self._seen:
            return True
        self._seen[key] = None
        if len(self._seen) > self.REPEAT_WINDOW:
            self._seen.popitem(last=False)
        return False

    # ------------------------------------------------------------------ subscribers

    @contextlib.asynccontextmanager
    async def subscription(
        self, connection: LiveConnection, topic: LiveTopic, key: int
    ) -> AsyncIterator[AsyncIterator[LiveMessage]]:
        """A bounded mailbox for (topic, key) while the context lasts; removed however it ends."""
        if connection.closed or not self.connected:
            raise GraphQLError(
                "live feed unavailable: try again shortly", extensions={"code": "UNAVAILABLE"}
            )
        subscriber = _Subscriber(connection, (topic, key), self.settings.live_queue_size)
        self._routes.setdefault(subscriber.route, set()).add(subscriber)
        connection.subscribers.add(subscriber)
        self._subscriber_count += 1
        try:
            yield subscriber.mailbox
        finally:
            self.drop(subscriber)

    def drop(self, subscriber: _Subscriber) -> None:
        """Stop routing to a subscriber (idempotent)."""
        group = self._routes.get(subscriber.route)
        if group is None or subscriber not in group:
            return
        group.discard(subscriber)
        if not group:
            del self._routes[subscriber.route]
        subscriber.connection.subscribers.discard(subscriber)
        self._subscriber_count -= 1

    # ------------------------------------------------------------------ connections

    def admit(self, connection: LiveConnection, user_id: int) -> None:
        """Count a signed-in connection for its user; Refused beyond the per-user cap."""
        mine = self._users.setdefault(user_id, set())
        cap = self.settings.live_max_connections_per_user
        if len(mine) >= cap:
            if not mine:
                del self._users[user_id]
            raise Refused(TOO_MANY, f"too many live connections for this user (at most {cap})")
        mine.add(connection)

    def release(self, connection: LiveConnection) -> None:
        """Forget a connection and its subscribers (idempotent)."""
        for subscriber in list(connection.subscribers):
            self.drop(subscriber)
        if connection.user_id is not None:
            mine = self._users.get(connection.user_id)
            if mine is not None:
                mine.discard(connection)
                if not mine:
                    del self._users[connection.user_id]

    def track(self, task: asyncio.Task[None]) -> None:
        """Keep a closing task alive until it is done."""
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def _keepalive_options() -> dict[int, int]:
    wanted = {"TCP_KEEPIDLE": 10, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 3}
    return {getattr(socket, k): v for k, v in wanted.items() if hasattr(socket, k)}


class LiveConnection:
    """The live side of one WebSocket connection (the schema's `LiveFeed`)."""

    def __init__(self, hub: LiveHub, socket: LiveSocket) -> None:
        self.hub = hub
        self.socket = socket
        self.user_id: int | None = None
        self.actor: Actor = PUBLIC  # who it signed in as, checked again on every change
        self.expires_at: datetime | None = None
        self.subscribers: set[_Subscriber] = set()
        self.closed = False
        self._pong_due = False
        self._next_ping = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def listen(
        self, topic: LiveTopic, key: int
    ) -> contextlib.AbstractAsyncContextManager[AsyncIterator[LiveMessage]]:
        return self.hub.subscription(self, topic, key)

    async def sign_in(self, context: Context, params: Mapping[str, object] | None) -> None:
        """Open the connection for the token in the connection_init payload, or refuse it."""
        try:
            session = await session_for_token(init_token(params), self.hub.now())
        except Exception as error:
            if not database_unavailable(error):
                raise
            # The token's user cannot be read: said as the HTTP side says it (UNAVAILABLE).
            raise Refused(TRY_AGAIN, "database unavailable: reconnect shortly") from None
        if session is None or session.actor.user_id is None:
            raise Refused(
                FORBIDDEN,
                'sign in: connection_init needs {"Authorization": "Bearer <token>"} '
                "with a valid token",
            )
        if not self.hub.connected:
            raise Refused(TRY_AGAIN, "live feed unavailable: try again shortly")
        self.hub.admit(self, session.actor.user_id)
        self.user_id = session.actor.user_id
        self.actor = session.actor
        self.expires_at = session.expires_at
        context.sign_in(session.actor)
        self._next_ping = time.monotonic() + self.hub.settings.live_keepalive_seconds
        self._keep()

    def saw_pong(self) -> None:
        self._pong_due = False

    def _keep(self) -> None:
        """Ping every keep-alive interval; close at the token's expiry, or when the last ping
        went unanswered. A timer callback, not a task: thousands of connections mostly wait,
        and a task with its frame and its sleep held 1.5 KB for each."""
        self._timer = None
        if self.closed:
            return
        assert self.expires_at is not None
        left = (self.expires_at - self.hub.now()).total_seconds()
        if left <= 0:
            self.close_soon(FORBIDDEN, "token expired: sign in again")
            return
        if time.monotonic() >= self._next_ping:
            if self._pong_due:
                self.close_soon(TRY_AGAIN, "keep-alive: no pong to the last ping")
                return
            self._pong_due = True
            self._next_ping += self.hub.settings.live_keepalive_seconds
            self.hub.track(asyncio.create_task(self._ping()))
        wait = max(0.0, min(self._next_ping - time.monotonic(), left))
        self._timer = asyncio.get_running_loop().call_later(wait, self._keep)

    async def _ping(self) -> None:
        with contextlib.suppress(Exception):  # the socket is gone: its handler tears it down
            await self.socket.send_message({"type": "ping"})

    def close_soon(self, code: int, reason: str) -> None:
        """Stop everything this connection holds now, then close its socket in the background
        (never wait on a slow client here: the hub calls this while routing)."""
        if self.closed:
            return
        self.release()
        self.hub.track(asyncio.create_task(self.socket.close_for(code, reason)))

    def release(self) -> None:
        """Free the user's slot, the subscriptions and the keep-alive timer (idempotent)."""
        self.closed = True
        self.hub.release(self)
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()


class LiveSocket(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with Lapor's rules: a bearer token in connection_init, a cap on
    connections per user, expiry, keep-alive, and a close that leaves nothing behind."""

    CLOSE_WAIT_SECONDS = 5.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        hub = getattr(self.view, "live_hub", None)
        if not isinstance(hub, LiveHub):
            raise TypeError("LiveSocket needs a view with a `live_hub`")
        self.live = LiveConnection(hub, self)
        self.context.live = self.live

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except Refused as refusal:
            await self.websocket.close(refusal.code, refusal.reason)
            return
        # The wait for connection_init is over: its task would otherwise sleep out its time
        # (10 s), with its frame, for each of a burst of connections (they reconnect at once).
        waiting = self.connection_init_timeout_task
        if self.connection_acknowledged and waiting is not None and not waiting.done():
            waiting.cancel()

    async def handle_pong(self, message: PongMessage) -> None:
        self.live.saw_pong()

    async def shutdown(self) -> None:
        self.live.release()
        await super().shutdown()

    async def close_for(self, code: int, reason: str) -> None:
        """End every operation, then close the socket; a client that reads nothing cannot hold
        this up for longer than a few seconds."""
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        try:
            async with asyncio.timeout(self.CLOSE_WAIT_SECONDS):
                await self.websocket.close(code, reason)
        except Exception as exc:  # already closed, or stuck: nothing of ours is left either way
            log.debug("live close %s (%s) did not complete: %s", code, reason, exc)


async def sign_in(context: Context) -> None:
    """`on_ws_connect`: sign the connection in with its connection_init payload (or refuse)."""
    live = context.live
    if not isinstance(live, LiveConnection):
        raise Refused(FORBIDDEN, "not a live connection")
    await live.sign_in(context, context.connection_params)


class TextFrames(ASGIWebSocketAdapter):
    """graphql-transport-ws messages as text frames: browsers hand binary frames to the client
    as Blobs, which graphql-ws cannot read (our JSON encoder makes bytes)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(self.view.encode_json_string(message))
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc
