"""The GraphQL read path against raw floors (issue 11): how close Lapor's pages come to the
speed of the database, each figure a ratio to a floor measured in the same run.

On a throwaway PostgreSQL (tests/harness.py, with pg_stat_statements) with the demo data and
`--reports` reports filled by set-based SQL (spread over the demo's regions and agencies,
about 1.01 assignments each; DINKES of Jember has 2,500 open assignments), two processes serve
the same pages:

- Lapor as deployed: `lapor api` (uvicorn, uvloop, httptools), LAPOR_ENV=production, under a
  database role of its own, with a Redis of its own (without one it would try to reach it
  again from a request every few seconds, and log it);
- the floor (bench/floors.py): the same stack minus GraphQL (Starlette on uvicorn with uvloop
  and httptools, one process, an asyncpg pool, orjson), under a role of its own, answering
  each page byte for byte as Lapor does, from one SQL statement with joins.

The scenarios are GraphQL documents with variables, POSTed as a frontend does (`Accept:
application/json`); the floor gets the same body. For each one, the bench first fetches the
page from both and compares the bytes (a difference is printed and the bench stops with a
non-zero status: unequal pages are never timed); then it alternates the floor and Lapor,
`--rounds` times each, `--seconds` each after a short warm-up, with `--connections`
keep-alive connections (bench/load.py; an answer counts as an error unless it is HTTP 200
with the bytes of the first fetch). It prints req/s and p99 of each run, Lapor/floor as the
ratio of each round's rates (best and median of the rounds) and of their p99s, and the page's
size. Then `STATEMENT_SAMPLE` pages are sent to each, one after the other: how long a page
takes alone, and what each process sent PostgreSQL per page (pg_stat_statements, reset first;
BEGIN and COMMIT count, the change feed's ping does not): how many statements, which ones, and
their execution time.

    .venv/bin/python -m bench.read_path [--reports 1000000] [--seconds 10] [--connections 8]
        [--rounds 2] [--only inbox50,inbox10,reports50,report] [--keep [DIR]]

`--keep` keeps the cluster in DIR (default /tmp/lapor-bench-read-path) and uses it again on the
next run with the same `--reports` (filled less than 12 hours before: the due dates are days
from the fill's time), which skips the fill; the migrations it lacks are applied.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from bench import load
from bench.service import (
    STATEMENTS,
    database_exists,
    kept_server,
    log_problems,
    login,
    prepare,
    production_env,
    reset_statements,
    start,
    stop,
    top_statements,
    wait_healthy,
    with_user,
)
from lapor.servers import free_port
from models.db import apply_migrations
from schema.ids import to_global_id
from tests.harness import PostgresCluster, RedisServer

DATABASE = "lapor_bench_read"
API_ROLE, FLOOR_ROLE = "lapor_api", "lapor_floor"
OFFICER = "dinkes@jember.demo"
KEEP_DIR = "/tmp/lapor-bench-read-path"
KEEP_HOURS = 12
WARMUP_SECONDS = 2.0
# Pages sent one after the other, after the timed runs, to count each process's statements.
STATEMENT_SAMPLE = 100
# What a process sends on its own, whatever the pages: the change feed's ping (models/changes.py).
BACKGROUND = {"SELECT 1"}
# DINKES of Jember: open assignments (PENDING, ACCEPTED) and closed ones (RESPONDED, RETURNED).
DINKES_OPEN, DINKES_CLOSED = 2500, 500
TIMELINE_EVENTS = 32  # on the detail page's report, 6 of them internal (not shown to the public)

# ----------------------------------------------------------------------------- the pages

INBOX = """query Inbox($agency: ID!, $status: [AssignmentStatus!], $first: Int) {
  inbox(agencyId: $agency, status: $status, first: $first) {
    edges { cursor node {
      id status tier assignedAt dueAt overdue escalationLevel
      report { id trackingCode title kind status createdAt dueAt overdue
               region { name } category { name } }
      agency { code name }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""

REPORTS = """query Reports($first: Int) {
  reports(first: $first) {
    edges { cursor node {
      id trackingCode title kind status createdAt dueAt overdue supportCount
      region { name } category { name } reporter { name }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""

REPORT = """query Report($code: String!) {
  report(trackingCode: $code) {
    id trackingCode title body status createdAt dueAt overdue
    region { name } category { name }
    timeline(first: 20) {
      edges { node { id kind message at } }
      pageInfo { hasNextPage endCursor }
    }
    assignments { id status dueAt agency { name } followUps { id message final createdAt } }
  }
}"""


@dataclass
class Scenario:
    name: str
    title: str
    document: str
    floor_path: str  # the floor's route for the page
    signed_in: bool  # as the DINKES officer (else the public, no token)


# What any operation costs before its page's own work: parsing a request, the GraphQL pipeline,
# the middleware and the access line (the floor reads the JSON and answers the same bytes).
PING = "query Ping { __typename }"

SCENARIOS = (
    Scenario("inbox50", "DINKES inbox, first 50, as its officer", INBOX, "/inbox", True),
    Scenario("inbox10", "DINKES inbox, first 10, as its officer", INBOX, "/inbox", True),
    Scenario("reports50", "public reports, first 50, no token", REPORTS, "/reports", False),
    Scenario("report", "one public report with its timeline, no token", REPORT, "/report", False),
    Scenario("ping", "{ __typename }, no token: a request's fixed cost", PING, "/ping", False),
)


@dataclass(frozen=True)
class Filled:
    """What the fill left for the scenarios."""

    agency_id: int  # DINKES of Jember
    tracking_code: str  # the detail page's report
    seconds: float  # how long the fill took (on a kept cluster: the first run's)


def variables(scenario: Scenario, filled: Filled) -> dict[str, Any]:
    agency = to_global_id("Agency", filled.agency_id)
    pages: dict[str, dict[str, Any]] = {
        "inbox50": {"agency": agency, "status": ["PENDING", "ACCEPTED"], "first": 50},
        "inbox10": {"agency": agency, "status": ["PENDING", "ACCEPTED"], "first": 10},
        "reports50": {"first": 50},
        "report": {"code": filled.tracking_code},
        "ping": {},
    }
    return pages[scenario.name]


# ----------------------------------------------------------------------------- the data

TITLES = [
    "Antrean pelayanan di puskesmas sangat panjang",
    "Jalan berlubang membahayakan pengendara motor",
    "Sampah menumpuk di pinggir jalan desa",
    "Lampu penerangan jalan padam sejak seminggu",
    "Bantuan sosial belum diterima warga",
    "Pengurusan KTP elektronik terlalu lama",
    "Guru sering tidak hadir di sekolah dasar",
    "Saluran air tersumbat setiap hujan deras",
]
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # domain/tracking.py's


def _tracking_code_sql(i: str) -> str:
    """SQL for a valid, unique tracking code of row `i`: i times a unit modulo 31^8, written in
    the tracking codes' alphabet (LPR-XXXX-XXXX)."""
    p = f"(({i})::bigint * 387420489 % 852891037441)"
    chars = [f"substr('{ALPHABET}', ({p} / {31**k} % 31)::int + 1, 1)" for k in range(8)]
    return "'LPR-' || " + " || ".join(chars[:4]) + " || '-' || " + " || ".join(chars[4:])


# One row per report i of generate_series(1, $1): its region, agencies, statuses and times.
# $1 reports, $2 now, $3 step between DINKES reports, $4 DINKES reports, $5 closed ones among
# them, $6-$8 Jember, Surabaya, Jayapura, $9 DINKES, $10 BPJS (national), $11 Jember's other
# agencies, $12 Jayapura's. Due dates lie 1 to 10 days ahead, or 1 to 2 days behind, never
# within 21 hours of now: `overdue` cannot change during a run.
FILL_ROWS = """
INSERT INTO fill
SELECT i, d.dinkes, d.closed, r.region_id, g.agency_id, g.second_agency_id, s.status, a.status,
    t.created_at, t.due
FROM generate_series(1, $1::int) AS i
CROSS JOIN LATERAL (
    SELECT i % $3::int = 0 AND i / $3::int <= $4::int AS dinkes,
        i % $3::int = 0 AND i / $3::int <= $4::int
            AND (i / $3::int) * $5::int / $4::int <> (i / $3::int - 1) * $5::int / $4::int
            AS closed
) AS d
CROSS JOIN LATERAL (
    SELECT CASE WHEN d.dinkes OR i % 20 < 12 THEN $6::bigint
        WHEN i % 20 < 17 THEN $7::bigint ELSE $8::bigint END AS region_id
) AS r
CROSS JOIN LATERAL (
    SELECT CASE WHEN d.dinkes THEN $9::bigint
            WHEN r.region_id = $6 THEN ($11::bigint[])[1 + (i / 20) % cardinality($11::bigint[])]
            WHEN r.region_id = $7 THEN $10::bigint
            ELSE ($12::bigint[])[1 + (i / 20) % cardinality($12::bigint[])] END AS agency_id,
        CASE WHEN NOT d.dinkes AND r.region_id <> $7 AND i % 17 = 4 THEN $10::bigint END
            AS second_agency_id
) AS g
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN d.closed AND (i / $3::int) * $5::int / $4::int % 2 = 0 THEN 'RESPONDED'
        WHEN d.dinkes THEN 'IN_PROGRESS'
        WHEN (i / 7) % 100 < 2 THEN 'SUBMITTED'
        WHEN (i / 7) % 100 < 3 THEN 'ARCHIVED'
        WHEN (i / 7) % 100 < 48 THEN 'IN_PROGRESS'
        WHEN (i / 7) % 100 < 70 THEN 'RESPONDED'
        WHEN (i / 7) % 100 < 95 THEN 'CLOSED'
        ELSE 'ESCALATED' END AS status
) AS s
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN s.status IN ('SUBMITTED', 'ARCHIVED') THEN NULL
        WHEN d.closed THEN CASE WHEN s.status = 'RESPONDED' THEN 'RESPONDED' ELSE 'RETURNED' END
        WHEN d.dinkes THEN CASE WHEN (i / $3::int) % 5 < 2 THEN 'PENDING' ELSE 'ACCEPTED' END
        WHEN s.status = 'IN_PROGRESS' THEN
            CASE WHEN (i / 3) % 2 = 0 THEN 'PENDING' ELSE 'ACCEPTED' END
        WHEN s.status = 'ESCALATED' THEN 'ACCEPTED'
        ELSE 'RESPONDED' END AS status
) AS a
CROSS JOIN LATERAL (
    SELECT $2::timestamptz - interval '2 hours'
            - ($1::int - i) * (34560000 / $1::int) * interval '1 second' AS created_at,
        $2::timestamptz + (h.d - CASE WHEN h.d < 2 THEN 2 ELSE 1 END) * interval '1 day'
            + ((i % 7) - 3) * interval '1 hour' AS due
    FROM (SELECT (i + i / 12) % 12 AS d) AS h
) AS t
"""

# $1 titles, $2 categories, $3 KESEHATAN, $4 citizens, $5 now
FILL_REPORTS = f"""
INSERT INTO report (id, tracking_code, kind, title, body, anonymous, confidential,
    ombudsman_consent, status, region_id, category_id, reporter_id, created_at, updated_at,
    due_at, sweep_at, responded_at, closed_at, escalated_at, reopen_count, transfer_count,
    support_count)
SELECT f.i, {_tracking_code_sql("f.i")},
    CASE WHEN f.i % 10 < 7 THEN 'COMPLAINT' WHEN f.i % 10 < 9 THEN 'ASPIRATION'
        ELSE 'INFORMATION_REQUEST' END,
    x.title, 'Mohon ditindaklanjuti: ' || lower(x.title) || ' sejak beberapa minggu. Warga '
        || 'sudah melapor ke kelurahan, tetapi belum ada tindakan.',
    f.i % 5 = 2, (f.i / 3) % 20 = 5, f.i % 3 = 0, f.status, f.region_id,
    CASE WHEN f.dinkes THEN $3::bigint WHEN (f.i / 11) % 10 = 9 THEN NULL
        ELSE ($2::bigint[])[1 + (f.i / 13) % cardinality($2::bigint[])] END,
    ($4::bigint[])[(1 + f.i::bigint * 7919 % cardinality($4::bigint[]))::int],
    f.created_at, least(f.created_at + interval '1 day', $5::timestamptz - interval '1 hour'),
    CASE WHEN f.status IN ('SUBMITTED', 'IN_PROGRESS', 'RESPONDED') THEN f.due END, NULL,
    CASE WHEN f.status IN ('RESPONDED', 'CLOSED') THEN f.created_at + interval '1 hour' END,
    CASE WHEN f.status IN ('CLOSED', 'ARCHIVED') THEN f.created_at + interval '90 minutes' END,
    CASE WHEN f.status = 'ESCALATED' THEN f.created_at + interval '90 minutes' END,
    0, 0, f.i % 17
FROM fill AS f
CROSS JOIN LATERAL (
    SELECT ($1::text[])[1 + (f.i / 5) % cardinality($1::text[])] || ' #' || f.i AS title
) AS x
"""

# Assignment 2i-1 for the first agency, 2i for the second. $1 now
FILL_ASSIGNMENTS = """
INSERT INTO assignment (id, report_id, agency_id, status, tier, assigned_at, accepted_at,
    first_response_at, responded_at, first_response_due_at, resolution_due_at, due_at, sweep_at,
    escalation_level, return_reason, updated_at)
SELECT 2 * f.i - 1 + k.n, f.i, CASE WHEN k.n = 0 THEN f.agency_id ELSE f.second_agency_id END,
    f.assignment_status,
    CASE WHEN f.assignment_status IN ('ACCEPTED', 'RESPONDED')
        THEN (ARRAY['SIMPLE', 'STANDARD', 'FIELD'])[1 + (f.i + f.i / 3) % 3] END,
    f.created_at + interval '10 minutes',
    CASE WHEN f.assignment_status IN ('ACCEPTED', 'RESPONDED')
        THEN f.created_at + interval '20 minutes' END,
    CASE WHEN f.assignment_status IN ('ACCEPTED', 'RESPONDED')
        THEN f.created_at + interval '30 minutes' END,
    CASE WHEN f.assignment_status = 'RESPONDED' THEN f.created_at + interval '40 minutes' END,
    f.due,
    CASE WHEN f.assignment_status = 'PENDING' THEN f.due + interval '9 days' ELSE f.due END,
    CASE WHEN f.assignment_status IN ('PENDING', 'ACCEPTED') THEN f.due END,
    NULL,
    CASE WHEN f.assignment_status IN ('PENDING', 'ACCEPTED') AND f.due < $1::timestamptz
        THEN 1 ELSE 0 END,
    CASE WHEN f.assignment_status = 'RETURNED' THEN 'Bukan kewenangan kami' END,
    f.created_at + interval '45 minutes'
FROM fill AS f CROSS JOIN (VALUES (0), (1)) AS k(n)
WHERE f.assignment_status IS NOT NULL AND (k.n = 0 OR f.second_agency_id IS NOT NULL)
"""

FILL_EVENTS = """
INSERT INTO report_event (id, report_id, kind, actor_id, visibility, data, at)
SELECT id, id, 'report.submitted', reporter_id, 'public', '{}', created_at FROM report
"""

CITIZENS = """
INSERT INTO app_user (name, email, password_hash, is_active, locale, created_at)
SELECT 'Warga ' || k, 'warga' || k || '@bench.lapor',
    (SELECT password_hash FROM app_user WHERE email = 'warga@jember.demo'), true, 'id', $2
FROM generate_series(1, $1::int) AS k
"""


async def fill(
    url: str, reports: int, dinkes_open: int = DINKES_OPEN, dinkes_closed: int = DINKES_CLOSED
) -> Filled:
    """Fill the migrated, seeded database at `url` with `reports` reports (set-based SQL),
    then VACUUM ANALYZE; the detail page's report gets its timeline and assignments."""
    slots = dinkes_open + dinkes_closed
    if reports < slots * 2:
        raise SystemExit(f"--reports must be at least {slots * 2}")
    started = time.perf_counter()
    now = datetime.now(UTC)
    conn = await asyncpg.connect(url)
    try:
        ids = await _reference_ids(conn)
        await conn.execute(CITIZENS, max(10, reports // 100), now)
        await conn.execute(
            "INSERT INTO role_grant (user_id, role) SELECT id, 'CITIZEN' FROM app_user "
            "WHERE email LIKE '%@bench.lapor'"
        )
        citizens = await conn.fetchval(
            "SELECT array_agg(id ORDER BY id) FROM app_user WHERE email LIKE '%@bench.lapor'"
        )
        await conn.execute(
            "CREATE TEMP TABLE fill (i int, dinkes bool, closed bool, region_id bigint, "
            "agency_id bigint, second_agency_id bigint, status text, assignment_status text, "
            "created_at timestamptz, due timestamptz)"
        )
        await conn.execute(
            FILL_ROWS,
            reports,
            now,
            reports // slots,
            slots,
            dinkes_closed,
            ids["jember"],
            ids["surabaya"],
            ids["jayapura"],
            ids["dinkes"],
            ids["bpjs"],
            ids["jember_agencies"],
            ids["jayapura_agencies"],
        )
        await conn.execute(FILL_REPORTS, TITLES, ids["categories"], ids["kesehatan"], citizens, now)
        await conn.execute(FILL_ASSIGNMENTS, now)
        await conn.execute(FILL_EVENTS)
        await conn.execute("DROP TABLE fill")
        for table in ("report", "assignment", "report_event"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        code = await _detail_report(conn, ids, reports, now)
        for table in (
            "app_user",
            "role_grant",
            "report",
            "assignment",
            "report_event",
            "follow_up",
        ):
            await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()
    return Filled(ids["dinkes"], code, time.perf_counter() - started)


async def _reference_ids(conn: asyncpg.Connection) -> dict[str, Any]:
    regions = {r["code"]: r["id"] for r in await conn.fetch("SELECT id, code FROM region")}
    agencies = {
        (r["region_id"], r["code"]): r["id"]
        for r in await conn.fetch("SELECT id, code, region_id FROM agency ORDER BY id")
    }
    jember, jayapura = regions["35.09"], regions["91.03"]
    categories = {r["code"]: r["id"] for r in await conn.fetch("SELECT id, code FROM category")}
    return {
        "jember": jember,
        "surabaya": regions["35.78"],
        "jayapura": jayapura,
        "dinkes": agencies[(jember, "DINKES")],
        "bpjs": agencies[(None, "BPJS-KESEHATAN")],
        "jember_agencies": [a for (r, c), a in agencies.items() if r == jember and c != "DINKES"],
        "jayapura_agencies": [a for (r, _), a in agencies.items() if r == jayapura],
        "agency": {c: a for (r, c), a in agencies.items() if r == jember},
        "categories": sorted(categories.values()),
        "kesehatan": categories["KESEHATAN"],
    }


async def _detail_report(
    conn: asyncpg.Connection, ids: dict[str, Any], reports: int, now: datetime
) -> str:
    """Make a public report of Jember, three quarters up the ids, the detail page's: three
    assignments (returned, answered, working) with follow-ups, and a timeline of
    TIMELINE_EVENTS lines. Returns its tracking code."""
    row = await conn.fetchrow(
        "SELECT id, tracking_code, created_at, reporter_id FROM report r WHERE region_id = $1 "
        "AND status = 'IN_PROGRESS' AND NOT confidential AND NOT anonymous "
        "AND category_id IS NOT NULL AND id <= $2 AND NOT EXISTS (SELECT 1 FROM assignment a "
        "WHERE a.report_id = r.id AND a.agency_id = $3) ORDER BY id DESC LIMIT 1",
        ids["jember"],
        reports * 3 // 4,
        ids["dinkes"],
    )
    report_id, created, reporter = row["id"], row["created_at"], row["reporter_id"]
    at = [created + timedelta(hours=5 * k) for k in range(TIMELINE_EVENTS)]
    due = now + timedelta(days=4, hours=5)
    await conn.execute("DELETE FROM assignment WHERE report_id = $1", report_id)
    await conn.execute("DELETE FROM report_event WHERE report_id = $1", report_id)
    agency = ids["agency"]
    assignments = []
    for code, status, tier, reason, due_at in (
        ("DPUPR", "RETURNED", None, "Bukan kewenangan Dinas PU: mohon ke Dinas Sosial", None),
        ("DINSOS", "RESPONDED", "STANDARD", None, None),
        ("DISHUB", "ACCEPTED", "SIMPLE", None, due),
    ):
        assignments.append(
            await conn.fetchval(
                "INSERT INTO assignment (report_id, agency_id, status, tier, assigned_at, "
                "accepted_at, first_response_due_at, resolution_due_at, due_at, "
                "escalation_level, return_reason, updated_at) "
                "VALUES ($1, $2, $3, $4, $5, $5, $6, $6, $6, 0, $7, $5) RETURNING id",
                report_id,
                agency[code],
                status,
                tier,
                at[2],
                due_at or at[10],
                reason,
            )
        )
    returned, answered, working = assignments
    await conn.executemany(
        "INSERT INTO follow_up (assignment_id, message, final, resolution, created_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        [
            (answered, "Petugas sudah meninjau lokasi; bantuan dijadwalkan.", False, None, at[12]),
            (working, "Rambu sementara sudah dipasang.", False, None, at[14]),
            (answered, "Bantuan sudah disalurkan kepada 12 keluarga.", True, "RESOLVED", at[20]),
        ],
    )
    lines: list[tuple[str, str | None, int | None, str]] = [
        ("report.submitted", None, None, "public"),
        ("report.verified", None, None, "public"),
        ("assignment.created", None, returned, "public"),
        ("assignment.created", None, answered, "public"),
        ("assignment.returned", "Bukan kewenangan Dinas PU", returned, "internal"),
        ("assignment.created", None, working, "public"),
        ("assignment.accepted", None, answered, "public"),
        ("assignment.accepted", None, working, "public"),
    ]
    while len(lines) < TIMELINE_EVENTS:
        k = len(lines)
        if k % 5 == 0:
            lines.append(("report.supported", None, None, "internal"))
        elif k % 3 == 0:
            lines.append(("assignment.follow_up", f"Perkembangan ke-{k}", working, "public"))
        else:
            lines.append(("report.info_added", f"Foto tambahan ke-{k} dari warga", None, "public"))
    await conn.executemany(
        "INSERT INTO report_event (report_id, assignment_id, kind, message, actor_id, "
        "visibility, data, at) VALUES ($1, $2, $3, $4, $5, $6, '{}', $7)",
        [
            (report_id, assignment, kind, message, reporter, visibility, at[k])
            for k, (kind, message, assignment, visibility) in enumerate(lines)
        ],
    )
    await conn.execute(
        "UPDATE report SET due_at = $2, support_count = 12, updated_at = $3 WHERE id = $1",
        report_id,
        due,
        at[-1],
    )
    return str(row["tracking_code"])


# ----------------------------------------------------------------------------- the database


@dataclass
class Database:
    url: str
    filled: Filled
    reused: bool


@contextlib.contextmanager
def database(reports: int, keep: str | None) -> Iterator[Database]:
    """A cluster with pg_stat_statements and the filled database: throwaway, or kept in
    `keep` (and used again when it holds the same number of reports, filled lately, after the
    migrations it lacks)."""
    if keep is None:
        with PostgresCluster(settings=STATEMENTS) as cluster:
            url = cluster.create_database(DATABASE)
            asyncio.run(prepare(url, (API_ROLE, FLOOR_ROLE)))
            yield Database(url, asyncio.run(fill(url, reports)), reused=False)
        return
    with kept_server(keep) as server:
        url = server.database_url(DATABASE)
        filled = asyncio.run(_kept(server.url, url, reports))
        reused = filled is not None
        if filled is not None:  # filled by older code: brought up to this code's schema
            asyncio.run(apply_migrations(url))
        else:
            url = server.create_database(DATABASE)
            asyncio.run(prepare(url, (API_ROLE, FLOOR_ROLE)))
            filled = asyncio.run(fill(url, reports))
            asyncio.run(_remember(url, reports, filled))
        yield Database(url, filled, reused)


async def _kept(server_url: str, url: str, reports: int) -> Filled | None:
    """What a kept database was filled with, if it can be used again for `reports`."""
    if not await database_exists(server_url, DATABASE):
        return None
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT * FROM bench_read_path WHERE reports = $1 AND filled_at > now() - $2::interval",
            reports,
            timedelta(hours=KEEP_HOURS),
        )
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()
    if row is None:
        return None
    return Filled(row["agency_id"], row["tracking_code"], row["fill_seconds"])


async def _remember(url: str, reports: int, filled: Filled) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE bench_read_path (reports int, filled_at timestamptz, agency_id bigint, "
            "tracking_code text, fill_seconds float8)"
        )
        await conn.execute(
            "INSERT INTO bench_read_path VALUES ($1, now(), $2, $3, $4)",
            reports,
            filled.agency_id,
            filled.tracking_code,
            filled.seconds,
        )
    finally:
        await conn.close()


# ----------------------------------------------------------------------------- the servers


@dataclass
class Servers:
    lapor: str  # base URLs
    floor: str
    logs: list[Path]
    pids: dict[str, int] = field(default_factory=dict)  # "Lapor", "floor": their processes


@contextlib.contextmanager
def servers(url: str, logs: Path) -> Iterator[Servers]:
    """`lapor api` and the floor, each under its own role, with the same secret."""
    with RedisServer() as redis:
        env = production_env(redis.url)
        api_port, floor_port = free_port(), free_port()
        api_log, floor_log = logs / "api.log", logs / "floor.log"
        api = start(
            ["-m", "lapor", "api", "--port", str(api_port)],
            {**env, "LAPOR_DATABASE_URL": with_user(url, API_ROLE)},
            api_log,
        )
        floor = start(
            ["-m", "bench.floors", "--port", str(floor_port)],
            {**env, "LAPOR_DATABASE_URL": with_user(url, FLOOR_ROLE)},
            floor_log,
        )
        lapor, floor_base = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{floor_port}"
        try:
            wait_healthy(f"{lapor}/healthz", api, api_log)
            wait_healthy(f"{floor_base}/healthz", floor, floor_log)
            pids = {"Lapor": api.pid, "floor": floor.pid}
            yield Servers(lapor, floor_base, [api_log, floor_log], pids)
        finally:
            stop([api, floor])


# ----------------------------------------------------------------------------- measuring


@dataclass
class Outcome:
    scenario: Scenario
    size: int
    floor: list[load.Result] = field(default_factory=list)
    lapor: list[load.Result] = field(default_factory=list)
    samples: dict[str, Sample] = field(default_factory=dict)  # "floor", "Lapor"

    def ratios(self) -> list[float]:
        return [lap.rate / flo.rate for flo, lap in zip(self.floor, self.lapor, strict=True)]

    def p99_ratio(self) -> float:
        return statistics.median(
            lap.quantile(0.99) / flo.quantile(0.99)
            for flo, lap in zip(self.floor, self.lapor, strict=True)
        )

    @property
    def errors(self) -> int:
        return sum(sum(r.errors.values()) for r in (*self.floor, *self.lapor))


def same_page(expected: bytes) -> load.Check:
    """HTTP 200 with the page's bytes (a GraphQL error or another page is an error)."""

    def check(status: int, body: bytes) -> str | None:
        if status != 200:
            return f"HTTP {status}"
        if body != expected:
            return "GraphQL errors" if b'"errors"' in body else "a different page"
        return None

    return check


def differences(
    lapor: Any, floor: Any, path: str = "$", found: list[str] | None = None
) -> list[str]:
    """Where two decoded JSON documents differ (at most 10 places), key order included."""
    found = [] if found is None else found
    if len(found) >= 10:
        return found
    if isinstance(lapor, dict) and isinstance(floor, dict):
        if list(lapor) != list(floor):
            found.append(f"{path}: keys {list(lapor)} (Lapor) != {list(floor)} (floor)")
        for key in lapor:
            if key in floor:
                differences(lapor[key], floor[key], f"{path}.{key}", found)
    elif isinstance(lapor, list) and isinstance(floor, list):
        if len(lapor) != len(floor):
            found.append(f"{path}: {len(lapor)} items (Lapor) != {len(floor)} (floor)")
        for k, (a, b) in enumerate(zip(lapor, floor, strict=False)):
            differences(a, b, f"{path}[{k}]", found)
    elif lapor != floor or type(lapor) is not type(floor):
        found.append(f"{path}: {_short(lapor)} (Lapor) != {_short(floor)} (floor)")
    return found


def _short(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 80 else text[:77] + "..."


def byte_diff(lapor: bytes, floor: bytes) -> str:
    """Where two byte strings first differ, with some context."""
    at = next(
        (k for k, (a, b) in enumerate(zip(lapor, floor, strict=False)) if a != b),
        min(len(lapor), len(floor)),
    )
    start = max(0, at - 40)
    return (
        f"first difference at byte {at} (Lapor {len(lapor)} bytes, floor {len(floor)}):\n"
        f"    Lapor: {lapor[start : at + 40]!r}\n    floor: {floor[start : at + 40]!r}"
    )


@dataclass
class Sample:
    """STATEMENT_SAMPLE pages sent one after the other (after the timed runs): how long one
    page takes alone, and what its process sent PostgreSQL for it."""

    alone: float  # seconds per page (the median), at the client
    statements: float  # per page
    database: float  # ms of PostgreSQL's execution per page
    top: list[tuple[float, float, str]]  # per page, mean ms, query


async def sample(db_url: str, role: str, url: str, request: bytes, check: load.Check) -> Sample:
    """Statements of `role` by pg_stat_statements (reset first), the change feed's ping
    excepted (a process's background, not a page's)."""
    await reset_statements(db_url)
    result = await load.repeat(url, request, STATEMENT_SAMPLE, check)
    if result.errors:
        raise SystemExit(f"{url}: {result.errors}; first: {result.first_error}")
    found = [
        (calls / STATEMENT_SAMPLE, mean, query)
        for calls, mean, query in await top_statements(db_url, role, limit=50, width=160)
        if query not in BACKGROUND
    ]
    return Sample(
        result.quantile(0.5),
        sum(per_page for per_page, _, _ in found),
        sum(per_page * mean for per_page, mean, _ in found),
        found,
    )


async def measure(
    scenario: Scenario,
    filled: Filled,
    token: str,
    target: Servers,
    db_url: str,
    args: argparse.Namespace,
) -> Outcome | None:
    """Compare the two pages, then time them; None when they differ."""
    body = orjson.dumps({"query": scenario.document, "variables": variables(scenario, filled)})
    headers = {"Authorization": f"Bearer {token}"} if scenario.signed_in else {}
    lapor_url, floor_url = f"{target.lapor}/graphql", f"{target.floor}{scenario.floor_path}"
    sent = {"Content-Type": "application/json", "Accept": "application/json", **headers}
    async with httpx.AsyncClient(timeout=60) as client:
        lapor_page = (await client.post(lapor_url, content=body, headers=sent)).content
        floor_page = (await client.post(floor_url, content=body, headers=sent)).content
    print(f"{scenario.name}: {scenario.title}, {len(lapor_page):,} bytes")
    if b'"errors"' in lapor_page or b'"data":{' not in lapor_page[:9]:
        print(f"  Lapor answered an error: {lapor_page[:500]!r}")
        return None
    if lapor_page != floor_page:
        try:
            found = differences(orjson.loads(lapor_page), orjson.loads(floor_page))
        except orjson.JSONDecodeError:
            found = []
        print("  the floor's page differs from Lapor's:")
        for line in found or [byte_diff(lapor_page, floor_page)]:
            print(f"    {line}")
        return None
    outcome = Outcome(scenario, len(lapor_page))
    for round_ in range(1, args.rounds + 1):
        for side, url, results in (
            ("floor", floor_url, outcome.floor),
            ("Lapor", lapor_url, outcome.lapor),
        ):
            result = await load.run(
                url,
                [load.post(url, body, headers)],
                connections=args.connections,
                seconds=args.seconds,
                warmup=WARMUP_SECONDS,
                check=same_page(lapor_page),
                server_pid=target.pids.get(side),
            )
            results.append(result)
            print(f"  {side:5} round {round_}: {result.summary()}")
            for problem, count in sorted(result.errors.items()):
                print(f"    error {problem}: {count}; first: {result.first_error}")
    ratios = outcome.ratios()
    print(
        f"  Lapor/floor: req/s best {max(ratios):.3f}, median {statistics.median(ratios):.3f}; "
        f"p99 x{outcome.p99_ratio():.1f}"
    )
    for side, role, url in (("floor", FLOOR_ROLE, floor_url), ("Lapor", API_ROLE, lapor_url)):
        request = load.post(url, body, headers)
        outcome.samples[side] = await sample(db_url, role, url, request, same_page(lapor_page))
    floor, lapor = outcome.samples["floor"], outcome.samples["Lapor"]
    print(
        f"  one page alone: floor {floor.alone * 1000:.2f} ms, Lapor {lapor.alone * 1000:.2f} ms; "
        f"statements per page: floor {floor.statements:.2f} ({floor.database:.2f} ms in "
        f"PostgreSQL), Lapor {lapor.statements:.2f} ({lapor.database:.2f} ms)"
    )
    return outcome


def summary(outcomes: Sequence[Outcome], args: argparse.Namespace) -> None:
    print()
    print(
        f"read path, {args.reports:,} reports, {args.connections} connections, {args.rounds} "
        f"rounds of {args.seconds:g} s each (floor and Lapor alternating, {WARMUP_SECONDS:g} s of "
        "warm-up each):"
    )
    print(
        f"{'page':<10} {'bytes':>7}  {'floor req/s':>11} {'p99 ms':>7}  {'Lapor req/s':>11} "
        f"{'p99 ms':>7}  {'Lapor/floor':>11} {'median':>7} {'p99 x':>6}"
    )
    for o in outcomes:
        ratios = o.ratios()
        print(
            f"{o.scenario.name:<10} {o.size:>7,}  {max(r.rate for r in o.floor):>11,.1f} "
            f"{statistics.median(r.quantile(0.99) for r in o.floor) * 1000:>7.1f}  "
            f"{max(r.rate for r in o.lapor):>11,.1f} "
            f"{statistics.median(r.quantile(0.99) for r in o.lapor) * 1000:>7.1f}  "
            f"{max(ratios):>11.3f} {statistics.median(ratios):>7.3f} {o.p99_ratio():>6.1f}"
        )
    print(
        "(req/s: the best round; p99: the median of the rounds; Lapor/floor: the ratio of each "
        "round's rates, best and median; p99 x: the median of each round's ratio)"
    )
    print(
        "each server's CPU per page under that load (user and system, from /proc: what a "
        "page cost, round by round, which moves with the machine as the rates do):"
    )
    print(f"{'page':<10}  {'floor µs, rounds':<40}  {'Lapor µs, rounds':<40}")
    for o in outcomes:
        print(f"{o.scenario.name:<10}  {_cpu_rounds(o.floor):<40}  {_cpu_rounds(o.lapor):<40}")
    print(f"one page at a time ({STATEMENT_SAMPLE} pages after the timed runs; alone: the median):")
    print(
        f"{'page':<10}  {'alone ms':>15}  {'statements':>15}  {'PostgreSQL ms':>15}\n"
        f"{'':<10}  {'floor':>7} {'Lapor':>7}  {'floor':>7} {'Lapor':>7}  {'floor':>7} {'Lapor':>7}"
    )
    for o in outcomes:
        f, lap = o.samples["floor"], o.samples["Lapor"]
        print(
            f"{o.scenario.name:<10}  {f.alone * 1000:>7.2f} {lap.alone * 1000:>7.2f}  "
            f"{f.statements:>7.2f} {lap.statements:>7.2f}  {f.database:>7.2f} {lap.database:>7.2f}"
        )
    for o in outcomes:
        for side in ("Lapor", "floor"):
            print(
                f"what {side} sends PostgreSQL for one {o.scenario.name} page (per page, mean ms):"
            )
            for per_page, mean, query in o.samples[side].top:
                print(f"  {per_page:5.2f} x {mean:6.3f} ms  {query}")


def _cpu_rounds(results: Sequence[load.Result]) -> str:
    """The CPU per page of each round, in µs ("?" where it was not measured)."""
    return " ".join(
        "?" if (cpu := r.cpu_per_answer) is None else f"{cpu * 1e6:.0f}" for r in results
    )


async def run_scenarios(
    scenarios: Sequence[Scenario],
    filled: Filled,
    target: Servers,
    db_url: str,
    args: argparse.Namespace,
) -> list[Outcome] | None:
    token = login(target.lapor, OFFICER)
    outcomes = []
    for scenario in scenarios:
        outcome = await measure(scenario, filled, token, target, db_url, args)
        if outcome is None:
            return None
        outcomes.append(outcome)
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", help="comma-separated: " + ",".join(s.name for s in SCENARIOS))
    parser.add_argument(
        "--keep", nargs="?", const=KEEP_DIR, help=f"keep the cluster in DIR ({KEEP_DIR})"
    )
    args = parser.parse_args()
    names = args.only.split(",") if args.only else [s.name for s in SCENARIOS]
    unknown = set(names) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    scenarios = [s for s in SCENARIOS if s.name in names]
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before the run "
        "(other work on the machine shows in the figures)"
    )
    with database(args.reports, args.keep) as db:
        how = "kept from an earlier run, filled" if db.reused else "filled"
        print(
            f"{args.reports:,} reports {how} in {db.filled.seconds:.1f} s; the detail page's "
            f"report: {db.filled.tracking_code}"
        )
        with tempfile.TemporaryDirectory(prefix="lapor-bench-") as logs:
            with servers(db.url, Path(logs)) as target:
                outcomes = asyncio.run(run_scenarios(scenarios, db.filled, target, db.url, args))
                problems = log_problems(target.logs)
    if outcomes is None:
        raise SystemExit(1)
    summary(outcomes, args)
    print(f"log lines at warning or error, and tracebacks: {len(problems)}")
    for line in problems[:10]:
        print(f"  {line}")
    if any(o.errors for o in outcomes):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
