"""A small graphql-transport-ws client over a real WebSocket, for tests and the benchmark.

It answers the server's pings (as graphql-ws does) unless told not to, and keeps what it
received per subscription id so that tests can wait for conditions with deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

PROTOCOL = Subprotocol("graphql-transport-ws")


class Closed(Exception):
    """The server closed the WebSocket."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass
class LiveClient:
    """One WebSocket connection speaking graphql-transport-ws."""

    url: str
    answer_pings: bool = True
    # Keep each `next` frame's text as received (`frames`), for byte-for-byte comparisons.
    keep_frames: bool = False
    ws: ClientConnection | None = None
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # (monotonic time, payload) of each `next`, by subscription id
    arrivals: dict[str, list[tuple[float, dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    # the text of each `next`, by subscription id (with keep_frames only)
    frames: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    pings: int = 0
    closed: Closed | None = None
    _reader: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def open(self, init_payload: dict[str, Any] | None, *, seconds: float = 5) -> None:
        """Connect and send connection_init; wait for the ack, or raise Closed."""
        self.ws = await connect(self.url, subprotocols=[PROTOCOL], open_timeout=seconds)
        message: dict[str, Any] = {"type": "connection_init"}
        if init_payload is not None:
            message["payload"] = init_payload
        await self.ws.send(json.dumps(message))
        async with asyncio.timeout(seconds):
            while True:
                try:
                    reply = json.loads(await self.ws.recv())
                except ConnectionClosed as exc:
                    raise _closed(exc) from None
                if reply["type"] == "connection_ack":
                    break
        self._reader = asyncio.create_task(self._read())

    async def subscribe(
        self, sid: str, query: str, variables: dict[str, Any] | None = None
    ) -> None:
        assert self.ws is not None
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send(json.dumps({"id": sid, "type": "subscribe", "payload": payload}))

    async def complete(self, sid: str) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps({"id": sid, "type": "complete"}))

    async def send_raw(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(message))

    def data(self, sid: str) -> list[dict[str, Any]]:
        """The `data` of every `next` received for a subscription, in order."""
        return [m["payload"]["data"] for m in self.messages[sid] if m["type"] == "next"]

    async def wait_for(self, condition: Any, seconds: float = 5.0, what: str = "") -> None:
        """Wait until `condition()` is true; AssertionError with what arrived at the deadline."""
        deadline = time.monotonic() + seconds
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"timed out waiting for {what or condition}: got {dict(self.messages)}, "
                    f"closed={self.closed}"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._changed.wait()

    async def wait_closed(self, seconds: float = 5.0) -> Closed:
        await self.wait_for(lambda: self.closed is not None, seconds, "the server to close")
        assert self.closed is not None
        return self.closed

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if message["type"] == "ping":
                    self.pings += 1
                    if self.answer_pings:
                        await self.ws.send(json.dumps({"type": "pong"}))
                elif "id" in message:
                    self.messages[message["id"]].append(message)
                    if message["type"] == "next":
                        self.arrivals[message["id"]].append((time.monotonic(), message["payload"]))
                        if self.keep_frames:
                            self.frames[message["id"]].append(
                                raw if isinstance(raw, str) else raw.decode()
                            )
                self._changed.set()
            self.closed = _closed_from(self.ws)
        except ConnectionClosed as exc:
            self.closed = _closed(exc)
        self._changed.set()


def _closed(exc: ConnectionClosed) -> Closed:
    return Closed(exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else "")


def _closed_from(ws: ClientConnection) -> Closed:
    return Closed(ws.close_code, ws.close_reason or "")


async def refused(url: str, init_payload: dict[str, Any] | None) -> Closed:
    """Open a connection that the server is expected to close at connection_init."""
    client = LiveClient(url)
    try:
        await client.open(init_payload)
    except Closed as closed:
        return closed
    finally:
        await client.close()
    raise AssertionError("the server acknowledged the connection")
