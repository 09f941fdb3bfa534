"""One pooled connection for all the statements of a block (a query's execution), instead of
one acquisition from the pool per statement, and the reads of one moment in one round trip.

asyncpg's pool gives a connection back through a task of its own (`asyncio.shield`), and the
acquisition queues: on a report's page of four statements, a tenth of the request's time went
to taking and giving back connections. Inside `one_connection()` the ORM and the read path
(models/rows.py) find the block's client as the default one. Their statements queue on it, and
one task, the block's sender, sends them over the connection it holds: the reads of the read
path that queued together go as one statement (`together`), the ORM's one by one. No caller
holds the connection while it waits (the compiled executor steps many resolvers by hand and
finishes them in turn: one suspended while holding it would stop all the others). The
connection is taken at the first statement, so a block answered from caches holds none, and
given back when the block ends, however it ends: to the pool, or, when the block ended cleanly,
parked for a moment for the process's next block (docs/adr/0047).

A transaction begun inside the block takes a connection of its own from the pool, as it would
outside: only reads belong in such a block. Nor may anything in it wait for another block
that could be waiting for a connection (the live events' shared reads do): a full pool of
holders waiting on each other would never move (docs/adr/0034, docs/adr/0035).
"""

from __future__ import annotations

import asyncio
import contextvars
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, cast

import asyncpg
from tortoise import connections
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.backends.base.client import PoolConnectionWrapper, TransactionContext
from tortoise.backends.base_postgres.client import translate_exceptions
from tortoise.connection import ConnectionHandler
from tortoise.context import require_context
from tortoise.exceptions import ConfigurationError

DEFAULT = "default"
# The client whose sender is running in this task (`HeldConnection._send`).
_SENDING: contextvars.ContextVar[HeldConnection | None] = contextvars.ContextVar(
    "lapor_sending", default=None
)


class _Job(NamedTuple):
    """A statement waiting for the sender: a read of the read path (`sql`, `params`) or the
    ORM's work (`work`, given the client to run on)."""

    future: asyncio.Future[Any]
    sql: str = ""
    params: list[Any] = []
    work: Callable[[AsyncpgDBClient], Awaitable[Any]] | None = None


class HeldConnection(AsyncpgDBClient):
    """The default client inside a block: its statements are sent by one task over one pooled
    connection, taken at the first statement and given back by `give_back`. Borrows the pooled
    client's settings, as Tortoise's own transaction wrapper does."""

    def __init__(self, pooled: AsyncpgDBClient) -> None:  # no super(): nothing of its own to set
        self._pooled = pooled
        self._connection: asyncpg.Connection | None = None  # type: ignore[assignment]
        self._from: asyncpg.Pool | None = None  # the pool the held connection goes back to
        self._reuses = 0  # blocks before this one that the held connection served unreleased
        self._jobs: list[_Job] = []
        self._sender: asyncio.Future[None] | None = None
        self.given_back = False
        self.log = pooled.log
        self.connection_name = pooled.connection_name

    # The ORM's statements: each queued as work for the sender, which runs Tortoise's own
    # method with this client's connection (`acquire_connection`, used by the sender only).

    async def execute_query(self, query: str, values: list[Any] | None = None) -> Any:
        return await self._queued(lambda c: AsyncpgDBClient.execute_query(c, query, values))

    async def execute_query_dict(self, query: str, values: list[Any] | None = None) -> Any:
        return await self._queued(lambda c: AsyncpgDBClient.execute_query_dict(c, query, values))

    async def execute_insert(self, query: str, values: list[Any]) -> Any:
        return await self._queued(lambda c: AsyncpgDBClient.execute_insert(c, query, values))

    async def execute_many(self, query: str, values: list[Any]) -> None:
        await self._queued(lambda c: AsyncpgDBClient.execute_many(c, query, values))

    async def execute_script(self, query: str) -> None:
        await self._queued(lambda c: AsyncpgDBClient.execute_script(c, query))

    def acquire_connection(self) -> Any:
        if _SENDING.get() is self:  # Tortoise's own methods, run by the sender
            return _Held(self)
        # Anyone else asking for a connection of their own (a search's planning transaction)
        # gets one from the pool: the held one is the sender's alone.
        return self._pooled.acquire_connection()

    def _in_transaction(self) -> TransactionContext:
        return self._pooled._in_transaction()

    async def read(self, sql: str, params: list[Any]) -> list[Any]:
        """The records of a read, sent in one round trip with the reads queued at the same
        moment (a level's loaders) or while a statement was under way."""
        return cast(list[Any], await self._submit(_Job(self._future(), sql, params)))

    async def _queued(self, work: Callable[[AsyncpgDBClient], Awaitable[Any]]) -> Any:
        return await self._submit(_Job(self._future(), work=work))

    @staticmethod
    def _future() -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    async def _submit(self, job: _Job) -> Any:
        if self.given_back:  # a task the block started outlived it: as outside a block
            return await _alone(job, self._pooled)
        self._jobs.append(job)
        if self._sender is None:
            # The sender runs after every task that was ready when it was made: the other
            # statements of the moment have queued by then.
            self._sender = asyncio.get_running_loop().create_task(self._send())
        return await job.future

    async def _send(self) -> None:
        _SENDING.set(self)  # in the sender's own context only
        try:
            while self._jobs:
                jobs, self._jobs = self._jobs, []
                reads = [job for job in jobs if job.work is None]
                if reads:
                    await self._answer(reads, self._together)
                for job in jobs:
                    if job.work is not None:
                        await self._answer([job], self._work)
        finally:
            self._sender = None
            for job in self._jobs:  # cancelled with statements still queued
                job.future.cancel()
            self._jobs = []

    async def _answer(
        self, jobs: list[_Job], send: Callable[[list[_Job]], Awaitable[list[Any]]]
    ) -> None:
        try:
            answers = await send(jobs)
        except BaseException as error:
            for job in jobs:
                _fail(job, error)
            if not isinstance(error, Exception):
                raise
            return
        for job, answer in zip(jobs, answers, strict=True):
            if not job.future.done():  # its caller may have been cancelled meanwhile
                job.future.set_result(answer)

    async def _together(self, reads: list[_Job]) -> list[list[Any]]:
        connection = await self.take()
        if len(reads) == 1:
            return [await self.fetch_records(reads[0].sql, reads[0].params, connection)]
        sql, params = together(reads)
        (row,) = await self.fetch_records(sql, params, connection)
        return [list(records) for records in row]

    async def _work(self, jobs: list[_Job]) -> list[Any]:
        (job,) = jobs
        assert job.work is not None
        return [await job.work(self)]

    @translate_exceptions
    async def fetch_records(
        self, sql: str, params: list[Any], connection: asyncpg.Connection
    ) -> list[Any]:
        """One statement's records on `connection` (the only way reads reach the database)."""
        return list(await connection.fetch(sql, *params))

    async def take(self) -> asyncpg.Connection:
        """The held connection, if none is held yet the one a block just left (`_park`), else
        one taken from the pool (by the sender)."""
        if self._connection is None:
            pooled = self._pooled
            pool = pooled._pool
            parked = _take_parked(pool) if pool is not None else None
            if parked is None:
                await PoolConnectionWrapper(pooled, pooled._pool_init_lock).ensure_connection()
                pool = pooled._pool
                assert pool is not None  # made by ensure_connection
                self._connection = cast(asyncpg.Connection, await pool.acquire())
                self._reuses = 0
            else:
                self._connection, self._reuses = parked
            self._from = pool
        return self._connection

    async def give_back(self, failed: bool) -> None:
        """The held connection, if any, back to its pool: once the statements queued are
        answered, or at once when the block `failed` (what is queued is cancelled); later
        statements take pooled connections of their own."""
        self.given_back = True
        sender = self._sender
        clean = not failed  # every statement answered: the connection may wait for another block
        try:
            if sender is not None:
                if failed:
                    sender.cancel()
                await asyncio.wait([sender])
        except BaseException:  # cancelled while waiting: the statements go too
            clean = False
            if sender is not None:
                sender.cancel()
            raise
        finally:
            connection, pool = self._connection, self._from
            self._connection = self._from = None
            if connection is not None and pool is not None:
                if not (clean and _park(pool, connection, self._reuses + 1)):
                    await pool.release(connection)


# Parked connections (docs/adr/0047-a-connection-parked-between-queries.md). Taking a
# connection from asyncpg's pool and giving it back cost a detail page 117K instructions of its
# 2,125K (a proxy, a future, a shielded task, the reset hook, an inactivity timer each time): a
# block that ends cleanly leaves its connection for the next block of the process instead, for
# PARK_SECONDS at most, after which it goes back to the pool as it would have. A quarter of a
# pool's connections at most wait so (none in a pool of fewer than four): the others go back
# through the pool, where transactions and other waiters are served in turn. After MAX_REUSES
# blocks in a row a connection goes back through the pool anyway, which is where asyncpg
# retires connections (max_queries, expire_connections).
PARK_SECONDS = 0.005
PARKED_SHARE = 4  # of a pool's connections, one in PARKED_SHARE at most waits parked
MAX_REUSES = 100


class _Parked(NamedTuple):
    connection: asyncpg.Connection  # the pool's proxy of it, still acquired
    reuses: int
    since: float  # the loop's time when it was parked
    loop: asyncio.AbstractEventLoop  # the loop it serves (a process may run several in turn)


# Each pool's parked connections, the latest last (the next block takes it).
_parked: dict[asyncpg.Pool, list[_Parked]] = {}
# The timer that gives a pool's parked connections back: one per pool while connections are
# parked there, not one each time (a timer made and cancelled for every query cost a quarter
# of what parking saves). It gives back those parked PARK_SECONDS ago, and waits on for the
# others.
_timers: dict[asyncpg.Pool, asyncio.TimerHandle] = {}
_releasing: set[asyncio.Task[None]] = set()  # releases under way (a task is kept by reference)


def _park(pool: asyncpg.Pool, connection: asyncpg.Connection, reuses: int) -> bool:
    """Keep a block's connection (its statements all answered) for the next block; False, and
    nothing kept, when it must go back to the pool now."""
    parked = _parked.get(pool)
    if parked is None:
        parked = _parked[pool] = []
    if (
        len(parked) >= pool.get_max_size() // PARKED_SHARE
        or reuses > MAX_REUSES
        or pool.is_closing()
    ):
        return False
    loop = asyncio.get_running_loop()
    parked.append(_Parked(connection, reuses, loop.time(), loop))
    if pool not in _timers:
        _timers[pool] = loop.call_later(PARK_SECONDS, _unpark, pool)
    return True


def _take_parked(pool: asyncpg.Pool) -> tuple[asyncpg.Connection, int] | None:
    """The connection a block parked last for `pool` that is still usable, and how many blocks
    it served so, if any; it is no longer parked."""
    parked = _parked.get(pool)
    while parked:
        latest = parked.pop()
        if _reusable(latest.connection):
            return latest.connection, latest.reuses
        _release_soon(pool, latest.connection)
    return None


def _unpark(pool: asyncpg.Pool) -> None:
    """The pool's timer: the connections parked there PARK_SECONDS ago go back to the pool."""
    _timers.pop(pool, None)
    parked = _parked.get(pool)
    if not parked:
        return
    loop = asyncio.get_running_loop()
    now = loop.time()
    while parked and now - parked[0].since >= PARK_SECONDS:
        _release_soon(pool, parked.pop(0).connection)
    if parked:
        _timers[pool] = loop.call_later(PARK_SECONDS - (now - parked[0].since), _unpark, pool)


def _release_soon(pool: asyncpg.Pool, connection: asyncpg.Connection) -> None:
    task = asyncio.get_running_loop().create_task(_release(pool, connection))
    _releasing.add(task)
    task.add_done_callback(_releasing.discard)


async def _release(pool: asyncpg.Pool, connection: asyncpg.Connection) -> None:
    try:
        await pool.release(connection)
    except asyncpg.InterfaceError:  # the pool was terminated meanwhile: nothing to give back
        pass


def _reusable(connection: asyncpg.Connection) -> bool:
    try:
        return not connection.is_closed() and not connection.is_in_transaction()
    except asyncpg.InterfaceError:  # closed by the server, asyncpg gave it back to the pool
        return False


def is_parked(pool: asyncpg.Pool) -> bool:
    """Whether a connection of `pool` waits parked for the next block."""
    return bool(_parked.get(pool))


async def release_parked() -> None:
    """Every connection parked on this loop back to its pool now (before the pools close).
    What another loop parked is forgotten: that loop has ended, or closes its own pools."""
    loop = asyncio.get_running_loop()
    while _parked:
        pool, parked = _parked.popitem()
        timer = _timers.pop(pool, None)
        ours = [each for each in parked if each.loop is loop]
        if timer is not None and ours:  # (a timer of an ended loop is not touched)
            timer.cancel()
        for each in ours:
            await _release(pool, each.connection)


def _fail(job: _Job, error: BaseException) -> None:
    if job.future.done():
        return
    if isinstance(error, asyncio.CancelledError):
        job.future.cancel()
    else:
        job.future.set_exception(error)


async def _alone(job: _Job, client: AsyncpgDBClient) -> Any:
    """A statement sent on its own through `client` (the pooled one)."""
    if job.work is not None:
        return await job.work(client)
    return await _records(client, job.sql, job.params)


async def _records(client: Any, sql: str, params: list[Any]) -> list[Any]:
    """A read's records through a client of Tortoise's, outside a block's sender."""
    _, records = await client.execute_query(sql, params)
    return list(records)


class _Held:
    """The held connection, for Tortoise's own methods run by the sender."""

    __slots__ = ("client",)

    def __init__(self, client: HeldConnection) -> None:
        self.client = client

    async def __aenter__(self) -> asyncpg.Connection:
        return await self.client.take()

    async def __aexit__(self, *exc_info: Any) -> None:
        pass


def together(reads: Sequence[_Job]) -> tuple[str, list[Any]]:
    """One statement answering several reads: a row of one array per read, each of its records
    in the read's order (PostgreSQL keeps a subquery's order in an ARRAY of it), the reads'
    parameters numbered on after one another's."""
    columns: list[str] = []
    params: list[Any] = []
    for read in reads:
        columns.append(f"ARRAY(SELECT ROW(r.*) FROM ({renumbered(read.sql, len(params))}) r)")
        params.extend(read.params)
    return "SELECT " + ", ".join(columns), params


_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$(\d+)")


def renumbered(sql: str, by: int) -> str:
    """`sql` with its parameters $n numbered n + `by` (never inside a quoted literal or name)."""
    if by == 0:
        return sql
    return _TOKENS.sub(
        lambda m: f"${int(m.group(1)) + by}" if m.group(1) is not None else m.group(0), sql
    )


async def read_records(sql: str, params: list[Any]) -> list[Any]:
    """The records of a read, by position (a read sent with others gives records without
    names): inside `one_connection()`, in a round trip with the reads of the same moment."""
    held = _HELD.get()
    if held is not None:
        return await held.read(sql, params)
    return await _records(connections.get(DEFAULT), sql, params)


# The block's client in this context (`one_connection`): what `read_records` asks first, as
# Tortoise's own lookup of the default client costs more than a read's other work in Python.
_HELD: contextvars.ContextVar[HeldConnection | None] = contextvars.ContextVar(
    "lapor_held", default=None
)


class one_connection:
    """The block's statements over one pooled connection (module docstring)."""

    __slots__ = ("handler", "held", "tokens")
    handler: ConnectionHandler

    def __init__(self) -> None:
        self.held: HeldConnection | None = None
        self.tokens: tuple[Any, contextvars.Token[HeldConnection | None]] | None = None

    async def __aenter__(self) -> None:
        # The context's handler, asked for once: each use of Tortoise's `connections` proxy
        # looks it up again (5 µs a time; a third of what a block cost to open and close).
        # (As `get_connections()` finds it, less its import statement run at every call.)
        try:
            self.handler = handler = require_context().connections
            current = handler.get(DEFAULT)
        except (RuntimeError, ConfigurationError):  # no database set up (a schema-only test)
            return
        # Already in a transaction or a held block, or another backend: left as it is.
        if type(current) is AsyncpgDBClient:
            assert isinstance(current, AsyncpgDBClient)
            self.held = held = HeldConnection(current)
            self.tokens = (handler.set(DEFAULT, held), _HELD.set(held))

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> None:
        held, tokens = self.held, self.tokens
        if held is None or tokens is None:
            return
        self.handler.reset(tokens[0])
        _HELD.reset(tokens[1])
        await held.give_back(failed=kind is not None)
