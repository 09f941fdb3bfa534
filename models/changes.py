"""The change feed: committed changes to cached tables, as PostgreSQL announces them.

Triggers (migration 0003) announce every committed change to people, role grants and the
reference data on the `lapor_changes` channel, as "<table>:<key>". A process listens on one
connection of its own and tells its caches at once. While it does not listen (before the first
connection, after losing it, until it is back) the feed is not `live`, and caches must not be
trusted: they are told that everything changed ("*") whenever the feed goes down or comes back
(docs/adr/0015-caches-and-the-change-feed.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

CHANNEL = "lapor_changes"
EVERYTHING = "*"
# How often the listening connection proves it is alive, and how soon a lost one is retried.
PING_SECONDS = 5.0
RETRY_SECONDS = 1.0

Listener = Callable[[str, str], None]
log = logging.getLogger("lapor.changes")


class ChangeFeed:
    """Listens for committed changes on a connection of its own and tells `listeners`
    (table, key); (EVERYTHING, "") when it connects, reconnects or loses its connection."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.listeners: list[Listener] = []
        self._connection: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self.live = False

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    async def start(self) -> None:
        """Listen now if the database answers (else keep trying in the background)."""
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncio.TimeoutError):
            await self._connect()
        self._task = asyncio.create_task(self._watch(), name="lapor-change-feed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drop()

    def _tell(self, table: str, key: str) -> None:
        for listener in self.listeners:
            try:
                listener(table, key)
            except Exception:
                log.exception("a change listener failed")

    def _on_notification(self, connection: object, pid: int, channel: str, payload: object) -> None:
        table, _, key = str(payload).partition(":")
        self._tell(table, key)

    def _on_termination(self, connection: object) -> None:
        self._lost.set()

    async def _connect(self) -> None:
        connection = await asyncpg.connect(self.database_url, timeout=5)
        try:
            connection.add_termination_listener(self._on_termination)
            await connection.add_listener(CHANNEL, self._on_notification)
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        self._lost.clear()
        # Whatever was cached before listening may have changed unseen.
        self._tell(EVERYTHING, "")
        self.live = True
        log.info("change feed: listening")

    async def _drop(self) -> None:
        was_live, self.live = self.live, False
        if was_live:
            self._tell(EVERYTHING, "")
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 2)

    async def _watch(self) -> None:
        """Keep listening: ping the connection, and reconnect when it is lost."""
        while True:
            if self._connection is None:
                try:
                    await self._connect()
                except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                    log.warning("change feed: cannot listen (%s); caches are bypassed", exc)
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._lost.wait(), PING_SECONDS)
            if not self._lost.is_set():
                try:
                    assert self._connection is not None
                    await self._connection.fetchval("SELECT 1", timeout=PING_SECONDS)
                    continue
                except (TimeoutError, OSError, asyncpg.PostgresError, AssertionError):
                    pass
            log.warning("change feed: lost its connection; caches are bypassed until it is back")
            await self._drop()
