"""Search and similar reports (issue 15) against a raw SQL floor of the same statement: how much
the service adds to what PostgreSQL takes, and whether the statements use the indexes.

On a throwaway PostgreSQL (tests/harness.py) with the demo data and `--reports` reports filled
as bench/read_path.py fills them (eight titles over three regions: a common word matches a
third of them, the worst case of a ranked search, which scores every match), each scenario is
run in process, one call after the other, `--runs` times after a warm-up:

- Lapor: the domain's use case as the resolver calls it (the policy's filter, the ORM's SQL,
  the rows, the views and the scores), without HTTP or GraphQL;
- the floor: the very statement Lapor sent (caught on its way, with its parameters) on a
  connection of its own, its rows fetched and nothing else.

It prints p50 and p99 of each and their ratio, and the plan of each statement (EXPLAIN
ANALYZE): the index scans and the rows it scored.

    .venv/bin/python -m bench.search [--reports 20000] [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.read_path import fill
from bench.service import STATEMENTS, machine, prepare
from domain.actor import PUBLIC, Actor
from domain.services import reports
from domain.services.accounts import actor_for_user
from domain.services.reading import PageRequest
from models import Region, Report, User, rows
from models.db import database
from tests.harness import PostgresCluster

DATABASE = "lapor_bench_search"
WARMUP = 3


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    call: Callable[[], Awaitable[Any]]


async def _scenarios(now: datetime) -> list[Scenario]:
    jember = await Region.get(code="35.09")
    coordinator = await actor_for_user((await User.get(email="koordinator@jember.demo")).id)
    report = await Report.filter(region_id=jember.id, status="IN_PROGRESS").order_by("-id").first()
    assert report is not None
    (view,) = (await reports.reports_by_ids(coordinator, [report.id])).values()
    page = PageRequest(20, None, 20, 100)

    def search(actor: Actor, term: str) -> Callable[[], Awaitable[Any]]:
        query = reports.ReportQuery(search=term)
        return lambda: reports.list_reports(actor, now, query, page)

    probe = reports.SimilarQuery(
        "Jalan berlubang di dekat pasar", "Lubangnya besar, motor jatuh.", jember.id
    )
    return [
        Scenario("common", 'search "jalan", public, first 20', search(PUBLIC, "jalan")),
        Scenario("rare", 'search "ktp elektronik", public', search(PUBLIC, "ktp elektronik")),
        Scenario("typo", 'search "penerangn jalam", public', search(PUBLIC, "penerangn jalam")),
        Scenario("desk", 'search "jalan", Jember coordinator', search(coordinator, "jalan")),
        Scenario(
            "public_similar",
            "similarPublicReports, Jember, public",
            lambda: reports.similar_public_reports(PUBLIC, now, probe),
        ),
        Scenario(
            "similar",
            "Report.similar, Jember coordinator",
            lambda: reports.similar_reports(coordinator, now, view, None),
        ),
    ]


async def _caught(call: Callable[[], Awaitable[Any]]) -> tuple[str, list[Any]]:
    """The search statement `call` sends (the last one through rows.select_with)."""
    sent: list[tuple[str, list[Any]]] = []
    original = rows.select_with

    async def catching(shape: Any, sql: str, *params: Any) -> Any:
        sent.append((sql, list(params)))
        return await original(shape, sql, *params)

    rows.select_with = catching  # type: ignore[assignment]
    try:
        await call()
    finally:
        rows.select_with = original  # type: ignore[assignment]
    return sent[-1]


async def _timed(call: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    for _ in range(WARMUP):
        await call()
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        took.append(time.perf_counter() - started)
    return took


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


async def run(url: str, runs: int) -> None:
    now = datetime.now(UTC)
    floor = await asyncpg.connect(url)
    try:
        async with database(url):
            scenarios = await _scenarios(now)
            print(f"{'scenario':<16}{'lapor p50':>11}{'p99':>9}{'floor p50':>11}{'p99':>9}"
                  f"{'p99 ratio':>11}  rows")  # fmt: skip
            plans = []
            for s in scenarios:
                sql, params = await _caught(s.call)
                found = await floor.fetch(sql, *params)
                lapor = await _timed(s.call, runs)
                raw = await _timed(lambda sql=sql, params=params: floor.fetch(sql, *params), runs)  # type: ignore[misc]
                print(
                    f"{s.name:<16}{_p(lapor, 50):>9.2f}ms{_p(lapor, 99):>7.2f}ms"
                    f"{_p(raw, 50):>9.2f}ms{_p(raw, 99):>7.2f}ms"
                    f"{_p(lapor, 99) / _p(raw, 99):>11.2f}  {len(found)}",
                    flush=True,
                )
                plan = await floor.fetch(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", *params)
                plans.append((s, [r[0] for r in plan]))
            for s, lines in plans:
                print(f"\n{s.name}: {s.title}")
                for line in lines:
                    if any(w in line for w in ("Index", "Scan", "Execution", "Sort", "rows=")):
                        print(f"  {line.strip()[:150]}")
    finally:
        await floor.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    print(machine())
    with PostgresCluster(settings=STATEMENTS) as cluster:
        url = cluster.create_database(DATABASE)
        asyncio.run(prepare(url, ()))
        filled = asyncio.run(fill(url, args.reports))
        print(f"{args.reports:,} reports filled in {filled.seconds:.1f} s")
        asyncio.run(run(url, args.runs))


if __name__ == "__main__":
    main()
