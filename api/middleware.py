"""ASGI middleware of the HTTP side: request ids with one access line each, the body limit."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from random import getrandbits

import orjson
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PAYLOAD_TOO_LARGE, graphql_errors
from api.headers import header, media_type
from api.uploads import GRAPHQL_PATH, MULTIPART, upload_body_limit
from core.logs import log_fields, log_internal
from core.requestctx import request_id
from core.settings import Settings
from domain.services.health import (
    RETRY_AFTER_SECONDS,
    UNAVAILABLE,
    UNAVAILABLE_MESSAGE,
    database_unavailable,
)

access = logging.getLogger("lapor.access")
log = logging.getLogger("lapor.api")

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID = REQUEST_ID_HEADER.encode()
# An incoming id is kept when it is short and plain (safe to log and to echo); else a new one.
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# Probes and scrapes every few seconds would drown the access log.
QUIET_PATHS = frozenset({"/healthz", "/readyz"})


class RequestIds:
    """Gives every HTTP request and WebSocket connection a request id (in the `request_id`
    context variable, so logs and outbox rows carry it, and in the X-Request-Id response
    header) and writes one JSON access line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = header(scope, _REQUEST_ID)
        # (As long as a UUID4's hex, from the process's own generator, which is seeded from the
        # system's and again in a forked child: os.urandom was a system call on every request,
        # and an id for finding log lines needs no secrecy.)
        rid = incoming if incoming and _SANE_ID.fullmatch(incoming) else f"{getrandbits(128):032x}"
        token = request_id.set(rid)
        started = time.perf_counter()
        # What the access line says when no answer was started: the app answers every request
        # (failures too, by `Failures`) unless its client left first (499, as proxies say).
        status = 499

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # A new list, as MutableHeaders(scope=message).append would make, without it.
                message["headers"] = [*message.get("headers", ()), (_REQUEST_ID, rid.encode())]
            await send(message)

        http = scope["type"] == "http"
        try:
            # A WebSocket's messages go out as they are: each of a live event's thousands of
            # deliveries would pass this wrapper, which only answers an HTTP request's start.
            await self.app(scope, receive, send_with_id if http else send)
        finally:
            if http and scope["path"] not in QUIET_PATHS:
                self._log(scope, status, time.perf_counter() - started)
            request_id.reset(token)

    @staticmethod
    def _log(scope: Scope, status: int, seconds: float) -> None:
        fields: dict[str, object] = {
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
        }
        graphql = (scope.get("state") or {}).get("graphql")
        if graphql:
            fields["operation"] = graphql["operation"]
            if graphql["errors"]:
                fields["errors"] = graphql["errors"]
        log_fields(access, logging.INFO, f"{scope['method']} {scope['path']} {status}", fields)


class Failures:
    """Answers an HTTP request that failed (an exception escaped its route) with a coded JSON
    error instead of a bare 500: 503 UNAVAILABLE with Retry-After when the database cannot be
    reached, else 500 INTERNAL, logged with its stack. The exception goes no further, so the
    server keeps the connection (a 500 from the server itself would drop it). A client that
    left while its body was read (Starlette's ClientDisconnect) is no failure: nothing is sent
    or logged but its access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except ClientDisconnect:  # the client left before its body arrived: no one to answer
            return
        except Exception as error:
            if database_unavailable(error):
                log.warning("database unavailable at %s: %s", scope["path"], error)
                status, code, text = 503, UNAVAILABLE, UNAVAILABLE_MESSAGE
                headers = [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
            else:
                log_internal(log, "unexpected error at %s", scope["path"], error=error)
                status, code, text, headers = 500, "INTERNAL", "Unexpected error.", []
            if started:  # too late for an answer of our own: the server closes the connection
                raise
            await _send_json(send, status, graphql_errors(code, text), headers)


async def _send_json(
    send: Send, status: int, doc: object, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = orjson.dumps(doc)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class CORS(CORSMiddleware):
    """Starlette's CORS, but a request without an Origin (a server's, an app's, a script's:
    no browser's cross-origin call) skips its per-request work (a `Headers` of the request and
    a `MutableHeaders` of the answer, a fifth of what `{ __typename }` costs the middleware):
    its answer gets only what Starlette gives it, the Origin added to its Vary."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or header(scope, b"origin") is not None:
            await super().__call__(scope, receive, send)
            return

        async def varying_by_origin(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _vary_origin(message.get("headers", ()))
            await send(message)

        await self.app(scope, receive, varying_by_origin)


def _vary_origin(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` with Origin added to their Vary, as Starlette's CORS adds it: one Vary, where
    the first was, joining the values of all of them and Origin (tests/api/test_cors.py)."""
    kept: list[tuple[bytes, bytes]] = []
    varies: list[bytes] = []
    at = -1
    for name, value in headers:
        if name == b"vary":  # names are in lower case (ASGI), as Starlette matches them
            if at < 0:
                at = len(kept)
            varies.append(value)
        else:
            kept.append((name, value))
    vary = (b"vary", b", ".join([*varies, b"Origin"]))
    if at < 0:
        kept.append(vary)
    else:
        kept.insert(at, vary)
    return kept


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuses HTTP request bodies over `limit` bytes (`upload_limit` for a multipart upload)
    with 413: by Content-Length before reading, or, for one that came without it (chunked),
    while reading it."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int) -> None:
        self.app = app
        self.limits = (limit, upload_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits[media_type(scope) == MULTIPART and scope["path"] == GRAPHQL_PATH]
        declared = header(scope, b"content-length")
        # (The server has already refused a Content-Length that is not a number.)
        if declared is not None and declared.isdigit():
            if int(declared) > limit:
                await self._refuse(send, limit)
                return
            # The server reads no more than a declared length (HTTP's framing): nothing to
            # count, and the request goes on without two wrappers of its messages.
            await self.app(scope, receive, send)
            return
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracking)
        except _TooLarge:
            if started:
                raise
            await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        message = f"the request body is larger than {limit:,} bytes"
        doc = graphql_errors(PAYLOAD_TOO_LARGE, message)
        await _send_json(send, 413, doc, [(b"connection", b"close")])


def http_middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: request ids (every answer carries one, 413s and CORS refusals too),
    coded answers to failures, CORS for the configured origins, then the body limit."""
    return [
        Middleware(RequestIds),
        Middleware(Failures),
        Middleware(
            CORS,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            # Bearer tokens, not cookies, authorise API calls: no credentials across origins.
            # Upload clients (Apollo's CSRF prevention) send Apollo-Require-Preflight.
            allow_headers=[
                "Apollo-Require-Preflight",
                "Authorization",
                "Content-Type",
                "Accept",
                "X-Request-Id",
                "Idempotency-Key",
            ],
            expose_headers=["X-Request-Id"],
            max_age=600,
        ),
        Middleware(
            BodyLimit, limit=settings.max_body_bytes, upload_limit=upload_body_limit(settings)
        ),
    ]
