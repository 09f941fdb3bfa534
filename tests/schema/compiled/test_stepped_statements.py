"""Resolvers the compiled executor steps by hand (schema/compiled/run.py) share one query's
connection (models/connection.py) without stopping each other: a resolver suspended in its
statement, not yet driven on, must not keep another from being answered."""

from __future__ import annotations

import asyncio

from tortoise import connections

from models.connection import one_connection, read_records
from schema.compiled.run import _finish, _step


async def pid() -> int:
    _, rows = await connections.get("default").execute_query("SELECT pg_backend_pid() AS pid")
    return int(rows[0]["pid"])


async def test_a_stepped_resolver_in_its_statement_does_not_stop_the_one_finished_first(
    db: str,
) -> None:
    async with one_connection():
        suspended = pid()  # its statement goes out, and it waits for the answer
        ended, waits_on = _step(suspended)
        assert not ended
        # Another resolver is finished first, as `_finish_waiting` does in order.
        first = await asyncio.wait_for(read_records("SELECT 1 AS n", []), timeout=5)
        assert [tuple(r) for r in first] == [(1,)]
        assert await asyncio.wait_for(_finish(suspended, waits_on), timeout=5) > 0
