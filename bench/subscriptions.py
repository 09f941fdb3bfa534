"""How fast a live inbox event reaches N subscribers of one API process, and what they cost.

Starts a throwaway PostgreSQL and Redis (tests/harness.py), migrates and seeds the demo data,
starts one `lapor api` process (uvicorn), opens `--subscribers` WebSocket connections that each
watch the DINKES inbox as its officer, then `--rounds` times has the coordinator verify a new
report to DINKES over HTTP. It prints the time from each mutation's response to each
subscriber's event (p50, p99, max) and the API process's resident memory per subscriber. The
clients share this process: once they are connected, their objects are frozen for the cyclic
collector (as the API's own are), so that the bench's own full collections are not counted as
delivery time.

    .venv/bin/python -m bench.subscriptions [--subscribers 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from api.app import GC_THRESHOLDS
from lapor.demo import seed_demo
from models import Agency, Region
from models.db import apply_migrations, connect_database, disconnect_database
from schema.ids import to_global_id
from tests.harness import PostgresCluster, RedisServer, free_port
from tests.live_client import LiveClient

ROOT = Path(__file__).resolve().parents[1]
LOGIN = 'mutation($e: String!) { authLogin(email: $e, password: "lapor-demo") { token } }'
SUBMIT = """mutation($r: ID!) { reportSubmit(input: {kind: COMPLAINT, title: "Antrean panjang",
  body: "Antrean lima jam", regionId: $r}) { report { id } errors { code } } }"""
VERIFY = """mutation($id: ID!, $a: [ID!]!) { reportVerify(reportId: $id, agencyIds: $a) {
  report { id } errors { code } } }"""
INBOX = """subscription($a: ID!) { inboxEvents(agencyId: $a) { kind at
  assignment { id status dueAt overdue report { trackingCode title status } } } }"""


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@contextlib.contextmanager
def _api(db: str, redis: str, subscribers: int, log: Path) -> Iterator[tuple[int, str]]:
    port = free_port()
    env = {
        **os.environ,
        "LAPOR_ENV": "test",
        "LAPOR_SECRET_KEY": secrets.token_urlsafe(32),  # there is no built-in one
        "LAPOR_DATABASE_URL": db,
        "LAPOR_REDIS_URL": redis,
        "LAPOR_LIVE_MAX_CONNECTIONS_PER_USER": str(subscribers + 10),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lapor", "api", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log.read_text())
            time.sleep(0.2)
        yield proc.pid, base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


async def _gql(http: httpx.AsyncClient, query: str, token: str | None, **variables: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body = response.json()
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


async def _open(url: str, token: str, agency: str) -> LiveClient:
    deadline = time.monotonic() + 30
    while True:  # the process may still be subscribing to Redis (1013)
        client = LiveClient(url)
        try:
            await client.open({"token": token}, seconds=30)
            break
        except Exception:
            await client.close()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    await client.subscribe("inbox", INBOX, {"a": agency})
    return client


async def _until(clients: list[LiveClient], count: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while any(len(c.arrivals["inbox"]) < count for c in clients):
        if time.monotonic() > deadline:
            late = sum(len(c.arrivals["inbox"]) < count for c in clients)
            closed = [c.closed for c in clients if c.closed][:3]
            raise RuntimeError(f"{late} subscribers still wait for event {count}; {closed}")
        await asyncio.sleep(0.02)


async def run(subscribers: int, rounds: int) -> None:
    with PostgresCluster() as pg, RedisServer() as redis:
        url = pg.create_database("lapor_bench_live")
        await apply_migrations(url)
        await connect_database(url, 5)
        await seed_demo(datetime.now(UTC))
        jember = await Region.get(code="35.09")
        agency = to_global_id("Agency", (await Agency.get(code="DINKES", region_id=jember.id)).id)
        region = to_global_id("Region", jember.id)
        await disconnect_database()

        log = Path(pg.dir or "/tmp") / "bench-api.log"
        with _api(url, redis.url, subscribers, log) as (pid, base):
            ws_url = base.replace("http://", "ws://") + "/graphql"
            async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                tokens = {
                    email: (await _gql(http, LOGIN, None, e=email))["token"]
                    for email in ("warga@jember.demo", "koordinator@jember.demo")
                }
                officer = (await _gql(http, LOGIN, None, e="dinkes@jember.demo"))["token"]

                async def event() -> tuple[float, float]:
                    """A new report verified to DINKES; when its mutation was sent and answered."""
                    report = await _gql(http, SUBMIT, tokens["warga@jember.demo"], r=region)
                    sent = time.monotonic()
                    await _gql(
                        http,
                        VERIFY,
                        tokens["koordinator@jember.demo"],
                        id=report["report"]["id"],
                        a=[agency],
                    )
                    return sent, time.monotonic()

                # Warm the process's code paths with one subscriber, then measure from rest.
                warm = await _open(ws_url, officer, agency)
                await event()
                await _until([warm], 1, 30)
                await warm.close()
                await asyncio.sleep(1.0)
                rss_before = _rss_kib(pid)

                clients: list[LiveClient] = []
                for start in range(0, subscribers, 100):
                    batch = range(start, min(start + 100, subscribers))
                    clients += await asyncio.gather(
                        *(_open(ws_url, officer, agency) for _ in batch)
                    )
                # The 2,000 clients live in this one process: its own full collections (every
                # client's objects walked, ~150 ms) would stamp arrivals late, as if the server
                # had been slow (one round in five showed it). Real clients are apart; here the
                # clients' objects are frozen and collected as the API's are (api/app.py).
                gc.collect()
                gc.freeze()
                gc.set_threshold(*GC_THRESHOLDS)
                # A first event proves every subscription is in place (not measured).
                await event()
                await _until(clients, 1, 300)
                await asyncio.sleep(1.0)
                rss_with = _rss_kib(pid)

                delays: list[float] = []  # from the mutation's response
                since_sent: list[float] = []  # from its request
                for r in range(1, rounds + 1):
                    sent, answered = await event()
                    await _until(clients, r + 1, 300)
                    arrived = [c.arrivals["inbox"][r][0] for c in clients]
                    delays += [t - answered for t in arrived]
                    since_sent += [t - sent for t in arrived]
                for client in clients:
                    await client.close()

    print(f"live inbox: {subscribers} subscribers on one API process, {rounds} events each")
    for what, times in (("response", delays), ("request", since_sent)):
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(
            f"  mutation {what:8} -> event: p50 {statistics.median(times) * 1000:7.1f} ms   "
            f"p99 {p99 * 1000:7.1f} ms   max {times[-1] * 1000:7.1f} ms   "
            f"({len(times)} deliveries)"
        )
    print(
        f"  API process RSS: {rss_before / 1024:.1f} MiB idle, {rss_with / 1024:.1f} MiB with "
        f"{subscribers} subscribers = {(rss_with - rss_before) / subscribers:.1f} KiB each"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not 1 <= args.subscribers <= 5000:
        parser.error("--subscribers must be between 1 and 5000")
    asyncio.run(run(args.subscribers, args.rounds))


if __name__ == "__main__":
    main()
