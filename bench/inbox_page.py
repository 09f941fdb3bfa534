"""How many inbox pages per second one API process serves (docs/design.md, "Performance").

Starts a throwaway PostgreSQL (tests/harness.py), migrates, seeds the demo data and
`--reports` verified reports assigned to DINKES, then asks for `--pages` inbox pages of
`--size` items (about 20 fields each) as the DINKES officer, through the ASGI app in-process
(no network), and prints pages/s with the share of the time spent in the database.

    .venv/bin/python -m bench.inbox_page [--reports 2000] [--size 50] [--pages 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx

from api.app import create_app
from core.settings import get_settings
from domain.services import assignments, reports
from domain.services.accounts import actor_for_user
from domain.services.reading import PageRequest
from domain.services.reports import SubmitInput
from lapor.demo import seed_demo
from models import Agency, Assignment, Region, User
from models.db import apply_migrations, connect_database, disconnect_database
from models.enums import ReportKind, ResolutionTier
from schema.ids import to_global_id
from tests.harness import PostgresCluster

LOGIN = 'mutation($e: String!) { authLogin(email: $e, password: "lapor-demo") { token } }'
INBOX = """
query Inbox($agency: ID!, $first: Int) {
  inbox(agencyId: $agency, first: $first) {
    edges { cursor node {
      id status tier assignedAt dueAt overdue escalationLevel
      agency { code name }
      report { id trackingCode kind title status createdAt updatedAt dueAt overdue
               anonymous confidential supportCount reporter { name } region { name }
               category { name } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

# There is no built-in secret (docs/adr/0018): the bench signs its user in with a random one.
os.environ.setdefault("LAPOR_SECRET_KEY", secrets.token_urlsafe(32))


async def _seed(count: int) -> tuple[int, str]:
    start = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    await seed_demo(start)
    jember = await Region.get(code="35.09")
    dinkes = await Agency.get(code="DINKES", region_id=jember.id)
    citizen = await actor_for_user((await User.get(email="warga@jember.demo")).id)
    coordinator = await actor_for_user((await User.get(email="koordinator@jember.demo")).id)
    officer = await actor_for_user((await User.get(email="dinkes@jember.demo")).id)
    for i in range(count):
        at = start + timedelta(minutes=i)
        report = (
            await reports.submit(
                citizen,
                at,
                SubmitInput(
                    kind=ReportKind.COMPLAINT,
                    title=f"Laporan {i}",
                    body="Antrean panjang.",
                    region_id=jember.id,
                    anonymous=i % 5 == 0,
                ),
            )
        ).report
        await reports.verify(coordinator, at, report.id, [dinkes.id], None, None)
        if i % 2:
            assignment = await Assignment.get(report_id=report.id)
            await assignments.accept(officer, at, assignment.id, ResolutionTier.STANDARD)
    return dinkes.id, "dinkes@jember.demo"


async def run(reports_count: int, size: int, pages: int) -> None:
    with PostgresCluster() as cluster:
        url = cluster.create_database("lapor_bench")
        await apply_migrations(url)
        await connect_database(url, 10)
        try:
            agency_id, email = await _seed(reports_count)
            app = create_app(get_settings())
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                login = await client.post(
                    "/graphql", json={"query": LOGIN, "variables": {"e": email}}
                )
                token = login.json()["data"]["authLogin"]["token"]
                headers = {"Authorization": f"Bearer {token}"}
                body = {
                    "query": INBOX,
                    "variables": {"agency": to_global_id("Agency", agency_id), "first": size},
                }
                for _ in range(20):  # warm the parser cache, the pool and the JIT-less paths
                    await client.post("/graphql", json=body, headers=headers)
                timings, sizes = [], []
                for _ in range(pages):
                    t0 = time.perf_counter()
                    response = await client.post("/graphql", json=body, headers=headers)
                    timings.append(time.perf_counter() - t0)
                    sizes.append(len(response.content))
                assert "errors" not in response.json(), response.text
                items = len(response.json()["data"]["inbox"]["edges"])

            officer = await actor_for_user((await User.get(email=email)).id)
            now = datetime.now(UTC)
            db_timings = []
            for _ in range(pages):
                t0 = time.perf_counter()
                page = await assignments.inbox(
                    officer, now, agency_id, None, None, None, PageRequest(size, None, size, 100)
                )
                await reports.reports_by_ids(officer, [a.report_id for a in page.items])
                db_timings.append(time.perf_counter() - t0)
        finally:
            await disconnect_database()

    mean = statistics.mean(timings)
    db_mean = statistics.mean(db_timings)
    fields = items * 26
    print(
        f"inbox page: {items} items, about {fields} resolved fields, "
        f"{statistics.mean(sizes) / 1024:.1f} KiB of JSON"
    )
    print(
        f"  {1 / mean:7.1f} pages/s   mean {mean * 1000:6.2f} ms   "
        f"p50 {statistics.median(timings) * 1000:6.2f} ms   "
        f"p99 {sorted(timings)[int(len(timings) * 0.99) - 1] * 1000:6.2f} ms"
    )
    print(
        f"  database reads alone (inbox + its reports): {db_mean * 1000:6.2f} ms "
        f"= {db_mean / mean:.0%} of a page"
    )
    print(f"  per resolved field: {(mean - db_mean) / fields * 1e6:5.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--size", type=int, default=50)
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.reports, args.size, args.pages))


if __name__ == "__main__":
    main()
