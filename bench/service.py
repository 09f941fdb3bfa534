"""What the benches that run Lapor as deployed share: a database prepared with the demo and a
role per process (so that pg_stat_statements counts each process's statements apart), the
processes themselves (`lapor api`, `lapor worker`, a floor) started and stopped, signing in,
and reading pg_stat_statements.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from lapor.servers import PostgresServer, free_port
from models.db import apply_migrations, database
from tests.harness import PostgresCluster, RedisServer, find_pg_bindir

ROOT = Path(__file__).resolve().parents[1]
# PostgreSQL settings of a cluster whose statements the bench counts.
STATEMENTS = {"shared_preload_libraries": "pg_stat_statements", "max_connections": "100"}
LOGIN = "mutation($e:String!,$p:String!){authLogin(email:$e,password:$p){token errors{code}}}"


@contextlib.contextmanager
def kept_server(keep: str, settings: Mapping[str, str] = STATEMENTS) -> Iterator[PostgresServer]:
    """A running PostgreSQL server with `settings` whose cluster stays in `keep` after it
    stops, for a bench to use its filled database again."""
    bindir = find_pg_bindir()
    if bindir is None:
        raise SystemExit("no PostgreSQL server binaries")
    server = PostgresServer(Path(keep) / "data", bindir=bindir, fast=True, settings=settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def database_exists(server_url: str, name: str) -> bool:
    """Whether the server at `server_url` has a database `name` (a kept cluster's)."""
    conn = await asyncpg.connect(server_url)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def prepare(url: str, roles: Iterable[str]) -> None:
    """Migrate, seed the demo, load pg_stat_statements and make a login role per process."""
    from lapor.demo import seed_demo

    await apply_migrations(url)
    async with database(url):
        await seed_demo(datetime.now(UTC))
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        for role in roles:  # roles belong to the cluster: a kept one has them already
            if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                await conn.execute(f"CREATE ROLE {role} LOGIN SUPERUSER")
    finally:
        await conn.close()


def with_user(url: str, user: str) -> str:
    """The same database URL, connecting as `user`."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{user}@{rest.split('@', 1)[1]}"


def production_env(redis_url: str, secret: str | None = None) -> dict[str, str]:
    """Our environment as `lapor api` and `lapor worker` run in production: a random secret
    (unless given), no SMTP; the rate limits off (a bench's few accounts sign in and submit
    far beyond them) and no metrics port (benches run beside other servers)."""
    env = {
        **os.environ,
        "LAPOR_ENV": "production",
        "LAPOR_SECRET_KEY": secret or secrets.token_urlsafe(32),
        "LAPOR_REDIS_URL": redis_url,
        "LAPOR_RATE_LIMITS": "false",
        "LAPOR_METRICS_PORT": "0",
    }
    env.pop("LAPOR_SMTP_HOST", None)
    return env


def start(args: Sequence[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`python ARGS` (e.g. `-m lapor api`) in the repository, both streams into `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(processes: Iterable[subprocess.Popen[bytes]], timeout: float = 40) -> None:
    """SIGTERM to each, then SIGKILL to what has not stopped within `timeout` seconds."""
    processes = list(processes)
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_healthy(
    url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 60
) -> None:
    """Until GET `url` answers 200; exits with the log if the process dies or is late."""
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{log.name}: the process did not start:\n{log.read_text()}")
        time.sleep(0.2)


def login(base: str, email: str, password: str = "lapor-demo") -> str:
    """A bearer token from `authLogin`."""
    answer = httpx.post(
        f"{base}/graphql",
        json={"query": LOGIN, "variables": {"e": email, "p": password}},
        timeout=30,
    ).json()
    return str(answer["data"]["authLogin"]["token"])


async def statement_calls(url: str) -> dict[str, int]:
    """Statements run in this database since the last reset, by role."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT r.rolname, sum(s.calls)::bigint AS calls FROM pg_stat_statements s "
            "JOIN pg_roles r ON r.oid = s.userid WHERE s.dbid = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) GROUP BY 1"
        )
        return {row["rolname"]: int(row["calls"]) for row in rows}
    finally:
        await conn.close()


async def top_statements(
    url: str, role: str, limit: int = 12, width: int = 110
) -> list[tuple[int, float, str]]:
    """(calls, mean ms, query on one line cut to `width`) of `role`'s most frequent statements
    since the last reset."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT s.calls, s.mean_exec_time, s.query FROM pg_stat_statements s JOIN pg_roles r "
            "ON r.oid = s.userid WHERE r.rolname = $1 ORDER BY s.calls DESC, s.query LIMIT $2",
            role,
            limit,
        )
        return [
            (int(r["calls"]), float(r["mean_exec_time"]), " ".join(r["query"].split())[:width])
            for r in rows
        ]
    finally:
        await conn.close()


async def reset_statements(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SELECT pg_stat_statements_reset()")
    finally:
        await conn.close()


async def scalar(url: str, sql: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


def machine() -> str:
    """The line a bench prints first: the cores and how busy the machine was before it."""
    return (
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before the run "
        "(other work on the machine shows in the figures)"
    )


def log_problems(logs: Iterable[Path]) -> list[str]:
    """Lines at warning level or above, and tracebacks, in the processes' logs."""
    problems = []
    for path in logs:
        for line in path.read_text(errors="replace").splitlines():
            try:
                level = json.loads(line).get("level")
            except ValueError:
                level = "error" if "Traceback" in line or "Error" in line else None
            if level in ("error", "warning", "critical") or "Traceback" in line:
                problems.append(f"{path.name}: {line[:300]}")
    return problems


# ------------------------------------------------- a service to break (bench/faults.py)


@dataclass
class LaporProcess:
    """`python -m lapor ARGS` as a process of its own, its output appended to `log`: started,
    killed (SIGKILL, as a crash or the OOM killer does) and started again alike."""

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
        """SIGKILL: nothing of the process runs again."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@dataclass
class Service:
    """One `lapor api` and one `lapor worker` on a PostgreSQL and a Redis of their own, any of
    which a bench may stop, kill and start again."""

    base: str
    database_url: str
    cluster: PostgresCluster
    redis: RedisServer
    api: LaporProcess
    worker: LaporProcess

    @property
    def logs(self) -> list[Path]:
        return [self.api.log, self.worker.log]


API_ROLE, WORKER_ROLE = "lapor_api", "lapor_worker"


@contextlib.contextmanager
def service(
    logs: Path, *, durable: bool = True, env: Mapping[str, str] | None = None
) -> Iterator[Service]:
    """PostgreSQL (durable unless told: fsync and synchronous commit on, as in production),
    Redis, the demo, one API and one worker as in production, each under a role of its own;
    all stopped and removed afterwards."""
    with PostgresCluster(durable=durable, settings=STATEMENTS) as cluster, RedisServer() as redis:
        url = cluster.create_database("lapor_bench")
        asyncio.run(prepare(url, (API_ROLE, WORKER_ROLE)))
        common = {**production_env(redis.url), **(env or {})}
        port = free_port()
        api = LaporProcess(
            ["api", "--port", str(port)],
            {**common, "LAPOR_DATABASE_URL": with_user(url, API_ROLE)},
            logs / "api.log",
        )
        worker = LaporProcess(
            ["worker"],
            {**common, "LAPOR_DATABASE_URL": with_user(url, WORKER_ROLE)},
            logs / "worker.log",
        )
        ran = Service(f"http://127.0.0.1:{port}", url, cluster, redis, api, worker)
        api.start()
        worker.start()
        try:
            assert api.process is not None
            wait_healthy(f"{ran.base}/healthz", api.process, api.log)
            yield ran
        finally:
            stop(p.process for p in (api, worker) if p.process is not None)


def _codes_and_ids(
    base: str, query: str, variables: dict[str, str] | None = None
) -> dict[str, str]:
    answer = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=30
    ).json()
    (found,) = answer["data"].values()
    return {row["code"]: row["id"] for row in found}


def region_id(base: str, code: str) -> str:
    """The global id of a region of the demo, by its code."""
    return _codes_and_ids(base, "{ regions { id code } }")[code]


def agency_id(base: str, region: str, code: str) -> str:
    """The global id of an agency of the demo, by its region's global id and its code."""
    query = "query($r: ID) { agencies(regionId: $r) { id code } }"
    return _codes_and_ids(base, query, {"r": region})[code]
