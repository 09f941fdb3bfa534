"""How fast a live inbox event reaches N subscribers of one API process, and what they cost,
each figure a ratio to a raw floor measured in the same run.

Starts a throwaway PostgreSQL and Redis (tests/harness.py), migrates and seeds the demo data,
and starts two processes on the same database, Redis and secret: one `lapor api` (uvicorn) and
its floor (bench/live_floor.py: the same stack minus GraphQL, doing Lapor's work for this
subscription and answering the same frames). Both hear every event; the events are the
coordinator verifying a new report to DINKES over HTTP to Lapor.

1. Equality: one subscriber on each side watches the DINKES inbox as its officer; one event;
   the text of the floor's `next` frame must be Lapor's, byte for byte. If not, the bench
   prints where they differ and exits with status 1: unequal answers are never timed.
2. `--cycles` times, the floor then Lapor (only one side has subscribers at a time: the other
   side's are all closed first): `--subscribers` WebSocket connections that each watch the
   DINKES inbox as its officer, a first event that proves every subscription is in place, then
   `--rounds` events. For each side, over all its deliveries: the time from each mutation's
   request and from its response to each subscriber's event (p50, p99, max), and the process's
   resident memory per subscriber (with N subscribers, in the first cycle, against the same
   process warm and idle); then Lapor/floor of the p99s and of the memory per subscriber.

The clients share this process: once they are connected, their objects are frozen for the
cyclic collector (as the API's own are), so that the bench's own full collections are not
counted as delivery time; they are unfrozen when they are closed.

    .venv/bin/python -m bench.subscriptions [--subscribers 2000] [--rounds 5] [--cycles 2]
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
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from api.app import settle_collector
from bench.live_floor import AGENCY_VARIABLE, INBOX
from bench.read_path import byte_diff, differences
from bench.service import log_problems, start, stop, wait_healthy
from lapor.demo import seed_demo
from models import Agency, Region
from models.db import apply_migrations, connect_database, disconnect_database
from schema.ids import to_global_id
from tests.harness import PostgresCluster, RedisServer, free_port
from tests.live_client import LiveClient

LOGIN = 'mutation($e: String!) { authLogin(email: $e, password: "lapor-demo") { token } }'
SUBMIT = """mutation($r: ID!) { reportSubmit(input: {kind: COMPLAINT, title: "Antrean panjang",
  body: "Antrean lima jam", regionId: $r}) { report { id } errors { code } } }"""
VERIFY = """mutation($id: ID!, $a: [ID!]!) { reportVerify(reportId: $id, agencyIds: $a) {
  report { id } errors { code } } }"""
SID = "inbox"  # every client's subscription id, on both sides


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@dataclass
class Side:
    """One server under test: its name, process and WebSocket URL."""

    name: str
    pid: int
    ws_url: str


@contextlib.contextmanager
def _servers(
    db: str, redis: str, subscribers: int, api_log: Path, floor_log: Path
) -> Iterator[tuple[Side, Side, str]]:
    """`lapor api` and the floor on the same database, Redis and secret: (floor, Lapor, Lapor's
    HTTP base)."""
    env = {
        **os.environ,
        "LAPOR_ENV": "test",
        "LAPOR_SECRET_KEY": secrets.token_urlsafe(32),  # there is no built-in one
        "LAPOR_DATABASE_URL": db,
        "LAPOR_REDIS_URL": redis,
        "LAPOR_LIVE_MAX_CONNECTIONS_PER_USER": str(subscribers + 10),
        # One citizen submits a report per event: far beyond the per-user limits.
        "LAPOR_RATE_LIMITS": "false",
    }
    api_port, floor_port = free_port(), free_port()
    api = start(["-m", "lapor", "api", "--port", str(api_port)], env, api_log)
    floor = start(["-m", "bench.live_floor", "--port", str(floor_port)], env, floor_log)
    processes: list[subprocess.Popen[bytes]] = [api, floor]
    try:
        base, floor_base = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{floor_port}"
        wait_healthy(f"{base}/readyz", api, api_log, seconds=30)
        wait_healthy(f"{floor_base}/readyz", floor, floor_log, seconds=30)
        yield (
            Side("floor", floor.pid, floor_base.replace("http://", "ws://") + "/graphql"),
            Side("Lapor", api.pid, base.replace("http://", "ws://") + "/graphql"),
            base,
        )
    finally:
        stop(processes, timeout=20)


async def _gql(http: httpx.AsyncClient, query: str, token: str | None, **variables: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body = response.json()
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


async def _open(url: str, token: str, agency: str, *, keep_frames: bool = False) -> LiveClient:
    """A client signed in as `token`'s user, subscribed to `agency`'s inbox as SID."""
    deadline = time.monotonic() + 30
    while True:  # the process may still be subscribing to Redis (1013)
        client = LiveClient(url, keep_frames=keep_frames)
        try:
            await client.open({"token": token}, seconds=30)
            break
        except Exception:
            await client.close()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    await client.subscribe(SID, INBOX, {AGENCY_VARIABLE: agency})
    return client


async def _until(clients: list[LiveClient], count: int, seconds: float) -> None:
    """Until every client has `count` events; RuntimeError, saying how many wait, after
    `seconds`."""
    deadline = time.monotonic() + seconds
    while any(len(c.arrivals[SID]) < count for c in clients):
        if time.monotonic() > deadline:
            late = sum(len(c.arrivals[SID]) < count for c in clients)
            closed = [c.closed for c in clients if c.closed][:3]
            raise RuntimeError(f"{late} subscribers still wait for event {count}; {closed}")
        await asyncio.sleep(0.02)


Event = Callable[[], Awaitable[tuple[float, float]]]


async def first_frames(
    lapor_url: str, floor_url: str, token: str, agency: str, event: Event
) -> tuple[str, str]:
    """One subscriber on each side; the text of the `next` frame each received for the same
    event (Lapor's, the floor's). A server files a subscription a little after it is sent, so
    events are made until both have heard one (at most three)."""
    clients = [await _open(url, token, agency, keep_frames=True) for url in (lapor_url, floor_url)]
    try:
        await asyncio.sleep(0.3)
        for _ in range(3):
            await event()
            with contextlib.suppress(RuntimeError):
                await _until(clients, 1, 10)
            lapor, floor = (_by_assignment(c) for c in clients)
            common = [key for key in reversed(lapor) if key in floor]
            if common:
                return lapor[common[0]], floor[common[0]]
        raise RuntimeError(f"no event reached both sides: {[c.messages for c in clients]}")
    finally:
        for client in clients:
            await client.close()


def _by_assignment(client: LiveClient) -> dict[str, str]:
    """A client's `next` frames by their assignment's id (one event per new assignment)."""
    found = {}
    for frame in client.frames[SID]:
        data = orjson.loads(frame)["payload"]["data"]
        found[str(data["inboxEvents"]["assignment"]["id"]) if data else ""] = frame
    return found


def frame_differences(lapor: str, floor: str) -> list[str]:
    """Where two `next` frames differ (nothing when they are the same text)."""
    if lapor == floor:
        return []
    try:
        found = differences(orjson.loads(lapor), orjson.loads(floor))
    except orjson.JSONDecodeError:
        found = []
    return found or [byte_diff(lapor.encode(), floor.encode())]


@dataclass
class Figures:
    """A side's deliveries over every cycle, and its memory."""

    since_sent: list[float] = field(default_factory=list)  # from the mutation's request
    since_answered: list[float] = field(default_factory=list)  # from its response
    rss_idle: int = 0  # KiB, warm, no subscriber
    rss_with: list[int] = field(default_factory=list)  # KiB with N subscribers, each cycle

    def p99(self, times: list[float]) -> float:
        """The 99th percentile of `times` (the nearest rank)."""
        ordered = sorted(times)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]

    def per_subscriber(self, subscribers: int) -> float:
        """KiB per subscriber, from the first cycle (later ones reuse the memory it took)."""
        return (self.rss_with[0] - self.rss_idle) / subscribers


async def _cycle(
    side: Side, token: str, agency: str, subscribers: int, rounds: int, event: Event
) -> tuple[list[float], list[float], int]:
    """`subscribers` clients on one side, `rounds` events: the delays from each mutation's
    request and response to each delivery, and the process's RSS with them (KiB)."""
    clients: list[LiveClient] = []
    try:
        for begin in range(0, subscribers, 100):
            batch = range(begin, min(begin + 100, subscribers))
            clients += await asyncio.gather(*(_open(side.ws_url, token, agency) for _ in batch))
        # The clients live in this one process: its own full collections (every client's
        # objects walked, ~150 ms) would stamp arrivals late, as if the server had been slow
        # (one round in five showed it). Real clients are apart; here the clients' objects are
        # frozen and collected as the API's are (api/app.py).
        settle_collector()
        # A first event proves every subscription is in place (not measured).
        await event()
        await _until(clients, 1, 300)
        await asyncio.sleep(1.0)
        rss_with = _rss_kib(side.pid)
        since_sent: list[float] = []
        since_answered: list[float] = []
        for r in range(1, rounds + 1):
            sent, answered = await event()
            await _until(clients, r + 1, 300)
            arrived = [c.arrivals[SID][r][0] for c in clients]
            since_sent += [t - sent for t in arrived]
            since_answered += [t - answered for t in arrived]
        return since_sent, since_answered, rss_with
    finally:
        for client in clients:
            await client.close()
        gc.unfreeze()  # the closed clients may go now
        gc.collect()


async def run(subscribers: int, rounds: int, cycles: int) -> int:
    """The bench; its exit status (1 when the floor's frame differs from Lapor's)."""
    load = _load()
    with PostgresCluster() as pg, RedisServer() as redis:
        url = pg.create_database("lapor_bench_live")
        await apply_migrations(url)
        await connect_database(url, 5)
        await seed_demo(datetime.now(UTC))
        jember = await Region.get(code="35.09")
        agency = to_global_id("Agency", (await Agency.get(code="DINKES", region_id=jember.id)).id)
        region = to_global_id("Region", jember.id)
        await disconnect_database()

        logs = [Path(pg.dir or "/tmp") / name for name in ("bench-api.log", "bench-floor.log")]
        with _servers(url, redis.url, subscribers, *logs) as (floor, lapor, base):
            async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                tokens = {
                    email: (await _gql(http, LOGIN, None, e=email))["token"]
                    for email in ("warga@jember.demo", "koordinator@jember.demo")
                }
                officer = (await _gql(http, LOGIN, None, e="dinkes@jember.demo"))["token"]

                async def event() -> tuple[float, float]:
                    """A new report verified to DINKES; when its mutation was sent and answered."""
                    report = await _gql(http, SUBMIT, tokens["warga@jember.demo"], r=region)
                    assert report["errors"] == [], report
                    sent = time.monotonic()
                    verified = await _gql(
                        http,
                        VERIFY,
                        tokens["koordinator@jember.demo"],
                        id=report["report"]["id"],
                        a=[agency],
                    )
                    answered = time.monotonic()
                    assert verified["errors"] == [], verified
                    return sent, answered

                # Equal frames first; this also warms both processes' code paths.
                expected, answered = await first_frames(
                    lapor.ws_url, floor.ws_url, officer, agency, event
                )
                found = frame_differences(expected, answered)
                if found:
                    print("the floor's `next` frame differs from Lapor's:")
                    for line in found:
                        print(f"    {line}")
                    return 1
                print(
                    f"live inbox: {subscribers} subscribers on one process, {rounds} events "
                    f"each, {cycles} cycle(s) of the floor then Lapor; {os.cpu_count()} cores, "
                    f"load average {load} before"
                )
                print(
                    f"  the floor's `next` frame is Lapor's, byte for byte ({len(expected)} bytes)"
                )
                await asyncio.sleep(1.0)
                figures = {
                    side.name: Figures(rss_idle=_rss_kib(side.pid)) for side in (floor, lapor)
                }

                for cycle in range(1, cycles + 1):
                    for side in (floor, lapor):
                        sent, since_answered, rss_with = await _cycle(
                            side, officer, agency, subscribers, rounds, event
                        )
                        mine = figures[side.name]
                        mine.since_sent += sent
                        mine.since_answered += since_answered
                        mine.rss_with.append(rss_with)
                        print(
                            f"  cycle {cycle} {side.name:5}: p99 from the request "
                            f"{mine.p99(sent) * 1000:7.1f} ms, RSS {rss_with / 1024:.1f} MiB",
                            flush=True,
                        )
                        await asyncio.sleep(1.0)  # the server lets the closed ones go
        problems = log_problems(logs)

    _report(figures, subscribers)
    print(f"  load average {_load()} after")
    print(f"  log lines at warning or error, and tracebacks: {len(problems)}")
    for line in problems[:10]:
        print(f"    {line}")
    return 0


def _load() -> str:
    """The load averages (1, 5, 15 minutes), as /proc/loadavg gives them."""
    return " ".join(f"{figure:.2f}" for figure in os.getloadavg())


def _report(figures: dict[str, Figures], subscribers: int) -> None:
    """Each side's figures, then Lapor/floor."""
    for name, mine in figures.items():
        for what, times in (("request", mine.since_sent), ("response", mine.since_answered)):
            ordered = sorted(times)
            print(
                f"  {name:5} mutation {what:8} -> event: p50 "
                f"{statistics.median(ordered) * 1000:7.1f} ms   p99 {mine.p99(ordered) * 1000:7.1f}"
                f" ms   max {ordered[-1] * 1000:7.1f} ms   ({len(ordered)} deliveries)"
            )
        print(
            f"  {name:5} process RSS: {mine.rss_idle / 1024:.1f} MiB idle, "
            f"{mine.rss_with[0] / 1024:.1f} MiB with {subscribers} subscribers = "
            f"{mine.per_subscriber(subscribers):.1f} KiB each"
        )
    floor, lapor = figures["floor"], figures["Lapor"]
    print(
        "  Lapor/floor: p99 from the request "
        f"{lapor.p99(lapor.since_sent) / floor.p99(floor.since_sent):.2f}, from the response "
        f"{lapor.p99(lapor.since_answered) / floor.p99(floor.since_answered):.2f}; "
        f"memory per subscriber "
        f"{lapor.per_subscriber(subscribers) / floor.per_subscriber(subscribers):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cycles", type=int, default=2)
    args = parser.parse_args()
    if not 1 <= args.subscribers <= 5000:
        parser.error("--subscribers must be between 1 and 5000")
    if args.rounds < 1 or args.cycles < 1:
        parser.error("--rounds and --cycles must be at least 1")
    sys.exit(asyncio.run(run(args.subscribers, args.rounds, args.cycles)))


if __name__ == "__main__":
    main()
