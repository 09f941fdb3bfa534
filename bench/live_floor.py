"""The raw floor of bench/subscriptions.py: Lapor's live inbox (`inboxEvents`), frame for frame,
from the same stack minus GraphQL: Starlette on uvicorn with uvloop and httptools, one process,
an asyncpg pool (no reset round trip, as Lapor's), orjson, redis-py's asyncio pub/sub, and the
API's collector settings (api/app.py, settle_collector).

It does the work Lapor does for this subscription (api/live.py, schema/subscriptions.py), no
less:

- a WebSocket at /graphql speaking graphql-transport-ws as far as a client of this subscription
  needs it: `connection_init` within the init timeout, with a token in its payload
  (api/tokens.py's init_token) verified by domain/auth.py with the same secret, the user read
  from the database (active, with their grants) and counted against the per-user cap, then
  `connection_ack`; `ping`/`pong`; the server's own pings every keep-alive interval (a
  connection whose last ping went unanswered is closed with 1013) and its close at the token's
  expiry (4403); `subscribe` with the inbox document (`INBOX`, the only one served), refused
  with an `error` message as Lapor refuses it (VALIDATION, NOT_FOUND, FORBIDDEN by
  domain/policy.py's allowed_on_agency: a member of the agency or a coordinator of its
  region), at most `live_max_subscriptions_per_connection` per connection; `complete`;
- ONE Redis subscription per process to core/channels.py's EVENTS_CHANNEL, decoded by its
  EventMessage, repeats dropped (the workers publish an event again when they relay it); while
  it is down every connection is closed with 1013 and new ones are refused with 1013;
- for each event about an agency with subscribers, ONE statement reads the event with its
  assignment (which must be the agency's: `assignments._inbox_row`) and the assignment's report
  with its policy facts (domain/services/common.py's ASSIGNED_AGENCIES); the `next` message is
  built once per distinct viewer and subscription id and sent to each subscriber: the report as
  domain/services/views.py shows it to that viewer (a desk that let the report go and no
  longer reads it keeps its record: an empty title), global ids by schema/ids.py, datetimes
  as the isoformat() of the aware UTC datetimes asyncpg returns, enums by name, `overdue` by
  domain/deadlines.py against the time the process heard of the event, keys in the order of
  the selection;
- events reach each connection in the order they were heard, through a bounded backlog per
  connection (`live_queue_size` frames; one more closes it with 1013, as Lapor closes a
  subscriber that falls behind), so that a client that stops reading holds up no other.

It does not check its viewers again when people or grants change (Lapor closes their
connections then): nothing changes them while the bench runs.

    LAPOR_DATABASE_URL=... LAPOR_REDIS_URL=... LAPOR_SECRET_KEY=... \\
        python -m bench.live_floor --port 8002
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from api.app import settle_collector
from api.tokens import init_token
from bench.floors import keep_session, serve
from core.channels import EVENTS_CHANNEL, EventMessage
from core.settings import Settings, get_settings
from domain.actor import Actor
from domain.auth import read_claims
from domain.deadlines import is_overdue
from domain.errors import DomainError, ErrorCode, not_found
from domain.policy import (
    Action,
    AgencyFacts,
    ReportFacts,
    allowed_on_agency,
    allowed_on_report,
    involvement,
    keeps_record,
)
from domain.services.common import ASSIGNED_AGENCIES
from models.enums import ReportStatus, Role
from schema.ids import from_global_id, to_global_id

log = logging.getLogger("lapor.live_floor")

PROTOCOL = "graphql-transport-ws"
# The one document the floor serves, and the name of its variable: bench/subscriptions.py
# subscribes with it on both sides.
INBOX = """subscription($a: ID!) { inboxEvents(agencyId: $a) { kind at
  assignment { id status dueAt overdue report { trackingCode title status } } } }"""
AGENCY_VARIABLE = "a"

# Close codes, as api/live.py and Strawberry's graphql-transport-ws handler use them.
FORBIDDEN, TOO_MANY, TRY_AGAIN = 4403, 4429, 1013
BAD_MESSAGE, UNAUTHORIZED, DUPLICATE, INIT_TIMEOUT = 4400, 4401, 4409, 4408
SIGN_IN = 'sign in: connection_init needs {"Authorization": "Bearer <token>"} with a valid token'
REPEAT_WINDOW = 10_000  # event ids remembered to drop repeats, as LiveHub does

# An active user and their grants (no row: gone or disabled).
VIEWER_SQL = """
SELECT u.name, g.role, g.region_id, g.agency_id
FROM app_user u LEFT JOIN role_grant g ON g.user_id = u.id
WHERE u.id = $1 AND u.is_active
"""
AGENCY_SQL = "SELECT region_id FROM agency WHERE id = $1"
# An event about one of the agency's assignments, the assignment, and its report with the
# policy's facts (the last two columns: the report's assignments' agencies and statuses).
EVENT_SQL = f"""
SELECT e.kind, e.at, a.id, a.status, a.due_at, r.tracking_code, r.title,
    r.status AS report_status, r.region_id, r.reporter_id, r.anonymous, r.confidential,
    r.escalated_at IS NOT NULL AS handed_over, {ASSIGNED_AGENCIES}
FROM report_event e
JOIN assignment a ON a.id = e.assignment_id
JOIN report r ON r.id = a.report_id
WHERE e.id = $1 AND a.agency_id = $2
"""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _actor(user_id: int, rows: list[asyncpg.Record]) -> Actor | None:
    """The Actor of an active user from VIEWER_SQL's rows (as domain/services/accounts.py
    makes it); None when there is no such user."""
    if not rows:
        return None
    grants = [r for r in rows if r["role"] is not None]

    def scoped(role: Role, column: str) -> frozenset[int]:
        return frozenset(
            g[column] for g in grants if g["role"] == role.value and g[column] is not None
        )

    return Actor(
        user_id=user_id,
        name=rows[0]["name"],
        roles=frozenset(Role(g["role"]) for g in grants),
        coordinator_regions=scoped(Role.COORDINATOR, "region_id"),
        officer_agencies=scoped(Role.OFFICER, "agency_id"),
        head_agencies=scoped(Role.AGENCY_HEAD, "agency_id"),
    )


def _field_location(document: str, name: str) -> dict[str, int]:
    """Where `name` first appears in `document`, as GraphQL counts lines and columns."""
    before = document[: document.index(name)]
    return {"line": before.count("\n") + 1, "column": len(before) - before.rfind("\n")}


# Lapor's refusals of the subscription are GraphQL errors located at the root field.
INBOX_LOCATION = _field_location(INBOX, "inboxEvents")


def _error(sid: str, code: str, message: str, field: list[str] | None) -> dict[str, Any]:
    """The `error` message Lapor sends when it refuses the subscription (a coded error)."""
    extensions: dict[str, Any] = {"code": code}
    if field:
        extensions["field"] = field
    formatted = {
        "message": message,
        "locations": [INBOX_LOCATION],
        "path": ["inboxEvents"],
        "extensions": extensions,
    }
    return {"id": sid, "type": "error", "payload": [formatted]}


class Subscriber:
    """One `inboxEvents` subscription of a connection."""

    __slots__ = ("agency_id", "connection", "sid")

    def __init__(self, connection: Connection, sid: str, agency_id: int) -> None:
        self.connection, self.sid, self.agency_id = connection, sid, agency_id


class Connection:
    """One WebSocket: who signed in, until when, its subscriptions, its keep-alive timer and
    the frames waiting to be written."""

    __slots__ = (
        "acked",
        "actor",
        "backlog",
        "closed",
        "expires_at",
        "floor",
        "init_received",
        "pong_due",
        "subscribers",
        "timer",
        "ws",
    )

    def __init__(self, floor: LiveFloor, ws: WebSocket) -> None:
        self.floor = floor
        self.ws = ws
        self.actor: Actor | None = None
        self.expires_at = 0.0  # wall-clock seconds
        self.subscribers: dict[str, Subscriber] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.backlog: list[str] | None = None  # a writer task runs while this is a list
        self.init_received = self.acked = self.pong_due = self.closed = False

    def push(self, frame: str) -> None:
        """Write `frame` after those before it; a connection too far behind is closed."""
        if self.closed:
            return
        if self.backlog is None:
            self.backlog = [frame]
            self.floor.keep(asyncio.create_task(self._write()))
        elif len(self.backlog) >= self.floor.settings.live_queue_size:
            self.close_soon(TRY_AGAIN, "too slow: reconnect, then catch up with updatedAfter")
        else:
            self.backlog.append(frame)

    async def _write(self) -> None:
        try:
            while self.backlog:
                frames, self.backlog = self.backlog, []
                for frame in frames:
                    await self.ws.send_text(frame)
        except Exception:  # the socket is gone: its receive loop releases the connection
            self.closed = True
        finally:
            self.backlog = None

    def send(self, message: dict[str, Any]) -> None:
        self.push(orjson.dumps(message).decode())

    def close_soon(self, code: int, reason: str) -> None:
        """Stop routing to this connection now, and close its socket in the background."""
        if self.closed:
            return
        self.floor.release(self)
        self.closed = True
        self.floor.keep(asyncio.create_task(self._close(code, reason)))

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await self.ws.close(code, reason)

    def init_expired(self) -> None:
        """The init timeout: a connection that sent no connection_init in time is closed."""
        if not self.init_received:
            self.close_soon(INIT_TIMEOUT, "Connection initialisation timeout")

    def schedule(self, delay: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(delay, self._tick)

    def _tick(self) -> None:
        """The keep-alive timer: close at the token's expiry or when the last ping went
        unanswered; else ping, and come back at the next ping or the expiry."""
        self.timer = None
        if self.closed:
            return
        left = self.expires_at - time.time()
        if left <= 0:
            self.close_soon(FORBIDDEN, "token expired: sign in again")
            return
        if self.pong_due:
            self.close_soon(TRY_AGAIN, "keep-alive: no pong to the last ping")
            return
        self.pong_due = True
        self.push('{"type":"ping"}')
        self.schedule(min(self.floor.settings.live_keepalive_seconds, left))


class LiveFloor:
    """The process's subscribers by agency, its Redis subscription and its pool."""

    RETRY_FIRST, RETRY_MOST = 0.2, 5.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: asyncpg.Pool | None = None
        self.inboxes: dict[int, dict[Subscriber, None]] = {}  # subscribers by agency id
        self.users: dict[int, set[Connection]] = {}  # signed-in connections by user id
        self.actors: dict[int, Actor] = {}  # one Actor object per user (many connections)
        self.connected = asyncio.Event()
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._heard: asyncio.Queue[tuple[asyncio.Task[asyncpg.Record | None], int, datetime]]
        self._heard = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        self.pool = await asyncpg.create_pool(
            self.settings.database_url,
            min_size=1,
            max_size=self.settings.db_pool_max,
            reset=keep_session,
        )
        self._running = [
            asyncio.create_task(self._listen_forever(), name="floor-redis"),
            asyncio.create_task(self._deliver_forever(), name="floor-deliver"),
        ]

    async def close(self) -> None:
        for task in self._running:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for connection in [c for group in self.users.values() for c in group]:
            connection.close_soon(1001, "server shutting down")
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        if self.pool is not None:
            await self.pool.close()

    def routes(self) -> list[WebSocketRoute]:
        """The WebSocket route, for an app of its own or a test's."""
        return [WebSocketRoute("/graphql", self.serve)]

    @property
    def subscriber_count(self) -> int:
        """Subscriptions filed in this process."""
        return sum(len(group) for group in self.inboxes.values())

    def keep(self, task: asyncio.Task[None]) -> None:
        """Hold a background task until it is done."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ Redis

    async def _listen_forever(self) -> None:
        delay = self.RETRY_FIRST
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any Redis failure: tell the clients, connect again
                log.warning("live floor: no Redis subscription (%s); retrying", exc)
            was_connected = self.connected.is_set()
            self.connected.clear()
            for connection in [c for group in self.users.values() for c in group]:
                connection.close_soon(TRY_AGAIN, "live feed interrupted: reconnect")
            delay = self.RETRY_FIRST if was_connected else min(delay * 2, self.RETRY_MOST)
            await asyncio.sleep(delay)

    async def _listen(self) -> None:
        client = aioredis.Redis.from_url(
            self.settings.redis_url,
            decode_responses=True,
            client_name=f"lapor-live-floor:{os.getpid()}",
            socket_connect_timeout=5,
            socket_keepalive=True,
        )
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(EVENTS_CHANNEL)
            async for message in pubsub.listen():
                if message["type"] == "message":
                    self._heard_event(message["data"])
                elif message["type"] == "subscribe":
                    self.connected.set()
            raise ConnectionError("Redis ended the subscription")
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await client.aclose()

    def _heard_event(self, data: str) -> None:
        """Start reading an event that has subscribers here; it is delivered in turn."""
        event = EventMessage.decode(data)
        if event is None:
            log.warning("live floor: not an event: %.200r", data)
            return
        if event.event_id in self._seen:
            return
        self._seen[event.event_id] = None
        if len(self._seen) > REPEAT_WINDOW:
            self._seen.popitem(last=False)
        if event.agency_id is None or event.agency_id not in self.inboxes:
            return
        assert self.pool is not None
        read = asyncio.create_task(self.pool.fetchrow(EVENT_SQL, event.event_id, event.agency_id))
        self._heard.put_nowait((read, event.agency_id, datetime.now(UTC)))

    async def _deliver_forever(self) -> None:
        """Deliver the events in the order they were heard (their rows read concurrently)."""
        while True:
            read, agency_id, now = await self._heard.get()
            try:
                row = await read
            except Exception as exc:  # the database is away: this event is lost here
                log.warning("live floor: cannot read an event (%s)", exc)
                continue
            if row is not None:
                self._fan_out(row, agency_id, now)

    # ------------------------------------------------------------------ events

    def _fan_out(self, row: asyncpg.Record, agency_id: int, now: datetime) -> None:
        """Each subscriber of the agency gets the event as its viewer sees it; the message is
        built once per viewer and subscription id."""
        subscribers = self.inboxes.get(agency_id)
        if not subscribers:
            return
        agencies, statuses = row[-2], row[-1]
        involved, former = involvement(agencies, statuses)
        facts = ReportFacts(
            region_id=row["region_id"],
            reporter_id=row["reporter_id"],
            anonymous=row["anonymous"],
            confidential=row["confidential"],
            status=ReportStatus(row["report_status"]),
            agency_ids=involved,
            handed_over=row["handed_over"],
            former_agency_ids=former,
        )
        payloads: dict[int, orjson.Fragment | None] = {}
        frames: dict[tuple[int, str], str | None] = {}
        for subscriber in tuple(subscribers):
            connection = subscriber.connection
            actor = connection.actor
            assert actor is not None and actor.user_id is not None
            key = (actor.user_id, subscriber.sid)
            if key not in frames:
                if actor.user_id not in payloads:
                    payloads[actor.user_id] = _payload(row, facts, actor, now)
                payload = payloads[actor.user_id]
                frames[key] = (
                    None
                    if payload is None
                    else orjson.dumps(
                        {"id": subscriber.sid, "type": "next", "payload": payload}
                    ).decode()
                )
            frame = frames[key]
            if frame is not None:
                connection.push(frame)

    # ------------------------------------------------------------------ connections

    async def sign_in(self, connection: Connection, payload: object) -> None:
        """connection_init: ack a signed-in connection, or close it as Lapor does."""
        if connection.init_received:
            connection.close_soon(TOO_MANY, "Too many initialisation requests")
            return
        connection.init_received = True
        if not isinstance(payload, dict):
            connection.close_soon(BAD_MESSAGE, "Invalid connection init payload")
            return
        token = init_token(payload)
        claims = read_claims(token, self.settings.secret_key, datetime.now(UTC)) if token else None
        actor = None
        if claims is not None:
            assert self.pool is not None
            rows = await self.pool.fetch(VIEWER_SQL, claims.user_id)
            actor = _actor(claims.user_id, rows)
        if claims is None or actor is None:
            connection.close_soon(FORBIDDEN, SIGN_IN)
            return
        if not self.connected.is_set():
            connection.close_soon(TRY_AGAIN, "live feed unavailable: try again shortly")
            return
        mine = self.users.setdefault(claims.user_id, set())
        cap = self.settings.live_max_connections_per_user
        if len(mine) >= cap:
            connection.close_soon(
                TOO_MANY, f"too many live connections for this user (at most {cap})"
            )
            return
        mine.add(connection)
        if self.actors.get(claims.user_id) != actor:
            self.actors[claims.user_id] = actor
        connection.actor = self.actors[claims.user_id]
        connection.expires_at = claims.expires_at.timestamp()
        connection.acked = True
        connection.push('{"type":"connection_ack"}')
        connection.schedule(
            min(self.settings.live_keepalive_seconds, connection.expires_at - time.time())
        )

    async def subscribe(self, connection: Connection, message: dict[str, Any]) -> None:
        """subscribe: file the subscriber under its agency, or refuse it as Lapor does."""
        sid = message.get("id")
        payload = message.get("payload")
        if not isinstance(sid, str) or not isinstance(payload, dict):
            connection.close_soon(BAD_MESSAGE, "Failed to parse message")
            return
        if not connection.acked:
            connection.close_soon(UNAUTHORIZED, "Unauthorized")
            return
        if sid in connection.subscribers:
            connection.close_soon(DUPLICATE, f"Subscriber for {sid} already exists")
            return
        if len(connection.subscribers) >= self.settings.live_max_subscriptions_per_connection:
            error = {"message": "Subscription limit reached"}
            connection.send({"id": sid, "type": "error", "payload": [error]})
            return
        if payload.get("query") != INBOX:
            error = {"message": "the live floor serves bench.live_floor.INBOX only"}
            connection.send({"id": sid, "type": "error", "payload": [error]})
            return
        try:
            agency_id = await self._open_inbox(connection, payload.get("variables"))
        except DomainError as refusal:
            connection.send(_error(sid, refusal.code.value, refusal.message, refusal.field))
            return
        if connection.closed:
            return
        if not self.connected.is_set():
            unavailable = "live feed unavailable: try again shortly"
            connection.send(_error(sid, "UNAVAILABLE", unavailable, None))
            return
        subscriber = Subscriber(connection, sid, agency_id)
        connection.subscribers[sid] = subscriber
        self.inboxes.setdefault(agency_id, {})[subscriber] = None

    async def _open_inbox(self, connection: Connection, variables: object) -> int:
        """The agency whose inbox the viewer may watch (assignments.open_inbox's rule)."""
        value = variables.get(AGENCY_VARIABLE) if isinstance(variables, dict) else None
        decoded = from_global_id(value) if isinstance(value, str) else None
        if decoded is None or decoded[0] != "Agency":
            raise DomainError(ErrorCode.VALIDATION, "not a Agency id", ["agencyId"])
        assert self.pool is not None and connection.actor is not None
        found = await self.pool.fetchrow(AGENCY_SQL, decoded[1])
        if found is None:
            raise not_found("agency", "agencyId")
        facts = AgencyFacts(decoded[1], found["region_id"])
        if not allowed_on_agency(connection.actor, Action.VIEW_INBOX, facts):
            raise DomainError(ErrorCode.FORBIDDEN, "this is not your agency's inbox", ["agencyId"])
        return decoded[1]

    def complete(self, connection: Connection, sid: object) -> None:
        subscriber = connection.subscribers.pop(sid, None) if isinstance(sid, str) else None
        if subscriber is not None:
            self._drop(subscriber)

    def _drop(self, subscriber: Subscriber) -> None:
        group = self.inboxes.get(subscriber.agency_id)
        if group is not None:
            group.pop(subscriber, None)
            if not group:
                del self.inboxes[subscriber.agency_id]

    def release(self, connection: Connection) -> None:
        """Forget a connection, its subscribers and its timer (idempotent)."""
        for subscriber in connection.subscribers.values():
            self._drop(subscriber)
        connection.subscribers.clear()
        if connection.timer is not None:
            connection.timer.cancel()
            connection.timer = None
        if connection.actor is not None and connection.actor.user_id is not None:
            mine = self.users.get(connection.actor.user_id)
            if mine is not None:
                mine.discard(connection)
                if not mine:
                    del self.users[connection.actor.user_id]

    async def serve(self, ws: WebSocket) -> None:
        """One WebSocket, from the handshake to its end."""
        if PROTOCOL not in ws.scope.get("subprotocols", []):
            await ws.close(4406, "Subprotocol not acceptable")
            return
        await ws.accept(subprotocol=PROTOCOL)
        connection = Connection(self, ws)
        init_wait = asyncio.get_running_loop().call_later(
            self.settings.live_init_timeout_seconds, connection.init_expired
        )
        try:
            while True:
                received = await ws.receive()
                if received["type"] == "websocket.disconnect":
                    break
                await self._handle(connection, received.get("text") or received.get("bytes"))
        except WebSocketDisconnect:
            pass
        finally:
            init_wait.cancel()
            connection.closed = True
            self.release(connection)

    async def _handle(self, connection: Connection, raw: str | bytes | None) -> None:
        if connection.closed:
            return
        try:
            message = orjson.loads(raw or b"")
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict):
            connection.close_soon(BAD_MESSAGE, "Failed to parse message")
            return
        kind = message.get("type")
        if kind == "connection_init":
            await self.sign_in(connection, message.get("payload", {}))
        elif kind == "ping":
            connection.push('{"type":"pong"}')
        elif kind == "pong":
            connection.pong_due = False
        elif kind == "subscribe":
            await self.subscribe(connection, message)
        elif kind == "complete":
            self.complete(connection, message.get("id"))
        else:
            connection.close_soon(BAD_MESSAGE, f"Unknown message type: {kind}")


def _payload(
    row: asyncpg.Record, facts: ReportFacts, actor: Actor, now: datetime
) -> orjson.Fragment | None:
    """The `next` payload for one viewer: the report as views.py shows it to them (its record
    to a desk that let it go and no longer reads it); None where Lapor would answer an error
    (the viewer neither reads the report nor keeps its record: no inbox viewer is such)."""
    if allowed_on_report(actor, Action.READ, facts):
        title = row["title"]
    elif any(keeps_record(actor, agency) for agency in facts.former_agency_ids):
        title = ""  # views.record_view
    else:
        log.warning("live floor: a viewer of the inbox may not read report %s", row["id"])
        return None
    due = row["due_at"]
    event = {
        "kind": row["kind"],
        "at": row["at"].isoformat(),
        "assignment": {
            "id": to_global_id("Assignment", row["id"]),
            "status": row["status"],
            "dueAt": _iso(due),
            "overdue": is_overdue(due, now),
            "report": {
                "trackingCode": row["tracking_code"],
                "title": title,
                "status": row["report_status"],
            },
        },
    }
    return orjson.Fragment(orjson.dumps({"data": {"inboxEvents": event}}))


def create_app(settings: Settings | None = None) -> Starlette:
    """The floor's app (a uvicorn factory) for the settings' database, Redis and secret."""
    floor = LiveFloor(settings or get_settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await floor.open()
        settle_collector()  # as the API does after start-up
        try:
            yield
        finally:
            await floor.close()

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"alive"}', media_type="application/json")

    async def readyz(request: Request) -> Response:
        live = floor.connected.is_set()
        body = orjson.dumps({"status": "ready" if live else "unavailable", "live": live})
        return Response(body, 200 if live else 503, media_type="application/json")

    app = Starlette(
        routes=[
            *floor.routes(),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
    app.state.floor = floor
    return app


def main() -> None:
    serve(
        "bench.live_floor:create_app",
        (__doc__ or "").splitlines()[0],
        8002,
        ws_per_message_deflate=get_settings().live_compression,
    )


if __name__ == "__main__":
    main()
