"""A block's statements over one pooled connection (models/connection.py): taken at the first
statement, shared by the block's tasks in turn, given back however the block ends."""

from __future__ import annotations

import asyncio

import pytest
from asyncpg.pool import Pool
from tortoise import connections
from tortoise.transactions import in_transaction

from lapor.demo import JEMBER
from models import Region, connection, rows
from models.connection import (
    MAX_REUSES,
    PARK_SECONDS,
    is_parked,
    one_connection,
    read_records,
    release_parked,
    renumbered,
)
from tests.statements import StatementLog, counting


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
    await backend()
    pool = connections.get("default")._pool

    def in_use() -> int:
        return int(pool.get_size() - pool.get_idle_size())

    async def straggler() -> list[int]:
        _, first = await connections.get("default").execute_query(
            "SELECT pg_backend_pid() AS pid FROM pg_sleep(0.2)"
        )
        return [int(first[0]["pid"]), await backend()]

    async with one_connection():
        held = await backend()
        task = asyncio.create_task(straggler())
        await asyncio.sleep(0.05)  # its statement is under way when the block ends
    # The block let its connection go once that statement was done, not before: parked for
    # the next block, and at most the straggler's next statement holds one now.
    assert is_parked(pool)
    assert in_use() <= 2
    during, after = await task
    assert during == held and after > 0
    await back_in_pool(pool)
    assert in_use() == 0  # nothing is held by anyone any more


# ------------------------------------------------------------- parked between blocks


async def nothing_parked() -> Pool:
    """The default pool, holding a connection at least and none parked."""
    await backend()
    await release_parked()
    return connections.get("default")._pool


async def a_block() -> int:
    """The backend of a block of one statement (which parks its connection)."""
    async with one_connection():
        return await backend()


async def back_in_pool(pool: Pool) -> None:
    """Once the connection a block parked has gone back to the pool by itself."""
    for _ in range(1000):
        if not is_parked(pool):
            await asyncio.sleep(0.01)  # its release, a task, runs
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the parked connection never went back to the pool")


async def test_the_next_block_takes_the_connection_the_last_one_left(
    db: str, acquisitions: list[int]
) -> None:
    pool = await nothing_parked()
    before = idle(pool)
    first = await a_block()
    assert is_parked(pool) and idle(pool) == before - 1  # kept out of the pool, for a moment
    assert await a_block() == first
    assert len(acquisitions) == 2  # the first block's (and backend()'s), not the second's


async def test_a_parked_connection_goes_back_to_the_pool_by_itself(db: str) -> None:
    pool = await nothing_parked()
    before = idle(pool)
    await a_block()
    assert idle(pool) == before - 1
    await asyncio.sleep(PARK_SECONDS * 20)
    assert not is_parked(pool)
    assert idle(pool) == before


async def test_a_transaction_waiting_for_a_full_pool_gets_the_parked_connection(
    db: str,
) -> None:
    pool = await nothing_parked()
    others = [await pool.acquire() for _ in range(pool.get_max_size() - 1)]
    try:
        await a_block()  # on the pool's last connection
        assert is_parked(pool) and idle(pool) == 0
        async with asyncio.timeout(2):  # not left waiting on the parked one
            async with in_transaction() as transaction:
                changed, _ = await transaction.execute_query(
                    "UPDATE region SET name = name WHERE code = $1", [JEMBER]
                )
        assert changed == 1
    finally:
        for other in others:
            await pool.release(other)


async def test_a_parked_connection_the_server_closed_is_not_taken(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "PARK_SECONDS", 5.0)  # parked while the server closes it
    pool = await nothing_parked()
    parked = await a_block()
    _, rows = await connections.get("default").execute_query(
        "SELECT pg_terminate_backend($1) AS done", [parked]
    )
    assert rows[0]["done"]
    await asyncio.sleep(0.05)  # the connection hears it is closed
    assert is_parked(pool)
    assert await a_block() != parked
    await release_parked()


async def test_a_connection_goes_back_through_the_pool_after_max_reuses_blocks(
    db: str, acquisitions: list[int]
) -> None:
    await nothing_parked()
    acquisitions.clear()
    for _ in range(MAX_REUSES + 2):
        await a_block()
    # The first block acquired it; it served MAX_REUSES more parked; the next acquired again.
    assert len(acquisitions) == 2


async def test_a_failed_or_cancelled_block_parks_nothing(db: str) -> None:
    pool = await nothing_parked()
    with pytest.raises(RuntimeError):
        async with one_connection():
            await backend()
            raise RuntimeError("a resolver failed")
    assert not is_parked(pool)

    async def slow_page() -> None:
        async with one_connection():
            await connections.get("default").execute_query("SELECT pg_sleep(5)")

    task = asyncio.create_task(slow_page())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not is_parked(pool)


async def test_closing_the_database_gives_back_a_parked_connection_at_once(db: str) -> None:
    pool = await nothing_parked()
    before = idle(pool)
    await a_block()
    assert is_parked(pool)
    await release_parked()  # as disconnect_database does before the pools close
    assert not is_parked(pool) and idle(pool) == before


# ------------------------------------------------------------- reads sent together


async def test_reads_of_the_same_moment_go_in_one_statement_each_in_its_order(
    db: str, sql_log: StatementLog
) -> None:
    newest = "SELECT g AS n, g::text AS t FROM generate_series(1, $1::int) g ORDER BY g DESC"
    oldest = "SELECT g AS n, $2::text || g AS t FROM generate_series(1, $1::int) g ORDER BY g"
    alone = [await read_records(newest, [300]), await read_records(oldest, [5, "x"])]
    with counting(sql_log):
        async with one_connection():
            together = await asyncio.gather(
                read_records(newest, [300]), read_records(oldest, [5, "x"])
            )
    assert sql_log.count == 1, sql_log.statements
    assert [[tuple(r) for r in rs] for rs in together] == [[tuple(r) for r in rs] for rs in alone]
    assert [r[0] for r in together[0]] == list(range(300, 0, -1))
    assert [tuple(r) for r in together[1]][:2] == [(1, "x1"), (2, "x2")]


async def test_reads_queued_behind_a_statement_go_together_after_it(
    db: str, sql_log: StatementLog
) -> None:
    with counting(sql_log):
        async with one_connection():
            slow = asyncio.create_task(read_records("SELECT pg_sleep(0.1)::text AS slept", []))
            await asyncio.sleep(0.02)  # under way
            queued = await asyncio.gather(
                *(read_records("SELECT $1::int AS n", [i]) for i in range(4))
            )
            await slow
    assert [records[0][0] for records in queued] == [0, 1, 2, 3]
    assert sql_log.count == 2, sql_log.statements


async def test_a_failing_read_fails_its_round_and_the_connection_answers_after(db: str) -> None:
    async with one_connection():
        results = await asyncio.gather(
            read_records("SELECT 1 AS n", []),
            read_records("SELECT 1 / $1::int AS n", [0]),
            return_exceptions=True,
        )
        assert all(isinstance(r, Exception) for r in results)
        assert "division by zero" in str(results[1])
        assert [tuple(r) for r in await read_records("SELECT 2 AS n", [])] == [(2,)]


async def test_a_cancelled_reader_leaves_the_others_their_answers(db: str) -> None:
    async with one_connection():
        first = asyncio.create_task(read_records("SELECT 1 AS n", []))
        second = asyncio.create_task(read_records("SELECT 2 AS n", []))
        await asyncio.sleep(0)  # both have joined the round
        first.cancel()
        assert [tuple(r) for r in await second] == [(2,)]
        with pytest.raises(asyncio.CancelledError):
            await first


def test_parameters_are_renumbered_outside_quoted_literals_and_names() -> None:
    sql = """SELECT '$1 it''s $2', "col$1" FROM t WHERE a = $1 AND b = $12 AND c = $2"""
    assert renumbered(sql, 3) == (
        """SELECT '$1 it''s $2', "col$1" FROM t WHERE a = $4 AND b = $15 AND c = $5"""
    )
    assert renumbered(sql, 0) == sql


async def test_reads_sent_together_decode_arrays_on_a_new_connection(db: str) -> None:
    # asyncpg decodes a value inside an anonymous record (each read's rows, `together`) only
    # with a codec its connection has already learnt from a statement's own columns.
    await backend()
    await connections.get("default")._pool.expire_connections()
    async with one_connection():
        names, ids, lines = await asyncio.gather(
            read_records("SELECT ARRAY['a'::varchar, 'b'] AS names", []),
            read_records("SELECT ARRAY[1::bigint, 2] AS ids, ARRAY[now()] AS at", []),
            read_records(
                f"SELECT ARRAY[{rows.EVENT.typed_row('e')}] AS lines FROM (SELECT 1 AS id,"
                " 2 AS report_id, 'k' AS kind, NULL AS message, NULL::bigint AS actor_id,"
                " 'public' AS visibility, now() AS at, NULL::bigint AS assignment_id) e",
                [],
            ),
        )
    assert [tuple(r) for r in names] == [(["a", "b"],)]
    assert [r[0] for r in ids] == [[1, 2]]
    assert [tuple(line)[:4] for line in lines[0][0]] == [(1, 2, "k", None)]


async def test_a_type_asyncpg_cannot_decode_leaves_new_connections_serving(
    db: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A row type holding a column asyncpg reads only as text cannot be decoded at all.
    client = connections.get("default")
    await client.execute_script("CREATE TYPE undecodable_row AS (words tsvector)")
    try:
        await client._pool.expire_connections()
        assert [r[0] for r in await read_records("SELECT 7 AS n", [])] == [7]
        assert "did not learn the nested types" in caplog.text
    finally:
        await client.execute_script("DROP TYPE undecodable_row")
        await client._pool.expire_connections()
