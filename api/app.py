"""The ASGI application: lifespan, /graphql (HTTP and WebSocket), the console's sign-in,
Open311, /metrics, /healthz and /readyz, behind request ids, CORS and the body limit."""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from tortoise import connections

from api.console import Console
from api.files import Files
from api.headers import header
from api.http import GraphQLOverHTTP
from api.live import LiveHub, LiveSocket, TextFrames, sign_in
from api.metrics_route import MetricsServer, metrics_app
from api.middleware import RequestIds, http_middleware
from api.open311 import Open311
from api.persisted import PersistedQueries
from api.tokens import IDEMPOTENCY_KEY_HEADER, bearer_token, client_ip, idempotency_key
from api.transparency import Transparency
from core.dispatch import ArqOutboxDispatcher
from core.logs import write_deferred_lines
from core.metrics import set_live_subscriber_source
from core.settings import Settings, get_settings
from domain.actor import PUBLIC
from domain.services import attachments, caching
from domain.services.accounts import actor_for_token
from domain.services.ratelimits import RateLimits
from models.db import connect_database, disconnect_database
from schema.context import Context, LiveContext
from schema.schema import build_schema

_IDEMPOTENCY_KEY = IDEMPOTENCY_KEY_HEADER.lower().encode()

log = logging.getLogger("lapor.api")


class LaporGraphQL(GraphQLOverHTTP):
    """Strawberry's ASGI view with our context: actor from the token, the request's `now`."""

    # Live subscriptions: graphql-transport-ws only, with the rules of api/live.py.
    graphql_transport_ws_handler_class = LiveSocket
    websocket_adapter_class = TextFrames  # type: ignore[assignment]

    def __init__(
        self, settings: Settings, redis: RedisLink, console: Console, live_hub: LiveHub
    ) -> None:
        super().__init__(
            build_schema(settings),
            PersistedQueries(settings, redis.get),
            settings,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.live_init_timeout_seconds),
            max_subscriptions_per_connection=settings.live_max_subscriptions_per_connection,
        )
        self.redis = redis
        self.console = console
        self.live_hub = live_hub

    async def on_ws_connect(self, context: Context) -> None:
        await sign_in(context)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:  # type: ignore[override]
        now = datetime.now(UTC)
        if isinstance(request, WebSocket):  # signed in by connection_init (api/live.py)
            return LiveContext(
                actor=PUBLIC,
                now=now,
                settings=self.settings,
                dispatcher=ArqOutboxDispatcher(None),
                request=request,
                response=response,
            )
        key = idempotency_key(header(request.scope, _IDEMPOTENCY_KEY))
        token = bearer_token(header(request.scope, b"authorization"))
        actor = await actor_for_token(token, now)
        if token and not actor.authenticated:
            raise HTTPException(401, "invalid or expired token: sign in again")
        return Context(
            actor=actor,
            now=now,
            settings=self.settings,
            dispatcher=ArqOutboxDispatcher(await self.redis.get()),
            request=request,
            response=response,
            limits=RateLimits(self.settings, self.redis.get, client_ip(request)),
            idempotency_key=key,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return await self.console.page(request)


class RedisLink:
    """The API's Redis pool, connected lazily and again after a failed start, at most every
    few seconds: requests never wait on a Redis that is down, and the outbox keeps the work."""

    RETRY_SECONDS = 5.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: ArqRedis | None = None
        self._next_try = 0.0

    async def get(self) -> ArqRedis | None:
        if self.pool is None and time.monotonic() >= self._next_try:
            self._next_try = time.monotonic() + self.RETRY_SECONDS
            try:
                link = RedisSettings.from_dsn(self.settings.redis_url)
                link.conn_retries = 0  # arq's default retries five times, a second apart
                self.pool = await create_pool(link)
            except Exception as exc:  # serve without Redis; the outbox keeps the work
                log.warning("Redis unavailable (%s): jobs wait in the outbox", exc)
        return self.pool

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()
            self.pool = None


# The cyclic collector's thresholds in the API process. With Python's defaults (700, 10, 10) a
# live event to 2,000 subscribers promoted its in-flight objects until a full collection ran:
# 350 ms, during every event (bench/README.md, "Live inbox subscribers"). Collecting the young
# generation every 50,000 allocations lets request- and event-scoped objects die by reference
# count first; garbage in cycles waits a little longer.
GC_THRESHOLDS = (50_000, 20, 100)


def settle_collector() -> None:
    """Once what lives as long as the process is made: keep the collector from walking it
    again in every full collection (a pause that showed in the latency tail), and collect the
    young generation at GC_THRESHOLDS."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class LaporApp(Starlette):
    """Starlette, except that /graphql goes straight to the GraphQL view, without the layers it
    never needs. A WebSocket goes through its request id only: the other layers (failures, CORS,
    body limit, routing) are HTTP's, and for a connection they would each hold a frame for hours
    and wrap every frame sent to it. An HTTP request goes through the app's HTTP middleware but
    not Starlette's own error page, exception handlers and router: the view answers every method
    and every failure itself (api/http.py), and those three layers were about 6 % of what
    `{ __typename }` costs in process (py-spy samples over `bench.request_cpu`'s ping)."""

    def __init__(self, *args: Any, graphql: ASGIApp, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._view = graphql
        self._live = RequestIds(graphql)
        self._graphql_http: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind in ("http", "websocket") and _route_path(scope) == "/graphql":
            scope["app"] = self
            if kind == "websocket":
                await self._live(scope, receive, send)
                return
            if self._graphql_http is None:  # built at first use, as Starlette builds its stack
                self._graphql_http = _wrapped(self._view, self.user_middleware)
            await self._graphql_http(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _wrapped(app: ASGIApp, middleware: list[Middleware]) -> ASGIApp:
    """`app` inside `middleware`, the first outermost (as Starlette stacks them)."""
    for cls, args, kwargs in reversed(middleware):
        app = cls(app, *args, **kwargs)
    return app


def _route_path(scope: Scope) -> str:
    """The request's path below the root path the app is mounted at."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def create_app(settings: Settings | None = None) -> Starlette:
    """The whole HTTP/WebSocket service for one settings object (a uvicorn factory)."""
    settings = settings or get_settings()
    settings.check_production()
    settings.check_secret()
    redis = RedisLink(settings)
    console = Console(settings, redis.get)
    live_hub = LiveHub(settings)
    set_live_subscriber_source(lambda: live_hub.subscriber_count)
    graphql = LaporGraphQL(settings, redis, console, live_hub)
    metrics = metrics_app(redis.get)
    metrics_server = MetricsServer(settings, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # uvicorn runs the lifespan in its own task: requests find the ORM via the global context.
        await connect_database(settings.database_url, settings.db_pool_max)
        await caching.start(settings.database_url)
        await redis.get()
        await live_hub.start(caching.feed())
        await metrics_server.start()
        attachments.warm_up()
        settle_collector()
        try:
            yield
        finally:
            # Every request has been answered: its access line is written now, whatever the
            # closing below meets. (uvicorn ends its process by the signal it caught, without
            # `atexit`, where logging would write the lines still waiting.)
            write_deferred_lines()
            await metrics_server.close()
            await live_hub.close()
            await redis.close()
            await caching.stop()
            await attachments.close()
            await disconnect_database()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        checks = {"database": False, "redis": False}
        with contextlib.suppress(Exception):
            await connections.get("default").execute_query("SELECT 1")
            checks["database"] = True
        with contextlib.suppress(Exception):
            pool = await redis.get()
            checks["redis"] = bool(pool is not None and await pool.ping())
        ok = all(checks.values())
        # Said, not required: without its subscription the process still serves HTTP, and its
        # WebSocket clients were closed to reconnect and catch up (docs/adr/0008).
        live = live_hub.connected
        return JSONResponse(
            {"status": "ready" if ok else "unavailable", **checks, "live": live},
            status_code=200 if ok else 503,
        )

    app = LaporApp(
        graphql=graphql,
        routes=[
            # Every method reaches the view, which answers those it does not take with a coded
            # 405 (CORS preflights are the middleware's).
            # Reached by LaporApp, which sends /graphql straight to the view: here for the
            # router's redirect of /graphql/ to it.
            Route("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *console.routes(),
            *Files(settings).routes(),
            *Open311(settings).routes(),
            *Transparency(settings).routes(),
        ],
        middleware=http_middleware(settings),
        lifespan=lifespan,
    )
    app.state.live_hub = live_hub  # read by tests
    app.state.metrics = metrics  # what the metrics port serves (tests read it in process)
    return app
