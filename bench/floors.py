"""The raw floors of bench/read_path.py: Lapor's read-path pages, byte for byte, from the same
stack minus GraphQL: Starlette on uvicorn with uvloop and httptools, one process, an asyncpg
pool (no reset round trip, as Lapor's), orjson.

Each route does the work Lapor does for its page, no less: it reads the request's JSON body (the
GraphQL request, whose `variables` it uses), verifies the bearer token (domain/auth.py, the same
secret) and applies the access policy, reads the page in one SQL statement with joins, and builds
the JSON Lapor answers: global ids and cursors by schema/ids.py, datetimes written by orjson
itself (the aware UTC datetimes asyncpg returns, in the bytes of their isoformat(), at a ninth of
its cost: the fastest way a raw endpoint has), enums by name, `overdue` by domain/deadlines.py,
pageInfo as schema/common.py's page_info, masked fields as domain/services/views.py masks them,
keys in the order of the GraphQL selection.

- POST /inbox: an agency's inbox (bench.read_path.INBOX) for its officers and head and its
  region's coordinators (domain/policy.py, allowed_on_agency: checked inside the statement);
- POST /reports: the public's newest reports (bench.read_path.REPORTS), filtered as
  domain/services/reports.py's readable_reports_q filters for the public;
- POST /report: one report by tracking code (bench.read_path.REPORT) as the public may read it.

    LAPOR_DATABASE_URL=... LAPOR_SECRET_KEY=... python -m bench.floors --port 8001
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.settings import Settings, get_settings
from domain.auth import read_token
from domain.deadlines import is_overdue
from domain.lifecycle import PUBLIC_REPORT
from domain.tracking import normalize_tracking_code
from domain.transparency import FairnessRules, figures, parse_period, ranking_key
from models.enums import AssignmentStatus, Role
from schema.ids import from_global_id, to_cursor, to_global_id

PUBLIC_STATUSES = sorted(s.value for s in PUBLIC_REPORT)
ALL_STATUSES = [s.value for s in AssignmentStatus]
DESK_ROLES = [Role.OFFICER.value, Role.AGENCY_HEAD.value]
TIMELINE_FIRST = 20  # the detail page's `timeline(first: 20)`

# The desk (NOT FOUND: no row), whether the token's user may watch its inbox (allowed_on_agency:
# a member of the agency, or a coordinator of its region; an active user), and its page.
INBOX_SQL = """
WITH d AS MATERIALIZED (
    SELECT ag.id, ag.code, ag.name, u.is_active AS active,
        u.is_active AND EXISTS (
            SELECT 1 FROM role_grant g WHERE g.user_id = u.id AND (
                (g.role = ANY($3::text[]) AND g.agency_id = ag.id)
                OR (g.role = 'COORDINATOR' AND g.region_id = ag.region_id))
        ) AS allowed
    FROM agency ag LEFT JOIN app_user u ON u.id = $2
    WHERE ag.id = $1
)
SELECT d.active, d.allowed, d.code AS agency_code, d.name AS agency_name,
    a.id, a.status, a.tier, a.assigned_at, a.due_at, a.escalation_level,
    r.id AS report_id, r.tracking_code, r.title, r.kind, r.status AS report_status,
    r.created_at, r.due_at AS report_due_at, rg.name AS region_name, c.name AS category_name
FROM d
LEFT JOIN LATERAL (
    SELECT * FROM assignment a
    WHERE d.allowed AND a.agency_id = $1 AND a.status = ANY($4::text[])
    ORDER BY a.id DESC LIMIT $5
) AS a ON true
LEFT JOIN report r ON r.id = a.report_id
LEFT JOIN region rg ON rg.id = r.region_id
LEFT JOIN category c ON c.id = r.category_id
ORDER BY a.id DESC
"""

# The public's reports: verified (a public status) and not confidential; the reporter's name
# only on a report that is not anonymous (SEE_REPORTER).
REPORTS_SQL = """
SELECT r.id, r.tracking_code, r.title, r.kind, r.status, r.created_at, r.due_at, r.support_count,
    rg.name AS region_name, c.name AS category_name,
    CASE WHEN r.anonymous THEN NULL ELSE u.name END AS reporter_name
FROM report r
JOIN region rg ON rg.id = r.region_id
LEFT JOIN category c ON c.id = r.category_id
LEFT JOIN app_user u ON u.id = r.reporter_id
WHERE NOT r.confidential AND r.status = ANY($1::text[])
ORDER BY r.id DESC LIMIT $2
"""

# One public report, its public timeline lines (first + 1, oldest first) and its assignments
# (oldest first) with their follow-ups, as arrays of rows.
REPORT_SQL = """
SELECT r.id, r.tracking_code, r.title, r.body, r.status, r.created_at, r.due_at,
    rg.name AS region_name, c.name AS category_name,
    ARRAY(
        SELECT ROW(e.id, e.kind, e.message, e.at) FROM report_event e
        WHERE e.report_id = r.id AND e.visibility = 'public' ORDER BY e.id LIMIT $3
    ) AS events,
    ARRAY(
        SELECT ROW(a.id, a.status, a.due_at, ag.name, ARRAY(
            SELECT ROW(f.id, f.message, f.final, f.created_at) FROM follow_up f
            WHERE f.assignment_id = a.id ORDER BY f.id))
        FROM assignment a JOIN agency ag ON ag.id = a.agency_id
        WHERE a.report_id = r.id ORDER BY a.id
    ) AS assignments
FROM report r
JOIN region rg ON rg.id = r.region_id
LEFT JOIN category c ON c.id = r.category_id
WHERE r.tracking_code = $1 AND NOT r.confidential AND r.status = ANY($2::text[])
"""


class Refused(Exception):
    """A request the page does not serve: answered as Lapor would, in substance."""

    def __init__(self, code: str, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _named(name: str | None) -> dict[str, str] | None:
    return {"name": name} if name is not None else None


def _page_info(edges: list[dict[str, Any]], more: bool, scanned_to: int | None) -> dict[str, Any]:
    """schema/common.py's page_info, for `{ hasNextPage endCursor }`."""
    end: str | None = None
    if scanned_to is not None:
        end = to_cursor(scanned_to)
    elif edges:
        end = edges[-1]["cursor"]
    return {"hasNextPage": more, "endCursor": end}


def _size(first: Any, settings: Settings) -> int:
    """domain/services/reading.py's page_size."""
    if first is None:
        return settings.default_page_size
    if not isinstance(first, int) or first < 0 or first > settings.max_page_size:
        raise Refused("VALIDATION", f"first must be between 0 and {settings.max_page_size}")
    return first


def _bearer(request: Request) -> str | None:
    scheme, _, value = (request.headers.get("authorization") or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


class Floors:
    """The routes, over one pool."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self.pool = await asyncpg.create_pool(
            self.settings.database_url,
            min_size=1,
            max_size=self.settings.db_pool_max,
            reset=keep_session,
        )

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    def routes(self) -> list[Route]:
        return [
            Route("/inbox", self.route(self.inbox), methods=["POST"]),
            Route("/reports", self.route(self.reports), methods=["POST"]),
            Route("/report", self.route(self.report), methods=["POST"]),
            Route("/ping", self.route(self.ping), methods=["POST"]),
            Route("/agency-performance", self.route(self.agency_performance), methods=["POST"]),
        ]

    def route(self, page: Callable[[dict[str, Any], Request, datetime], Awaitable[Any]]) -> Any:
        async def endpoint(request: Request) -> Response:
            now = datetime.now(UTC)
            try:
                body = orjson.loads(await request.body())
                data = await page(body.get("variables") or {}, request, now)
                return Response(orjson.dumps({"data": data}), media_type="application/json")
            except Refused as refusal:
                error = {"message": refusal.message, "extensions": {"code": refusal.code}}
                answer = {"data": None, "errors": [error]}
                return Response(orjson.dumps(answer), refusal.status, media_type="application/json")

        return endpoint

    async def ping(self, variables: dict[str, Any], request: Request, now: datetime) -> Any:
        return {"__typename": "Query"}

    async def inbox(self, variables: dict[str, Any], request: Request, now: datetime) -> Any:
        assert self.pool is not None
        token = _bearer(request)
        user_id = read_token(token, self.settings.secret_key, now) if token else None
        if user_id is None:
            raise Refused("UNAUTHENTICATED", "sign in first", 401 if token else 200)
        agency = from_global_id(str(variables.get("agency", "")))
        if agency is None or agency[0] != "Agency":
            raise Refused("VALIDATION", "not a Agency id")
        size = _size(variables.get("first"), self.settings)
        statuses = variables.get("status") or ALL_STATUSES  # none asked: any status
        rows = await self.pool.fetch(INBOX_SQL, agency[1], user_id, DESK_ROLES, statuses, size + 1)
        if not rows:
            raise Refused("NOT_FOUND", "agency not found")
        if not rows[0]["active"]:
            raise Refused("UNAUTHENTICATED", "invalid or expired token: sign in again", 401)
        if not rows[0]["allowed"]:
            raise Refused("FORBIDDEN", "this is not your agency's inbox")
        rows = [r for r in rows if r["id"] is not None]
        agency_node = (
            {"code": rows[0]["agency_code"], "name": rows[0]["agency_name"]} if rows else {}
        )
        edges = []
        for r in rows[:size]:
            due, report_due = r["due_at"], r["report_due_at"]
            category = r["category_name"]
            node = {
                "id": to_global_id("Assignment", r["id"]),
                "status": r["status"],
                "tier": r["tier"],
                "assignedAt": r["assigned_at"],
                "dueAt": due,
                "overdue": is_overdue(due, now),
                "escalationLevel": r["escalation_level"],
                "report": {
                    "id": to_global_id("Report", r["report_id"]),
                    "trackingCode": r["tracking_code"],
                    "title": r["title"],
                    "kind": r["kind"],
                    "status": r["report_status"],
                    "createdAt": r["created_at"],
                    "dueAt": report_due,
                    "overdue": is_overdue(report_due, now),
                    "region": {"name": r["region_name"]},
                    "category": {"name": category} if category is not None else None,
                },
                "agency": agency_node,
            }
            edges.append({"cursor": to_cursor(r["id"]), "node": node})
        more = len(rows) > size
        scanned_to = rows[size - 1]["id"] if more else None
        return {"inbox": {"edges": edges, "pageInfo": _page_info(edges, more, scanned_to)}}

    async def reports(self, variables: dict[str, Any], request: Request, now: datetime) -> Any:
        assert self.pool is not None
        if _bearer(request) is not None:
            raise Refused("BAD_REQUEST", "this floor serves the public's page only", 400)
        size = _size(variables.get("first"), self.settings)
        rows = await self.pool.fetch(REPORTS_SQL, PUBLIC_STATUSES, size + 1)
        edges = []
        for r in rows[:size]:
            due = r["due_at"]
            node = {
                "id": to_global_id("Report", r["id"]),
                "trackingCode": r["tracking_code"],
                "title": r["title"],
                "kind": r["kind"],
                "status": r["status"],
                "createdAt": r["created_at"],
                "dueAt": due,
                "overdue": is_overdue(due, now),
                "supportCount": r["support_count"],
                "region": {"name": r["region_name"]},
                "category": _named(r["category_name"]),
                "reporter": _named(r["reporter_name"]),
            }
            edges.append({"cursor": to_cursor(r["id"]), "node": node})
        more = len(rows) > size
        scanned_to = rows[size - 1]["id"] if more else None
        return {"reports": {"edges": edges, "pageInfo": _page_info(edges, more, scanned_to)}}

    async def report(self, variables: dict[str, Any], request: Request, now: datetime) -> Any:
        assert self.pool is not None
        if _bearer(request) is not None:
            raise Refused("BAD_REQUEST", "this floor serves the public's page only", 400)
        code = normalize_tracking_code(str(variables.get("code", "")))
        if code is None:
            return {"report": None}
        r = await self.pool.fetchrow(REPORT_SQL, code, PUBLIC_STATUSES, TIMELINE_FIRST + 1)
        if r is None:
            return {"report": None}
        lines = r["events"]
        shown = lines[:TIMELINE_FIRST]
        edges = [
            {
                "node": {
                    "id": to_global_id("ReportEvent", eid),
                    "kind": kind,
                    "message": message,
                    "at": at,
                }
            }
            for eid, kind, message, at in shown
        ]
        # The timeline's cursors are not selected; its end cursor is its last line's.
        timeline_end = to_cursor(shown[-1][0]) if shown else None
        due = r["due_at"]
        return {
            "report": {
                "id": to_global_id("Report", r["id"]),
                "trackingCode": r["tracking_code"],
                "title": r["title"],
                "body": r["body"],
                "status": r["status"],
                "createdAt": r["created_at"],
                "dueAt": due,
                "overdue": is_overdue(due, now),
                "region": {"name": r["region_name"]},
                "category": _named(r["category_name"]),
                "timeline": {
                    "edges": edges,
                    "pageInfo": {
                        "hasNextPage": len(lines) > TIMELINE_FIRST,
                        "endCursor": timeline_end,
                    },
                },
                "assignments": [
                    {
                        "id": to_global_id("Assignment", aid),
                        "status": status,
                        "dueAt": assignment_due,
                        "agency": {"name": agency},
                        "followUps": [
                            {
                                "id": to_global_id("FollowUp", fid),
                                "message": message,
                                "final": final,
                                "createdAt": created,
                            }
                            for fid, message, final, created in follow_ups
                        ],
                    }
                    for aid, status, assignment_due, agency, follow_ups in r["assignments"]
                ],
            }
        }

    async def agency_performance(
        self, variables: dict[str, Any], request: Request, now: datetime
    ) -> Any:
        """bench.transparency.PERFORMANCE: a region's agencies with their summed counts in one
        statement, the figures and their order by domain/transparency.py (the rules live
        there once), the fairness rules from the same settings."""
        assert self.pool is not None
        period = parse_period(str(variables.get("period", "")))
        if period is None:
            raise Refused("VALIDATION", "not a period")
        region = from_global_id(str(variables.get("region", "")))
        if region is None or region[0] != "Region":
            raise Refused("VALIDATION", "not a Region id")
        rows = await self.pool.fetch(PERFORMANCE_SQL, region[1], list(period.months))
        rules = FairnessRules(
            self.settings.transparency_min_sample, self.settings.transparency_small_cell
        )
        found = []
        for r in rows:
            counts: dict[str, dict[int, int]] = {}
            for measure, value, n in r["cells"] or []:
                counts.setdefault(measure, {})[int(value)] = int(n)
            found.append((r["code"], r["name"], figures(counts, rules)))
        found.sort(key=lambda row: ranking_key(row[2]))
        return {
            "agencyPerformance": [
                {
                    "period": period.label,
                    "agency": {"code": code, "name": name},
                    "figures": {
                        "received": f.received,
                        "answered": f.answered,
                        "answeredOnTime": {
                            "value": f.answered_on_time.value,
                            "sample": f.answered_on_time.sample,
                            "rankable": f.answered_on_time.rankable,
                        },
                        "resolutionMedianDays": {
                            "value": f.resolution_median.value,
                            "sample": f.resolution_median.sample,
                        },
                        "ratingAverage": {
                            "value": f.rating_average.value,
                            "sample": f.rating_average.sample,
                        },
                    },
                }
                for code, name, f in found
            ]
        }


# A region's agencies (not the national ones), ordered by code as Lapor lists them, each with
# its cells of the period summed over the months: [measure, value, n] triples.
PERFORMANCE_SQL = """
SELECT ag.code, ag.name,
    (SELECT array_agg(ARRAY[c.measure, c.value::text, c.n::text]) FROM (
        SELECT measure, value, sum(n) AS n FROM perf_cell
        WHERE scope = 'agency' AND scope_id = ag.id AND month = ANY($2::date[])
        GROUP BY measure, value) AS c) AS cells
FROM agency ag WHERE ag.region_id = $1 ORDER BY ag.code
"""


async def keep_session(connection: object) -> None:
    """No reset when a connection goes back to the pool: Lapor's pool sends none either
    (models/db.py), and the floors' statements set no session state."""


def create_app(settings: Settings | None = None) -> Starlette:
    """The floors' app (a uvicorn factory) for the settings' database and secret."""
    floors = Floors(settings or get_settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await floors.open()
        try:
            yield
        finally:
            await floors.close()

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"alive"}', media_type="application/json")

    return Starlette(
        routes=[*floors.routes(), Route("/healthz", healthz)],
        lifespan=lifespan,
    )


def serve(factory: str, description: str, port: int, **options: Any) -> None:
    """Run a floor's app factory (`module:function`) as `lapor api` runs: one uvicorn process
    with uvloop and httptools, no access log; `--host` and `--port` from the command line."""
    import uvicorn

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    args = parser.parse_args()
    uvicorn.run(
        factory,
        factory=True,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        **options,
    )


def main() -> None:
    serve("bench.floors:create_app", __doc__.splitlines()[0], 8001)


if __name__ == "__main__":
    main()
