"""How long the deadline sweep takes as open work grows while what is due stays the same.

For each size, a throwaway PostgreSQL (tests/harness.py) is filled, by set-based SQL, with
that many open assignments (each with its report; half PENDING, owing a first response, half
ACCEPTED, owing a resolution) whose next sweep step lies weeks ahead, plus the same `--due`
assignments for every size, whose deadline passed an hour ago (each due for a real breach,
written through the domain: an event, its outbox row and a sweep mark). Then one sweep runs
over it, and a sweep that finds nothing left (the median of five). The point: the time follows
the rows that are due, not all the open ones.

    .venv/bin/python -m bench.sweep [--open 10000,1000000] [--due 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime

from tortoise import connections

from domain.calendar import national_holidays
from domain.services.sweep import sweep
from lapor.demo import seed_demo
from models import Agency, Region, User
from models.db import apply_migrations, connect_database, disconnect_database
from tests.harness import PostgresCluster

IDLE_RUNS = 5  # sweeps with nothing due, timed after the first; the median is printed

# One report and one assignment per value i of generate_series({first}, {last}): odd i PENDING
# (its deadline is the first response's), even i ACCEPTED and answered (its deadline is the
# resolution's); {due} and {sweep} are SQL expressions of i.
FILL = """
INSERT INTO report (id, tracking_code, kind, title, body, anonymous, confidential,
    ombudsman_consent, status, region_id, reporter_id, created_at, updated_at, due_at,
    sweep_at, reopen_count, transfer_count, support_count)
SELECT i, 'LPR-B' || lpad(i::text, 9, '0'), 'COMPLAINT', 'Laporan ' || i, 'Isi', false, false,
    false, 'IN_PROGRESS', {region}, {reporter}, {now} - interval '20 days',
    {now} - interval '20 days', {due}, NULL, 0, 0, 0
FROM generate_series({first}, {last}) AS i;
INSERT INTO assignment (id, report_id, agency_id, status, tier, assigned_at, accepted_at,
    first_response_at, first_response_due_at, resolution_due_at, due_at, sweep_at,
    escalation_level, updated_at)
SELECT i, i, {agency}, a.status, a.tier, {now} - interval '20 days', a.accepted_at,
    a.accepted_at + interval '1 day', CASE WHEN a.accepted THEN {now} - interval '13 days'
    ELSE {due} END, CASE WHEN a.accepted THEN {due} END, {due}, {sweep}, 0,
    {now} - interval '18 days'
FROM generate_series({first}, {last}) AS i, LATERAL (
    SELECT i % 2 = 0 AS accepted,
        CASE WHEN i % 2 = 0 THEN 'ACCEPTED' ELSE 'PENDING' END AS status,
        CASE WHEN i % 2 = 0 THEN 'STANDARD' END AS tier,
        CASE WHEN i % 2 = 0 THEN {now} - interval '19 days' END AS accepted_at
) AS a;
"""


async def _fill(first: int, last: int, now: datetime, due: str, sweep_at: str) -> None:
    region = (await Region.get(code="35.09")).id
    agency = (await Agency.get(code="DINKES", region_id=region)).id
    reporter = (await User.get(email="warga@jember.demo")).id
    sql = FILL.format(
        first=first,
        last=last,
        now=f"'{now.isoformat()}'::timestamptz",
        due=due,
        sweep=sweep_at,
        region=region,
        agency=agency,
        reporter=reporter,
    )
    await connections.get("default").execute_script(sql)


async def one_size(cluster: PostgresCluster, open_rows: int, due_rows: int) -> dict[str, float]:
    url = cluster.create_database(f"lapor_sweep_{open_rows}")
    await apply_migrations(url)
    await connect_database(url, 10)
    try:
        now = datetime.now(UTC)
        await seed_demo(now)
        t0 = time.perf_counter()
        # Open work whose next step (a reminder) is four weeks away.
        await _fill(
            1,
            open_rows,
            now,
            "{now} + interval '30 days'".format(now=f"'{now.isoformat()}'::timestamptz"),
            "{now} + interval '28 days'".format(now=f"'{now.isoformat()}'::timestamptz"),
        )
        # Due work: the resolution deadline passed an hour ago; its reminder was two days ago.
        stamp = f"'{now.isoformat()}'::timestamptz"
        await _fill(
            open_rows + 1,
            open_rows + due_rows,
            now,
            f"{stamp} - interval '1 hour'",
            f"{stamp} - interval '2 days'",
        )
        db = connections.get("default")
        await db.execute_script(
            "SELECT setval(pg_get_serial_sequence('report', 'id'), (SELECT max(id) FROM report));"
            "SELECT setval(pg_get_serial_sequence('assignment', 'id'), "
            "(SELECT max(id) FROM assignment));"
        )
        for table in ("report", "assignment"):  # one statement each: VACUUM runs alone
            await db.execute_script(f"VACUUM ANALYZE {table}")
        built = time.perf_counter() - t0

        # A worker that sweeps every minute has the national holidays loaded (the `holidays`
        # package imports its countries on first use, about 40 ms): load them before timing.
        for year in (now.year - 1, now.year, now.year + 1):
            national_holidays(year)

        t0 = time.perf_counter()
        done = await sweep(now)
        first_run = time.perf_counter() - t0
        steps = sum(not a.skipped for a in done.actions)
        idle_runs = []
        for _ in range(IDLE_RUNS):
            t0 = time.perf_counter()
            again = await sweep(now)
            idle_runs.append(time.perf_counter() - t0)
            if again.rows_seen:
                print(f"  (a sweep after the first still saw {again.rows_seen:,} rows)")
        idle_run = statistics.median(idle_runs)
    finally:
        await disconnect_database()
    print(
        f"{open_rows:>9,} open + {due_rows:,} due assignments: built in {built:6.1f} s; "
        f"sweep saw {done.rows_seen:,} rows, took {steps:,} steps "
        f"({len(done.actions) - steps:,} skipped) in {first_run:6.2f} s = "
        f"{steps / first_run:5.0f} steps/s; nothing due: {idle_run * 1000:5.1f} ms"
    )
    return {"sweep": first_run, "idle": idle_run}


async def run(sizes: list[int], due_rows: int) -> None:
    with PostgresCluster() as cluster:
        results = [await one_size(cluster, size, due_rows) for size in sizes]
    if len(results) > 1:
        first, last = results[0], results[-1]
        grew = sizes[-1] / sizes[0]
        print(
            f"open work x{grew:.0f}: sweep time x{last['sweep'] / first['sweep']:.2f}, "
            f"idle sweep x{last['idle'] / first['idle']:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", default="10000,1000000", help="comma-separated sizes")
    parser.add_argument("--due", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(run([int(n) for n in args.open.split(",")], args.due))


if __name__ == "__main__":
    main()
