"""The fault matrix: steady `reportSubmit` traffic with a coordinator verifying, while in turn
the worker is SIGKILLed and restarted, the API is SIGKILLed and restarted, Redis restarts and
PostgreSQL restarts (bench/stack.py: each a process of its own, PostgreSQL durable). After
each fault it checks in SQL what became of every request and every event, and prints a row.

    .venv/bin/python -m bench.faults [--rate 30] [--window 16] [--runs 1] [--only postgres]
                                     [--without-keys] [--logs DIR]

The clients behave as the README asks of frontends: every submit and every verification
carries its own Idempotency-Key, and a request that got no clear answer (the connection
refused or dropped, a 503 UNAVAILABLE, anything 5xx) is sent again with the same key, after
its Retry-After (or a quarter of a second), until it is answered or a minute has passed.

Per fault, over the requests that began in its window:
- failed requests: those that needed a retry, and how their failed tries were answered;
- answers back: seconds from the fault until the last failed try (the service answered again);
- outbox caught up: seconds from the fault until no outbox row waited more than 3 s (the
  relay polls every 2 s: a row whose publish was lost waits up to that);
- lost: reports (or verifications) the client was told were stored that are not there;
- duplicate: reports stored twice for one key, or verifications that made two assignments;
- told failed: requests the client gave up on whose report is there anyway;
- outbox left: rows not relayed 30 s after the window;
- notifications lost / duplicate: per event of the window's reports, against what the same
  kind of event got before any fault (the same reporter, region and agency: the same people);
- sweep: seconds until the deadline sweep took a step on a report made due after the fault.
It also counts log lines of clients answered INTERNAL (tests/conftest.py's net, for processes).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import service as stack
from core.logs import is_internal_line

SUBMIT = """mutation($i: ReportSubmitInput!) { reportSubmit(input: $i) {
  report { id trackingCode } errors { code } } }"""
VERIFY = """mutation($r: ID!, $a: [ID!]!) { reportVerify(reportId: $r, agencyIds: $a) {
  report { id status } errors { code } } }"""
GIVE_UP_SECONDS = 60.0
PENDING = "SELECT count(*) FROM outbox_message WHERE dispatched_at IS NULL"
# Event kinds of this traffic, whose notifications are counted.
KINDS = ("report.submitted", "report.verified", "assignment.created")


@dataclass
class Request:
    """One logical request (one Idempotency-Key) and each try it took."""

    kind: str  # "submit" or "verify"
    key: str
    started: float
    tries: list[tuple[float, float, str]] = field(default_factory=list)  # start, end, answer
    outcome: str | None = None  # "ok", "refused <CODE>", "gave up"
    tracking_code: str | None = None
    report_id: str | None = None  # global id

    @property
    def failed_tries(self) -> list[tuple[float, float, str]]:
        return [t for t in self.tries if t[2] != "ok" and not t[2].startswith("refused")]


def _answer(response: httpx.Response, field_name: str) -> tuple[str, dict[str, Any] | None]:
    """How a try was answered ("ok", "refused CODE", or the failure), and the payload."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code} (not JSON)", None
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        code = (errors[0].get("extensions") or {}).get("code")
        return f"HTTP {response.status_code} {code}", None
    if response.status_code != 200:
        return f"HTTP {response.status_code}", None
    payload = (body.get("data") or {}).get(field_name) or {}
    if payload.get("errors"):
        return f"refused {payload['errors'][0]['code']}", payload
    return "ok", payload


def _failure(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.ConnectError):
        return "connection refused"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    return "connection dropped"


class Clients:
    """Open-loop traffic: `rate` submits a second by a citizen, a fifth of that many
    verifications by the coordinator, each retried with its key until answered."""

    def __init__(self, base: str, rate: float, ids: dict[str, str], keys: bool = True) -> None:
        self.rate = rate
        self.ids = ids
        self.keys = keys
        self.requests: list[Request] = []
        self.unverified: list[str] = []
        self.http = httpx.AsyncClient(
            base_url=base,
            timeout=10,
            limits=httpx.Limits(max_connections=128, max_keepalive_connections=64),
            headers={"Accept": "application/graphql-response+json"},
        )
        self.tasks: set[asyncio.Task[None]] = set()

    async def _send(self, request: Request, token: str, body: dict[str, Any], name: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        if self.keys:
            headers["Idempotency-Key"] = request.key
        while True:
            began = time.monotonic()
            retry_after = 0.25
            payload = None
            try:
                response = await self.http.post("/graphql", json=body, headers=headers)
                answer, payload = _answer(response, name)
                retry_after = float(response.headers.get("retry-after", retry_after))
            except httpx.HTTPError as error:
                answer = _failure(error)
            request.tries.append((began, time.monotonic(), answer))
            if answer == "ok" or answer.startswith("refused"):
                request.outcome = answer
                report = (payload or {}).get("report") or {}
                request.tracking_code = report.get("trackingCode")
                request.report_id = report.get("id")
                return
            if time.monotonic() - request.started > GIVE_UP_SECONDS:
                request.outcome = "gave up"
                return
            await asyncio.sleep(min(retry_after, 1.0))

    async def submit(self) -> None:
        request = Request("submit", str(uuid.uuid4()), time.monotonic())
        self.requests.append(request)
        data = {
            "kind": "COMPLAINT",
            "title": f"Gangguan layanan {request.key}",  # the key finds the report in SQL
            "body": "Pelayanan terhenti sejak pagi.",
            "regionId": self.ids["region"],
        }
        body = {"query": SUBMIT, "variables": {"i": data}}
        await self._send(request, self.ids["citizen"], body, "reportSubmit")
        if request.outcome == "ok" and request.report_id:
            self.unverified.append(request.report_id)

    async def verify(self, report_id: str) -> None:
        request = Request("verify", str(uuid.uuid4()), time.monotonic(), report_id=report_id)
        self.requests.append(request)
        variables = {"r": report_id, "a": [self.ids["agency"]]}
        await self._send(
            request,
            self.ids["coordinator"],
            {"query": VERIFY, "variables": variables},
            "reportVerify",
        )

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run(self, until: float) -> None:
        """Send traffic on schedule until `until` (monotonic)."""
        interval = 1 / self.rate
        due = time.monotonic()
        sent = 0
        while due < until:
            self._spawn(self.submit())
            sent += 1
            if sent % 5 == 0 and self.unverified:
                self._spawn(self.verify(self.unverified.pop(0)))
            due += interval
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    async def settle(self) -> None:
        """Wait until every request sent so far has its outcome."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks))


# ----------------------------------------------------------------------------- faults


async def kill_worker(service: stack.Service) -> None:
    service.worker.kill()
    await asyncio.sleep(5)
    service.worker.start()


async def kill_api(service: stack.Service) -> None:
    service.api.kill()
    await asyncio.sleep(3)
    service.api.start()


async def restart_redis(service: stack.Service) -> None:
    await asyncio.to_thread(service.redis.stop)
    await asyncio.to_thread(service.redis.start)


async def restart_postgres(service: stack.Service) -> None:
    await asyncio.to_thread(service.cluster.stop)
    await asyncio.to_thread(service.cluster.restart)


FAULTS: list[tuple[str, Callable[[stack.Service], Awaitable[None]]]] = [
    ("worker SIGKILL, restart after 5 s", kill_worker),
    ("API SIGKILL, restart after 3 s", kill_api),
    ("Redis restart", restart_redis),
    ("PostgreSQL restart (fast)", restart_postgres),
]


# ---------------------------------------------------------------------------- the checks


@dataclass
class Row:
    """One line of the table: a fault and what became of the requests of its window."""

    fault: str
    requests: int = 0
    failed: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    answers_back: float | None = None
    outbox_caught_up: float | None = None
    lost: int = 0
    duplicate: int = 0
    told_failed: int = 0
    outbox_left: int = 0
    notifications_lost: int = 0
    notifications_duplicate: int = 0
    sweep: float | None = None


async def _old_pending(url: str) -> int:
    return await stack.scalar(
        url,
        "SELECT count(*) FROM outbox_message WHERE dispatched_at IS NULL "
        "AND created_at < now() - interval '3 seconds'",
    )


async def _watch_outbox(url: str, since: float, until: float, seen: list[float]) -> None:
    """Note when rows waited more than 3 s for the relay (the database may be down: skip)."""
    while time.monotonic() < until:
        try:
            if await _old_pending(url):
                seen.append(time.monotonic() - since)
        except (OSError, asyncpg.PostgresError):
            seen.append(time.monotonic() - since)
        await asyncio.sleep(0.25)


async def _wait_drained(url: str, seconds: float = 30) -> int:
    deadline = time.monotonic() + seconds
    pending = await stack.scalar(url, PENDING)
    while pending and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        pending = await stack.scalar(url, PENDING)
    return pending


async def _notifications_by_event(conn: asyncpg.Connection, keys: list[str]) -> list[Any]:
    return list(
        await conn.fetch(
            "SELECT e.kind, e.id, (SELECT count(*) FROM notification n WHERE n.event_id = e.id) "
            "AS notes FROM report_event e JOIN report r ON r.id = e.report_id "
            "WHERE r.title = ANY($1::text[]) AND e.kind = ANY($2::text[])",
            [f"Gangguan layanan {k}" for k in keys],
            list(KINDS),
        )
    )


async def expected_notifications(url: str, requests: list[Request]) -> dict[str, int]:
    """Notifications per event of each kind in traffic before any fault (the most common)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await _notifications_by_event(conn, [r.key for r in requests])
    finally:
        await conn.close()
    by_kind: dict[str, list[int]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(int(row["notes"]))
    return {kind: statistics.mode(counts) for kind, counts in by_kind.items()}


async def check(
    url: str, row: Row, window: list[Request], expected: dict[str, int], started: float
) -> None:
    """Fill in `row` from the database for the requests that began in the fault's window."""
    row.requests = len(window)
    for request in window:
        failed = request.failed_tries
        if failed:
            row.failed += 1
            row.answers.update(answer for _, _, answer in failed)
            end = max(e for _, e, _ in failed) - started
            row.answers_back = max(row.answers_back or 0.0, end)
    row.outbox_left = await _wait_drained(url)
    submits = [r for r in window if r.kind == "submit"]
    conn = await asyncpg.connect(url)
    try:
        stored = dict(
            (record["title"], record["n"])
            for record in await conn.fetch(
                "SELECT title, count(*) AS n FROM report WHERE title = ANY($1::text[]) "
                "GROUP BY title",
                [f"Gangguan layanan {r.key}" for r in submits],
            )
        )
        for request in submits:
            count = stored.get(f"Gangguan layanan {request.key}", 0)
            row.lost += request.outcome == "ok" and count == 0
            row.duplicate += max(0, count - 1)
            row.told_failed += request.outcome == "gave up" and count > 0
        verified = [r.report_id for r in window if r.kind == "verify" and r.outcome == "ok"]
        if verified:
            ids = [_pk(v) for v in verified if v]
            assignments = {
                record["report_id"]: record["n"]
                for record in await conn.fetch(
                    "SELECT report_id, count(*) AS n FROM assignment WHERE report_id = "
                    "ANY($1::bigint[]) GROUP BY report_id",
                    ids,
                )
            }
            row.lost += sum(1 for i in ids if assignments.get(i, 0) == 0)
            row.duplicate += sum(max(0, n - 1) for n in assignments.values())
        for record in await _notifications_by_event(conn, [r.key for r in submits]):
            want = expected.get(record["kind"])
            if want is not None:
                row.notifications_lost += max(0, want - int(record["notes"]))
                row.notifications_duplicate += max(0, int(record["notes"]) - want)
        row.notifications_duplicate += int(
            await conn.fetchval(
                "SELECT count(*) FROM (SELECT 1 FROM notification GROUP BY event_id, user_id, "
                "agency_id, channel HAVING count(*) > 1) AS twice"
            )
        )
    finally:
        await conn.close()


def _pk(global_id: str) -> int:
    padded = global_id + "=" * (-len(global_id) % 4)
    return int(base64.urlsafe_b64decode(padded).decode().partition(":")[2])


async def sweep_resumes(url: str, requests: list[Request], seconds: float = 60) -> float | None:
    """Make a report of this traffic due now; seconds until the sweep took a step on it."""
    candidates = [r.report_id for r in requests if r.kind == "submit" and r.report_id]
    conn = await asyncpg.connect(url)
    try:
        report_id = await conn.fetchval(
            "SELECT id FROM report WHERE id = ANY($1::bigint[]) AND status = 'SUBMITTED' "
            "AND NOT EXISTS (SELECT 1 FROM sweep_mark m WHERE m.report_id = report.id) "
            "ORDER BY id DESC LIMIT 1",
            [_pk(c) for c in candidates],
        )
        if report_id is None:
            return None
        await conn.execute(
            "UPDATE report SET due_at = now() - interval '1 minute', "
            "sweep_at = now() - interval '1 minute' WHERE id = $1",
            report_id,
        )
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            marks = "SELECT count(*) FROM sweep_mark WHERE report_id = $1"
            if await conn.fetchval(marks, report_id):
                return time.monotonic() - started
            await asyncio.sleep(0.25)
        return None
    finally:
        await conn.close()


def internal_lines(logs: list[Path]) -> list[str]:
    """Log lines of clients answered INTERNAL, or of an exception escaping the app."""
    return [
        f"{path.name}: {line[:300]}"
        for path in logs
        for line in path.read_text(errors="replace").splitlines()
        if is_internal_line(line)
    ]


# ----------------------------------------------------------------------------- the run


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def table(rows: list[Row]) -> str:
    head = (
        "| fault | requests | failed (answers to their failed tries) | answers back | "
        "outbox caught up | lost | duplicate | told failed, stored | outbox left | "
        "notifications lost / duplicate | sweep resumed |"
    )
    lines = [head, "|" + " --- |" * 11]
    for r in rows:
        answers = ", ".join(f"{n}x {a}" for a, n in r.answers.most_common()) or "—"
        lines.append(
            f"| {r.fault} | {r.requests} | {r.failed} ({answers}) | {_seconds(r.answers_back)} | "
            f"{_seconds(r.outbox_caught_up)} | {r.lost} | {r.duplicate} | {r.told_failed} | "
            f"{r.outbox_left} | {r.notifications_lost} / {r.notifications_duplicate} | "
            f"{_seconds(r.sweep)} |"
        )
    return "\n".join(lines)


async def matrix(
    service: stack.Service,
    rate: float,
    window: float,
    faults: list[tuple[str, Callable[[stack.Service], Awaitable[None]]]],
    keys: bool = True,
) -> list[Row]:
    region = stack.region_id(service.base, "35.09")
    ids = {
        "region": region,
        "agency": stack.agency_id(service.base, region, "DINKES"),
        "citizen": stack.login(service.base, "warga@jember.demo"),
        "coordinator": stack.login(service.base, "koordinator@jember.demo"),
    }
    clients = Clients(service.base, rate, ids, keys)
    url = service.database_url
    rows = []
    try:
        # Before any fault: what the traffic looks like, and what each event is owed.
        began = time.monotonic()
        await clients.run(began + window / 2)
        await clients.settle()
        await _wait_drained(url)
        baseline = list(clients.requests)
        expected = await expected_notifications(url, baseline)
        row = Row("none (before the faults)")
        await check(url, row, baseline, expected, began)
        row.sweep = await sweep_resumes(url, baseline)
        rows.append(row)
        print(f"expected notifications per event: {expected}", flush=True)
        for name, fault in faults:
            before = len(clients.requests)
            started = time.monotonic()
            slow: list[float] = []
            watch = asyncio.ensure_future(_watch_outbox(url, started, started + window, slow))
            traffic = asyncio.ensure_future(clients.run(started + window))
            await asyncio.sleep(1)  # the traffic is steady when the fault comes
            await fault(service)
            await traffic
            await clients.settle()
            await watch
            row = Row(name)
            await check(url, row, clients.requests[before:], expected, started)
            row.outbox_caught_up = max(slow) if slow else None
            row.sweep = await sweep_resumes(url, clients.requests[before:])
            rows.append(row)
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    finally:
        await clients.http.aclose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=30, help="submits a second")
    parser.add_argument("--window", type=float, default=16, help="seconds of traffic per fault")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--only", default="", help="only the faults whose name has this word")
    parser.add_argument("--logs", help="keep the API's and the worker's logs in this folder")
    parser.add_argument(
        "--without-keys",
        action="store_true",
        help="clients retry without an Idempotency-Key (what the keys prevent)",
    )
    args = parser.parse_args()
    faults = [(n, f) for n, f in FAULTS if args.only.lower() in n.lower()]
    env = {"LAPOR_SWEEP_EVERY_SECONDS": "5", "LAPOR_RELAY_POLL_SECONDS": "2"}
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="lapor-faults-") as scratch:
            logs = Path(args.logs or scratch) / f"run-{run + 1}"
            logs.mkdir(parents=True, exist_ok=True)
            with stack.service(logs, durable=True, env=env) as service:
                keys = not args.without_keys
                rows = asyncio.run(matrix(service, args.rate, args.window, faults, keys))
                internal = internal_lines(service.logs)
            keyed = "with" if not args.without_keys else "WITHOUT"
            print(
                f"\nrun {run + 1}: {args.rate:g} reportSubmit/s, {args.window:g} s per fault, "
                f"retries {keyed} their Idempotency-Key"
            )
            print(table(rows))
            print(f"log lines of clients answered INTERNAL: {len(internal)}")
            for line in internal[:10]:
                print(f"  {line}")


if __name__ == "__main__":
    main()
