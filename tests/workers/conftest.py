"""Fixtures for the workers on the real stack: `lapor worker` processes on the session's
PostgreSQL and Redis, a real SMTP server and real webhook receivers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import trustme
from arq.connections import ArqRedis, RedisSettings, create_pool

from tests.harness import RedisServer
from tests.workers.receivers import SmtpServer

ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """Starts `lapor worker` processes with one environment; stops them all at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, **extra: str) -> subprocess.Popen[bytes]:
        log = self.logs / f"worker-{len(self.procs)}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "lapor", "worker"],
            cwd=ROOT,
            env={**self.env, **extra},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def sweep(self, *args: str) -> subprocess.Popen[bytes]:
        """A `lapor sweep` process (not waited for)."""
        return subprocess.Popen(
            [sys.executable, "-m", "lapor", "sweep", *args],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("*.log")))

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
async def clean_redis(redis_server: RedisServer) -> AsyncIterator[RedisServer]:
    """The session's Redis, emptied: job ids of earlier tests (ids restart per test) are gone."""
    client = aioredis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    yield redis_server


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[trustme.CA, Path]]:
    """A throwaway certificate authority, and its certificate in a PEM bundle."""
    authority = trustme.CA()
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    yield authority, bundle


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def workers(
    db: str, clean_redis: RedisServer, smtp: SmtpServer, tmp_path: Path
) -> Iterator[Workers]:
    env = {
        **os.environ,
        "LAPOR_ENV": "test",
        "LAPOR_DATABASE_URL": db,
        "LAPOR_REDIS_URL": clean_redis.url,
        "LAPOR_SMTP_HOST": "127.0.0.1",
        "LAPOR_SMTP_PORT": str(smtp.port),
        "LAPOR_DELIVERY_BACKOFF_SECONDS": "0.3",
        "LAPOR_DELIVERY_MAX_ATTEMPTS": "4",
        "LAPOR_WORKER_HEALTH_CHECK_SECONDS": "1",
        "LAPOR_SWEEP_EVERY_SECONDS": "2",
        # The webhook receivers are plain http on loopback: let them through (development).
        "LAPOR_WEBHOOK_ALLOW_HTTP": "true",
        "LAPOR_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
    }
    pool = Workers(env, tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture
async def arq(clean_redis: RedisServer) -> AsyncIterator[ArqRedis]:
    """An arq pool on the test Redis: what the API uses to wake the workers after a commit."""
    pool = await create_pool(RedisSettings.from_dsn(clean_redis.url))
    yield pool
    await pool.aclose()


async def eventually(
    check: Callable[[], Awaitable[Any]], seconds: float, explain: Callable[[], str] = str
) -> Any:
    """Poll `check` until it returns something truthy; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s\n{explain()}")
        await asyncio.sleep(0.1)


@contextlib.contextmanager
def env_var(name: str, value: str) -> Iterator[None]:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old
