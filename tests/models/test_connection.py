"""A block's statements over one pooled connection (models/connection.py): taken at the first
statement, shared by the block's tasks in turn, given back however the block ends."""

from __future__ import annotations

import asyncio

import pytest
from asyncpg.pool import Pool
from tortoise import connections
from tortoise.transactions import in_transaction

from lapor.demo import JEMBER
from models import Region
from models.connection import one_connection


async def backend() -> int:
    _, rows = await connections.get("default").execute_query("SELECT pg_backend_pid() AS pid")
    return int(rows[0]["pid"])


def idle(pool: Pool) -> int:
    return int(pool.get_idle_size())


async def test_the_statements_of_a_block_and_its_tasks_share_one_connection(
    db: str, acquisitions: list[int]
) -> None:
    async with one_connection():
        first = await backend()
        # A level's loaders run as tasks of their own, at the same time: they take turns.
        together = await asyncio.gather(*(backend() for _ in range(5)))
        regions = await Region.all()  # the ORM finds the held connection too
    assert set(together) == {first}
    assert regions
    assert len(acquisitions) == 1


async def test_outside_a_block_each_statement_takes_a_connection(
    db: str, acquisitions: list[int]
) -> None:
    await backend()
    await backend()
    assert len(acquisitions) == 2


async def test_a_block_without_statements_takes_no_connection(
    db: str, acquisitions: list[int]
) -> None:
    async with one_connection():
        await asyncio.sleep(0)
    assert acquisitions == []


async def test_the_connection_goes_back_when_the_block_fails(db: str) -> None:
    await backend()  # the pool holds at least one connection
    pooled = connections.get("default")
    pool = pooled._pool
    before = idle(pool)
    with pytest.raises(RuntimeError, match="a resolver failed"):
        async with one_connection():
            await backend()
            assert idle(pool) == before - 1
            raise RuntimeError("a resolver failed")
    assert idle(pool) == before
    assert connections.get("default") is pooled  # the pooled client is back in place


async def test_a_block_cancelled_mid_statement_gives_back_a_usable_connection(db: str) -> None:
    async def slow_page() -> None:
        async with one_connection():
            await connections.get("default").execute_query("SELECT pg_sleep(5)")

    task = asyncio.create_task(slow_page())
    await asyncio.sleep(0.3)  # the statement is under way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with one_connection():  # whichever connection comes next answers
        assert await backend() > 0
        _, rows = await connections.get("default").execute_query("SELECT 1 AS one")
    assert rows[0]["one"] == 1


async def test_a_nested_block_keeps_the_outer_connection(db: str, acquisitions: list[int]) -> None:
    async with one_connection():
        outer = await backend()
        async with one_connection():
            inner = await backend()
        after = await backend()
    assert outer == inner == after
    assert len(acquisitions) == 1


async def test_a_transaction_in_a_block_takes_a_connection_of_its_own(db: str) -> None:
    async with one_connection():
        held = await backend()
        async with in_transaction() as transaction:
            inside = await backend()
            changed, _ = await transaction.execute_query(
                "UPDATE region SET name = name WHERE code = $1", [JEMBER]
            )
        again = await backend()
    assert changed == 1
    assert inside != held and again == held


async def test_blocks_of_concurrent_requests_hold_different_connections(db: str) -> None:
    seen: list[set[int]] = []

    async def request() -> None:
        async with one_connection():
            pids = {await backend()}
            await asyncio.sleep(0.05)  # both hold theirs at once
            pids.add(await backend())
        seen.append(pids)

    await asyncio.gather(request(), request())
    assert all(len(pids) == 1 for pids in seen)
    assert seen[0] != seen[1]


async def test_a_task_that_outlives_its_block_finishes_on_pooled_connections(db: str) -> None:
    pooled = connections.get("default")
    await backend()
    pool = pooled._pool
    before = idle(pool)
    first_done = asyncio.Event()

    async def straggler() -> list[int]:
        _, first = await connections.get("default").execute_query(
            "SELECT pg_backend_pid() AS pid FROM pg_sleep(0.2)"
        )
        first_done.set()
        return [int(first[0]["pid"]), await backend()]

    async with one_connection():
        held = await backend()
        task = asyncio.create_task(straggler())
        await asyncio.sleep(0.05)  # its statement is under way when the block ends
    # The block gave its connection back once that statement was done, not before.
    assert first_done.is_set()
    during, after = await task
    assert during == held and after > 0
    assert idle(pool) == before  # nothing is held by anyone any more
