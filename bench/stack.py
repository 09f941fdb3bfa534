"""The service as the benchmarks run it: a PostgreSQL and a Redis of their own, the demo data,
and `lapor api` and `lapor worker` as separate processes (uvicorn with uvloop and httptools),
which a benchmark may kill and start again; and what the benchmarks ask of it (signing in,
ids, one number from SQL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from lapor.servers import ServerError, free_port
from models.db import apply_migrations, database
from tests.harness import PostgresCluster, RedisServer

ROOT = Path(__file__).resolve().parents[1]
LOGIN = "mutation($e:String!,$p:String!){authLogin(email:$e,password:$p){token errors{code}}}"
# The roles the API and the worker connect as, so that pg_stat_statements counts them apart.
API_ROLE, WORKER_ROLE = "lapor_api", "lapor_worker"


@dataclass
class LaporProcess:
    """`lapor ARGS` as a process of its own, its output appended to `log`: started, killed
    (SIGKILL, as a crash or the OOM killer does) and started again with the same arguments."""

    name: str
    args: list[str]
    env: Mapping[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "lapor", *self.args],
                cwd=ROOT,
                env=dict(self.env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL: nothing of the process gets to run again."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 40) -> None:
        """SIGTERM, then SIGKILL if it has not stopped within `timeout` seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Service:
    """One API and one worker on a PostgreSQL and a Redis of their own."""

    base: str
    database_url: str
    cluster: PostgresCluster
    redis: RedisServer
    api: LaporProcess
    worker: LaporProcess
    logs: list[Path] = field(default_factory=list)

    def wait_healthy(self, seconds: float = 60) -> None:
        """Until the API answers /healthz; ServerError with its log if it dies or is late."""
        assert self.api.process is not None
        wait_healthy(self.base, self.api.process, self.api.log, seconds)


def wait_healthy(
    base: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 60
) -> None:
    """Until GET `base`/healthz answers 200; ServerError with the process's log if it dies or
    is late."""
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise ServerError(f"the API did not start:\n{log.read_text()}")
        time.sleep(0.2)


def _with_user(url: str, user: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{user}@{rest.split('@', 1)[1]}"


async def _prepare(url: str) -> None:
    """Migrate, seed the demo, load pg_stat_statements and make the API's and worker's roles."""
    from datetime import UTC, datetime

    from lapor.demo import seed_demo

    await apply_migrations(url)
    async with database(url):
        await seed_demo(datetime.now(UTC))
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        for role in (API_ROLE, WORKER_ROLE):
            await conn.execute(f"CREATE ROLE {role} LOGIN SUPERUSER")
    finally:
        await conn.close()


@contextlib.contextmanager
def service(
    logs: Path, *, durable: bool = True, env: Mapping[str, str] | None = None
) -> Iterator[Service]:
    """PostgreSQL (durable unless told: fsync and synchronous commit on, as in production;
    with pg_stat_statements), Redis, the demo, then one API and one worker as in production,
    each under a database role of its own; everything stopped and removed afterwards."""
    settings = {"shared_preload_libraries": "pg_stat_statements", "max_connections": "100"}
    with PostgresCluster(durable=durable, settings=settings) as cluster, RedisServer() as redis:
        url = cluster.create_database("lapor_bench")
        asyncio.run(_prepare(url))
        common = {
            **os.environ,
            "LAPOR_ENV": "production",
            "LAPOR_SECRET_KEY": secrets.token_urlsafe(32),
            "LAPOR_REDIS_URL": redis.url,
            **(env or {}),
        }
        common.pop("LAPOR_SMTP_HOST", None)
        port = free_port()
        api = LaporProcess(
            "api",
            ["api", "--port", str(port)],
            {**common, "LAPOR_DATABASE_URL": _with_user(url, API_ROLE)},
            logs / "api.log",
        )
        worker = LaporProcess(
            "worker",
            ["worker"],
            {**common, "LAPOR_DATABASE_URL": _with_user(url, WORKER_ROLE)},
            logs / "worker.log",
        )
        ran = Service(
            f"http://127.0.0.1:{port}", url, cluster, redis, api, worker, [api.log, worker.log]
        )
        api.start()
        worker.start()
        try:
            ran.wait_healthy()
            yield ran
        finally:
            api.stop()
            worker.stop()


# ----------------------------------------------------------------- what benchmarks ask


def login(base: str, email: str) -> str:
    """A demo account's token (password lapor-demo)."""
    answer = httpx.post(
        f"{base}/graphql",
        json={"query": LOGIN, "variables": {"e": email, "p": "lapor-demo"}},
        timeout=30,
    ).json()
    return str(answer["data"]["authLogin"]["token"])


def _ids(base: str, query: str, variables: dict[str, str] | None = None) -> dict[str, str]:
    answer = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=30
    ).json()
    (found,) = answer["data"].values()
    return {row["code"]: row["id"] for row in found}


def region_id(base: str, code: str) -> str:
    """The global id of a region of the demo, by its code."""
    return _ids(base, "{ regions { id code } }")[code]


def agency_id(base: str, region: str, code: str) -> str:
    """The global id of an agency of the demo, by its region's global id and its code."""
    query = "query($r: ID) { agencies(regionId: $r) { id code } }"
    return _ids(base, query, {"r": region})[code]


async def scalar(url: str, sql: str, *args: object) -> int:
    """One number from SQL."""
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()
