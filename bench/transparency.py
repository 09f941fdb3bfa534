"""The transparency figures (issue 16): a full rebuild's time, the incremental cost per event,
and the public query's p99 next to a raw SQL floor answering the same bytes.

On a throwaway PostgreSQL (tests/harness.py) with the demo data and `--reports` reports filled
as bench/read_path.py fills them (spread over 400 days, about 1.01 assignments each), each
given the history its stored rows tell (verified, accepted, answered in the interim and in the
end, returned, responded, rated, handed over: set-based SQL, about 5 events a report):

1. the rebuild: `domain.services.transparency.rebuild`, as `lapor transparency-rebuild` runs
   it (one transaction, batches of `--batch` reports), with its progress;
2. the incremental fold: `--events` final answers written at once, then one catch-up (what a
   worker does after a burst), and `--singles` times one answer then one catch-up (a quiet
   service: the cost of one event alone);
3. the public query `agencyPerformance` (Jember's agencies over the busiest quarter) from
   `lapor api` as deployed, next to bench/floors.py's `/agency-performance`, which answers the
   same bytes from one SQL statement; compared byte for byte first, then `--rounds` rounds of
   `--seconds` each, `--connections` keep-alive connections (bench/load.py).

    .venv/bin/python -m bench.transparency [--reports 20000] [--batch 500] [--events 2000]
        [--singles 200] [--seconds 5] [--rounds 2] [--connections 8]

`--reports 1000000` is the issue's size (the fill alone takes minutes there).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import orjson

from bench import load, read_path
from bench.service import STATEMENTS, prepare
from domain.services import transparency
from models.db import database
from schema.ids import to_global_id
from tests.harness import PostgresCluster

DATABASE = "lapor_bench_transparency"

# Every history the stored rows tell, written as the use cases would have (one statement).
HISTORY = """
INSERT INTO report_event (report_id, assignment_id, kind, visibility, data, at)
SELECT report_id, NULL, 'report.verified', 'public', '{}'::jsonb, min(assigned_at)
    FROM assignment GROUP BY report_id
UNION ALL
SELECT report_id, id, 'assignment.accepted', 'public', '{}', accepted_at
    FROM assignment WHERE accepted_at IS NOT NULL
UNION ALL
SELECT report_id, id, 'assignment.follow_up', 'public',
        jsonb_build_object('due_at', first_response_due_at), first_response_at
    FROM assignment WHERE first_response_at IS NOT NULL AND responded_at IS NULL
UNION ALL
SELECT report_id, id, 'assignment.final_follow_up', 'public',
        jsonb_build_object('resolution', 'RESOLVED', 'due_at', first_response_due_at),
        responded_at
    FROM assignment WHERE responded_at IS NOT NULL
UNION ALL
SELECT report_id, id, 'assignment.returned', 'internal', '{}', updated_at
    FROM assignment WHERE status = 'RETURNED'
UNION ALL
SELECT r.id, NULL, 'report.responded', 'public', '{}', a.at
    FROM report r JOIN LATERAL (SELECT max(responded_at) AS at FROM assignment a
        WHERE a.report_id = r.id) AS a ON a.at IS NOT NULL
    WHERE r.status IN ('RESPONDED', 'CLOSED')
UNION ALL
SELECT id, NULL, 'report.rated', 'public', jsonb_build_object('rating', 1 + id % 5), updated_at
    FROM report WHERE status = 'CLOSED'
UNION ALL
SELECT id, NULL, 'report.escalated', 'public', '{}', updated_at
    FROM report WHERE status = 'ESCALATED'
"""

# `n` final answers to open assignments, spread over the table (the incremental fold's input).
ANSWERS = """
INSERT INTO report_event (report_id, assignment_id, kind, visibility, data, at)
SELECT report_id, id, 'assignment.final_follow_up', 'public',
    jsonb_build_object('resolution', 'RESOLVED', 'due_at', due_at), now()
FROM assignment WHERE status IN ('PENDING', 'ACCEPTED') AND id % $2::int = $3::int
ORDER BY id LIMIT $1::int
"""

PERFORMANCE = """query Performance($period: String!, $region: ID) {
  agencyPerformance(period: $period, regionId: $region) {
    period
    agency { code name }
    figures {
      received answered
      answeredOnTime { value sample rankable }
      resolutionMedianDays { value sample }
      ratingAverage { value sample }
    }
  }
}"""


async def add_histories(url: str) -> int:
    """Write the histories; forget the marks the fill left (the rebuild counts everything)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(HISTORY)
        await conn.execute("TRUNCATE perf_dirty")
        await conn.execute("VACUUM ANALYZE report_event")
        return int(await conn.fetchval("SELECT count(*) FROM report_event"))
    finally:
        await conn.close()


def _progress(p: transparency.Progress) -> None:
    left = "?" if p.seconds_left is None else f"{p.seconds_left:.0f} s"
    print(f"  {p.done:,}/{p.total:,} reports, {p.rate:,.0f}/s, {left} left", flush=True)


async def rebuild(url: str, batch: int) -> tuple[int, float]:
    async with database(url):
        started = time.perf_counter()
        shown = [0.0]

        def progress(p: transparency.Progress) -> None:
            if time.perf_counter() - shown[0] >= 5 or p.done >= p.total:
                shown[0] = time.perf_counter()
                _progress(p)

        done = await transparency.rebuild(datetime.now(UTC), batch, progress)
        return done, time.perf_counter() - started


async def incremental(url: str, events: int, singles: int) -> tuple[float, list[float]]:
    """Seconds per event of one fold after `events` answers; each single's fold in seconds."""
    conn = await asyncpg.connect(url)
    try:
        async with database(url):
            await conn.execute(ANSWERS, events, 2, 0)
            marked = int(await conn.fetchval("SELECT count(*) FROM perf_dirty"))
            started = time.perf_counter()
            await transparency.catch_up(datetime.now(UTC))
            burst = (time.perf_counter() - started) / max(marked, 1)
            alone = []
            for k in range(singles):
                await conn.execute(ANSWERS, 1, 2, 1 if k % 2 == 0 else 0)
                started = time.perf_counter()
                await transparency.catch_up(datetime.now(UTC))
                alone.append(time.perf_counter() - started)
            return burst, alone
    finally:
        await conn.close()


async def busiest_quarter(url: str) -> tuple[str, int]:
    """The quarter with the most reports, and Jember's id."""
    conn = await asyncpg.connect(url)
    try:
        month = await conn.fetchval(
            "SELECT month FROM perf_cell WHERE scope = 'region' AND measure = 'received' "
            "GROUP BY month ORDER BY sum(n) DESC LIMIT 1"
        )
        region = await conn.fetchval("SELECT id FROM region WHERE code = '35.09'")
    finally:
        await conn.close()
    return f"{month.year}-Q{(month.month - 1) // 3 + 1}", int(region)


async def query(
    target: read_path.Servers, period: str, region: int, args: argparse.Namespace
) -> bool:
    body = orjson.dumps(
        {
            "query": PERFORMANCE,
            "variables": {"period": period, "region": to_global_id("Region", region)},
        }
    )
    lapor_url, floor_url = f"{target.lapor}/graphql", f"{target.floor}/agency-performance"
    sent = {"Content-Type": "application/json", "Accept": "application/json"}
    async with httpx.AsyncClient(timeout=60) as client:
        lapor_page = (await client.post(lapor_url, content=body, headers=sent)).content
        floor_page = (await client.post(floor_url, content=body, headers=sent)).content
    print(f"agencyPerformance, Jember's agencies, {period}: {len(lapor_page):,} bytes")
    if lapor_page != floor_page:
        print("  the floor's page differs from Lapor's:")
        print("  " + read_path.byte_diff(lapor_page, floor_page))
        return False
    rates: dict[str, list[float]] = {"floor": [], "Lapor": []}
    p99s: dict[str, list[float]] = {"floor": [], "Lapor": []}
    for round_ in range(1, args.rounds + 1):
        for side, url in (("floor", floor_url), ("Lapor", lapor_url)):
            result = await load.run(
                url,
                [load.post(url, body)],
                connections=args.connections,
                seconds=args.seconds,
                warmup=read_path.WARMUP_SECONDS,
                check=read_path.same_page(lapor_page),
            )
            rates[side].append(result.rate)
            p99s[side].append(result.quantile(0.99))
            print(f"  {side:5} round {round_}: {result.summary()}")
            if result.errors:
                print(f"    errors {result.errors}; first: {result.first_error}")
                return False
    print(
        f"  floor {max(rates['floor']):,.1f} req/s, p99 "
        f"{statistics.median(p99s['floor']) * 1000:.1f} ms; Lapor {max(rates['Lapor']):,.1f} "
        f"req/s, p99 {statistics.median(p99s['Lapor']) * 1000:.1f} ms; Lapor/floor req/s "
        f"{max(rates['Lapor']) / max(rates['floor']):.3f}, p99 x"
        f"{statistics.median(p99s['Lapor']) / statistics.median(p99s['floor']):.1f}"
    )
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--events", type=int, default=2_000)
    parser.add_argument("--singles", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before the run "
        "(other work on the machine shows in the figures)"
    )
    with PostgresCluster(settings=STATEMENTS) as cluster:
        url = cluster.create_database(DATABASE)
        asyncio.run(prepare(url, (read_path.API_ROLE, read_path.FLOOR_ROLE)))
        slots = max(10, min(3000, args.reports // 20))
        filled = asyncio.run(
            read_path.fill(url, args.reports, dinkes_open=slots * 5 // 6, dinkes_closed=slots // 6)
        )
        events = asyncio.run(add_histories(url))
        print(f"{args.reports:,} reports filled in {filled.seconds:.1f} s; {events:,} events")

        print(f"rebuild, batches of {args.batch}:")
        done, seconds = asyncio.run(rebuild(url, args.batch))
        print(f"  rebuilt {done:,} reports in {seconds:.1f} s: {done / seconds:,.0f} reports/s")

        burst, alone = asyncio.run(incremental(url, args.events, args.singles))
        print(
            f"incremental: {args.events:,} answers folded at once: {burst * 1000:.3f} ms per "
            f"report; one answer then one fold, {args.singles} times: median "
            f"{statistics.median(alone) * 1000:.2f} ms, p99 "
            f"{statistics.quantiles(alone, n=100)[98] * 1000:.2f} ms"
        )

        period, region = asyncio.run(busiest_quarter(url))
        with tempfile.TemporaryDirectory(prefix="lapor-bench-") as logs:
            with read_path.servers(url, Path(logs)) as target:
                same = asyncio.run(query(target, period, region, args))
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
