"""How fast events become notifications: one event to many recipients, and what one worker
sustains.

On a throwaway PostgreSQL and Redis (tests/harness.py), with the demo data:

1. One event to `--recipients` people: a public report with that many followers gets an
   interim follow-up (through the real use case); the fan-out that stores one notification
   per (event, recipient, channel) is timed, then the after-commit part (each in-app
   notification published on Redis, the e-mail deliveries enqueued), `--repeat` times.
2. One worker, sustained: `--events` follow-ups on reports with `--audience` followers each
   are enqueued as the API does after commit, then one real `lapor worker` process (a
   subprocess, as deployed; no SMTP: in-app notifications only) drains them. Its throughput
   is the notifications stored over the time from the first fan-out job's start to the last
   one's end, read from the worker's own log line per job.

    .venv/bin/python -m bench.fanout [--recipients 1000] [--repeat 5] [--events 2000]
                                     [--audience 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from arq.connections import RedisSettings, create_pool
from tortoise import connections

from core.dispatch import ArqOutboxDispatcher
from core.settings import get_settings
from domain.auth import hash_password
from domain.services import assignments, fanout, reports
from domain.services.accounts import actor_for_user
from domain.services.outbox import OutboxEntry
from domain.services.reports import SubmitInput
from lapor.demo import seed_demo
from models import Agency, Assignment, Notification, OutboxMessage, Region, Support, User
from models.db import apply_migrations, connect_database, disconnect_database
from models.enums import ReportKind, ResolutionTier
from tests.harness import PostgresCluster, RedisServer
from workers.relay import RELAY

ROOT = Path(__file__).resolve().parents[1]


async def _public_report_with_followers(followers: int) -> int:
    """A verified, accepted report with `followers` supporters; returns its assignment id."""
    now = datetime.now(UTC)
    region = await Region.get(code="35.09")
    dinkes = await Agency.get(code="DINKES", region_id=region.id)
    citizen = await actor_for_user((await User.get(email="warga@jember.demo")).id)
    coordinator = await actor_for_user((await User.get(email="koordinator@jember.demo")).id)
    officer = await actor_for_user((await User.get(email="dinkes@jember.demo")).id)
    submitted = await reports.submit(
        citizen,
        now,
        SubmitInput(ReportKind.COMPLAINT, "Jalan rusak", "Berlubang.", region.id),
    )
    report = submitted.report
    await reports.verify(coordinator, now, report.id, [dinkes.id], None, None)
    assignment = await Assignment.get(report_id=report.id)
    await assignments.accept(officer, now, assignment.id, ResolutionTier.STANDARD)
    tag = uuid.uuid4().hex[:8]
    password = hash_password("pengikut-bench")
    await User.bulk_create(
        [
            User(name=f"P{i}", email=f"p{i}-{tag}@bench", password_hash=password, created_at=now)
            for i in range(followers)
        ],
        batch_size=1000,
    )
    ids = await User.filter(email__endswith=f"-{tag}@bench").values_list("id", flat=True)
    await Support.bulk_create(
        [Support(report_id=report.id, user_id=uid, created_at=now) for uid in ids],
        batch_size=1000,
    )
    return assignment.id


async def _follow_up(assignment_id: int) -> list[OutboxEntry]:
    officer = await actor_for_user((await User.get(email="dinkes@jember.demo")).id)
    done = await assignments.follow_up(
        officer, datetime.now(UTC), assignment_id, "Sedang dikerjakan", False, None
    )
    return done.outbox


async def one_event(recipients: int, repeat: int, redis_url: str) -> None:
    assignment_id = await _public_report_with_followers(recipients)
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    store, after, rows = [], [], 0
    try:
        for _ in range(repeat):
            [entry] = await _follow_up(assignment_id)
            t0 = time.perf_counter()
            done = await fanout.fan_out(datetime.now(UTC), email_enabled=True, outbox_id=entry.id)
            t1 = time.perf_counter()
            assert done is not None
            await ArqOutboxDispatcher(pool).notify(done.in_app)
            await ArqOutboxDispatcher(pool).deliver(done.deliveries)
            t2 = time.perf_counter()
            store.append(t1 - t0)
            after.append(t2 - t1)
            rows = await Notification.filter(event_id=done.event_id).count()
    finally:
        await pool.aclose()
    s, a = statistics.median(store), statistics.median(after)
    print(
        f"one event to {recipients:,} followers (+ reporter and coordinators): {rows:,} "
        f"notifications per event"
    )
    print(f"  store (one transaction): {s * 1000:7.1f} ms   = {rows / s:8.0f} notifications/s")
    print(f"  publish + enqueue:       {a * 1000:7.1f} ms   (in-app pushed live, e-mails queued)")
    print(
        f"  whole fan-out:           {(s + a) * 1000:7.1f} ms   = {rows / (s + a):8.0f} "
        f"notifications/s   (median of {repeat})"
    )


def _relay_window(log: Path, outbox_ids: list[int]) -> tuple[float, list[float]]:
    """From the relay's own line per row: seconds from the first row's start to the last one's
    end, and each row's seconds."""
    wanted = set(outbox_ids)
    starts: list[float] = []
    ends: list[float] = []
    durations: list[float] = []
    for text in log.read_text(errors="replace").splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if line.get("job") != RELAY or line.get("outbox_id") not in wanted or "ms" not in line:
            continue
        end = datetime.fromisoformat(line["ts"]).timestamp()
        seconds = line["ms"] / 1000
        starts.append(end - seconds)
        ends.append(end)
        durations.append(seconds)
    return (max(ends) - min(starts) if ends else float("nan")), durations


async def sustained(events: int, audience: int, db_url: str, redis_url: str, logs: Path) -> None:
    entries: list[OutboxEntry] = []
    per_report = 10
    for _ in range(max(1, events // per_report)):
        assignment_id = await _public_report_with_followers(audience)
        for _ in range(per_report):
            entries += await _follow_up(assignment_id)
    outbox_ids = [entry.id for entry in entries]
    # The set-up's own events (submissions, verifications, acceptances) are not measured: they
    # are marked relayed, so the worker's periodic drain finds only the measured ones.
    await (
        OutboxMessage.filter(dispatched_at__isnull=True)
        .exclude(id__in=outbox_ids)
        .update(dispatched_at=datetime.now(UTC))
    )
    env = {
        **os.environ,
        "LAPOR_ENV": "test",
        "LAPOR_DATABASE_URL": db_url,
        "LAPOR_REDIS_URL": redis_url,
    }
    env.pop("LAPOR_SMTP_HOST", None)  # no SMTP: no e-mail deliveries are created
    log_path = logs / "worker.log"
    with log_path.open("wb") as log:
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "lapor", "worker", cwd=ROOT, env=env, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 600
        while await OutboxMessage.filter(id__in=outbox_ids, dispatched_at__isnull=True).exists():
            assert time.monotonic() < deadline and worker.returncode is None, "the worker stopped"
            await asyncio.sleep(0.2)
    finally:
        worker.terminate()
        await asyncio.wait_for(worker.wait(), 60)
    event_ids = await OutboxMessage.filter(id__in=outbox_ids).values_list("event_id", flat=True)
    count = await Notification.filter(event_id__in=list(event_ids)).count()
    seconds, jobs = _relay_window(log_path, outbox_ids)
    print(
        f"one `lapor worker` (its outbox relay, {get_settings().relay_concurrency} rows at a "
        f"time; no SMTP: in-app only), {len(outbox_ids):,} events of "
        f"{count / len(outbox_ids):.0f} recipients each:"
    )
    print(
        f"  {count:,} notifications in {seconds:.2f} s (first row's start to last row's end) = "
        f"{count / seconds:,.0f} notifications/s, {len(outbox_ids) / seconds:,.0f} events/s"
    )
    concurrency = get_settings().relay_concurrency
    await _print_statements(db_url)
    floor = await insert_floor(db_url, list(event_ids), concurrency)  # type: ignore[arg-type]
    print(
        f"  floor: the same rows inserted with asyncpg, one transaction per event, "
        f"{concurrency} at a time: {floor:,.0f} notifications/s; the worker is "
        f"{count / seconds / floor:.2f}x the floor"
    )
    if not jobs:
        print(f"  (no job lines in the worker's log, {log_path.name}: its format changed?)")
        return
    print(f"  a row takes {statistics.median(jobs) * 1000:.1f} ms (median of {len(jobs):,})")


_COLUMNS = (
    "user_id, agency_id, event_id, report_id, channel, kind, message, created_at, status, "
    "delivered_at, next_attempt_at"
)
_FLOOR_INSERT = (
    f"INSERT INTO notification ({_COLUMNS}, attempts, round) SELECT *, 0, 0 FROM unnest("
    "$1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], "
    "$7::text[], $8::timestamptz[], $9::text[], $10::timestamptz[], $11::timestamptz[])"
)


async def _print_statements(db_url: str) -> None:
    """The worker's statements by the database time they took (pg_stat_statements)."""
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch(
            "SELECT calls, total_exec_time, query FROM pg_stat_statements "
            "WHERE calls > 100 ORDER BY total_exec_time DESC LIMIT 6"
        )
    finally:
        await conn.close()
    print("  the database's time by statement (pg_stat_statements, the whole run):")
    for row in rows:
        mean = row["total_exec_time"] / row["calls"]
        print(f"    {row['calls']:7d} x {mean:6.3f} ms  {' '.join(row['query'].split())[:80]}")


async def insert_floor(db_url: str, event_ids: list[int], concurrency: int) -> float:
    """Notifications per second when the worker's rows are stored with nothing else to do: they
    are read, deleted, and inserted again with asyncpg, one transaction per event (all of an
    event's rows in one statement), `concurrency` events at a time."""
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM notification WHERE event_id = ANY($1::bigint[]) ORDER BY id",
            event_ids,
        )
        await conn.execute("DELETE FROM notification WHERE event_id = ANY($1::bigint[])", event_ids)
    finally:
        await conn.close()
    by_event: dict[int, list[asyncpg.Record]] = {}
    for row in rows:
        by_event.setdefault(row["event_id"], []).append(row)
    batches = [[list(column) for column in zip(*group, strict=True)] for group in by_event.values()]
    pool = await asyncpg.create_pool(db_url, min_size=concurrency, max_size=concurrency)
    try:
        pending = iter(batches)

        async def insert_all() -> None:
            async with pool.acquire() as connection:
                for columns in pending:
                    async with connection.transaction():
                        await connection.execute(_FLOOR_INSERT, *columns)

        started = time.perf_counter()
        await asyncio.gather(*(insert_all() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    finally:
        await pool.close()
    return len(rows) / seconds


async def run(recipients: int, repeat: int, events: int, audience: int) -> None:
    settings = {"shared_preload_libraries": "pg_stat_statements"}
    with PostgresCluster(settings=settings) as cluster, RedisServer() as redis:
        url = cluster.create_database("lapor_bench_fanout")
        await apply_migrations(url)
        await connect_database(url, 10)
        await connections.get("default").execute_script(
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
        )
        try:
            await seed_demo(datetime.now(UTC))
            await one_event(recipients, repeat, redis.url)
            with tempfile.TemporaryDirectory(prefix="lapor-bench-") as logs:
                await sustained(events, audience, url, redis.url, Path(logs))
        finally:
            await disconnect_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--audience", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run(args.recipients, args.repeat, args.events, args.audience))


if __name__ == "__main__":
    main()
