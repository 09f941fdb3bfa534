"""The ASGI application: lifespan, /graphql (HTTP and WebSocket), /healthz and /readyz."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from arq.connections import ArqRedis, RedisSettings, create_pool
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from tortoise import Tortoise, connections

from api.console import ASSETS_URL, bundled_page, local_page, missing_assets
from domain.services.accounts import actor_for_token
from lapor.settings import Settings, get_settings
from models.db import tortoise_config
from schema.context import Context
from schema.schema import build_schema
from workers.enqueue import ArqOutboxDispatcher

log = logging.getLogger("lapor.api")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class LaporGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context: actor from the token, the request's `now`."""

    def __init__(self, settings: Settings, state: dict[str, Any], console_page: str) -> None:
        super().__init__(build_schema(settings), graphql_ide="graphiql", allow_queries_via_get=True)
        self.settings = settings
        self.state = state
        self.console_page = console_page

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:  # type: ignore[override]
        now = datetime.now(UTC)
        token = bearer_token(request.headers.get("authorization"))
        actor = await actor_for_token(token, now)
        if token and not actor.authenticated:
            raise HTTPException(401, "invalid or expired token: sign in again")
        return Context(
            actor=actor,
            now=now,
            settings=self.settings,
            dispatcher=ArqOutboxDispatcher(self.state.get("redis")),
            request=request,
            response=response,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self.console_page)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


async def _connect_redis(settings: Settings) -> ArqRedis | None:
    try:
        return await create_pool(RedisSettings.from_dsn(settings.redis_url), retry=0)
    except Exception as exc:  # serve without Redis; the outbox keeps the work
        log.warning("Redis unavailable at start (%s): jobs wait in the outbox", exc)
        return None


def create_app(settings: Settings | None = None) -> Starlette:
    """The whole HTTP/WebSocket service for one settings object (a uvicorn factory)."""
    settings = settings or get_settings()
    settings.check_production()
    state: dict[str, Any] = {}
    assets = Path(settings.console_assets_dir)
    page = bundled_page()
    offline = not missing_assets(assets, page)
    if not offline:
        log.warning(
            "console assets missing in %s (`lapor console-assets`): GraphiQL uses a CDN", assets
        )
    graphql = LaporGraphQL(settings, state, local_page(page) if offline else page)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # uvicorn runs the lifespan in its own task: requests find the ORM via the global context.
        await Tortoise.init(
            config=tortoise_config(settings.database_url, settings.db_pool_max),
            _enable_global_fallback=True,
        )
        state["redis"] = await _connect_redis(settings)
        try:
            yield
        finally:
            if state.get("redis") is not None:
                await state["redis"].aclose()
            await Tortoise.close_connections()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        checks = {"database": False, "redis": False}
        with contextlib.suppress(Exception):
            await connections.get("default").execute_query("SELECT 1")
            checks["database"] = True
        with contextlib.suppress(Exception):
            redis = state.get("redis") or await _connect_redis(settings)
            state["redis"] = redis
            checks["redis"] = bool(redis is not None and await redis.ping())
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "unavailable", **checks}, status_code=200 if ok else 503
        )

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *([Mount(ASSETS_URL, StaticFiles(directory=assets))] if offline else []),
        ],
        lifespan=lifespan,
    )
