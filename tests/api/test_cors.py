"""api.middleware.CORS answers exactly as Starlette's CORSMiddleware does, with and without an
Origin: a request without one only takes a shorter way to the same answer."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Receive, Scope, Send

from api.middleware import CORS

ALLOWED = "https://app.lapor.example"
OPTIONS: dict[str, Any] = {
    "allow_origins": [ALLOWED],
    "allow_methods": ["GET", "POST"],
    "allow_headers": ["Authorization", "Content-Type"],
    "expose_headers": ["X-Request-Id"],
    "max_age": 600,
}


def _app(headers: list[tuple[bytes, bytes]]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


async def _answer(middleware: Any, origin: str | None) -> list[Message]:
    request = [(b"host", b"lapor"), (b"content-type", b"application/json")]
    if origin is not None:
        request.append((b"origin", origin.encode()))
    scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": request}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(scope, receive, send)
    return sent


HEADERS = {
    "none": [],
    "others": [(b"content-type", b"application/json"), (b"x-request-id", b"abc")],
    "a vary": [(b"cache-control", b"no-store"), (b"vary", b"Cookie"), (b"x-a", b"1")],
    "two varies": [(b"vary", b"Accept"), (b"x-a", b"1"), (b"Vary", b"Cookie")],
}


@pytest.mark.parametrize("origin", [None, ALLOWED, "https://evil.example"])
@pytest.mark.parametrize("headers", list(HEADERS.values()), ids=list(HEADERS))
async def test_the_answer_is_starlettes(
    origin: str | None, headers: list[tuple[bytes, bytes]]
) -> None:
    ours = await _answer(CORS(_app(headers), **OPTIONS), origin)
    theirs = await _answer(CORSMiddleware(_app(headers), **OPTIONS), origin)
    assert ours == theirs
    varies = [v for k, v in ours[0]["headers"] if k == b"vary"]
    assert len(varies) == 1 and varies[0].endswith(b"Origin")
