"""One pooled connection for all the statements of a block (a query's execution), instead of
one acquisition from the pool per statement.

asyncpg's pool gives a connection back through a task of its own (`asyncio.shield`), and the
acquisition queues: on a report's page of four statements, a tenth of the request's time went
to taking and giving back connections. Inside `one_connection()` the ORM and the read path
(models/rows.py) find the connection held for the block as the default client; statements
from tasks of the same block (a level's loaders) take turns on it. The connection is taken at
the first statement, so a block answered from caches holds none, and given back when the
block ends, however it ends.

A transaction begun inside the block takes a connection of its own from the pool, as it would
outside: only reads belong in such a block. Nor may anything in it wait for another block
that could be waiting for a connection (the live events' shared reads do): a full pool of
holders waiting on each other would never move (docs/adr/0034-one-connection-per-query.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg
from tortoise import connections
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.backends.base.client import PoolConnectionWrapper, TransactionContext
from tortoise.exceptions import ConfigurationError

DEFAULT = "default"


class _HeldConnection(AsyncpgDBClient):
    """The default client with one pooled connection held: taken at the first statement, given
    back by `give_back`. Borrows the pooled client's settings, as Tortoise's own transaction
    wrapper does."""

    def __init__(self, pooled: AsyncpgDBClient) -> None:  # no super(): nothing of its own to set
        self._pooled = pooled
        self._connection: asyncpg.Connection | None = None  # type: ignore[assignment]
        self._from: asyncpg.Pool | None = None  # the pool the held connection goes back to
        self._lock = asyncio.Lock()
        self.given_back = False
        self.log = pooled.log
        self.connection_name = pooled.connection_name

    def acquire_connection(self) -> Any:
        return _Turn(self)

    def _in_transaction(self) -> TransactionContext:
        return self._pooled._in_transaction()

    async def take(self) -> asyncpg.Connection:
        """The held connection, taken from the pool if none is held yet (under the lock)."""
        if self._connection is None:
            pooled = self._pooled
            await PoolConnectionWrapper(pooled, pooled._pool_init_lock).ensure_connection()
            pool = pooled._pool
            assert pool is not None  # made by ensure_connection
            self._connection = cast(asyncpg.Connection, await pool.acquire())
            self._from = pool
        return self._connection

    async def give_back(self) -> None:
        """The held connection, if any, back to its pool, once a statement under way on it is
        done; statements after that take pooled connections of their own."""
        async with self._lock:
            self.given_back = True
            connection, pool = self._connection, self._from
            self._connection = self._from = None
        if connection is not None and pool is not None:
            await pool.release(connection)


class _Turn:
    """One statement's turn on the held connection; after the block, on a pooled one."""

    __slots__ = ("client", "pooled")

    def __init__(self, client: _HeldConnection) -> None:
        self.client = client
        self.pooled: Any = None

    async def __aenter__(self) -> asyncpg.Connection:
        client = self.client
        await client._lock.acquire()
        if client.given_back:
            # A task the block started outlived it: its statements go through the pool, as
            # outside a block, rather than take a connection that nothing would give back.
            client._lock.release()
            self.pooled = client._pooled.acquire_connection()
            return cast(asyncpg.Connection, await self.pooled.__aenter__())
        try:
            return await client.take()
        except BaseException:
            client._lock.release()
            raise

    async def __aexit__(self, *exc_info: Any) -> None:
        if self.pooled is not None:
            await self.pooled.__aexit__(*exc_info)
        else:
            self.client._lock.release()


@contextlib.asynccontextmanager
async def one_connection() -> AsyncIterator[None]:
    """The block's statements over one pooled connection (module docstring)."""
    try:
        current = connections.get(DEFAULT)
    except (RuntimeError, ConfigurationError):  # no database set up (a schema-only test)
        current = None
    if type(current) is not AsyncpgDBClient:
        yield  # none, already in a transaction or a held block, or another backend: as it is
        return
    assert isinstance(current, AsyncpgDBClient)
    held = _HeldConnection(current)
    token = connections.set(DEFAULT, held)
    try:
        yield
    finally:
        connections.reset(token)
        await held.give_back()
