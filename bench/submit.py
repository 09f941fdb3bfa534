"""The write path under load: `reportSubmit` from concurrent clients against one `lapor api`
and one `lapor worker`, as deployed (separate processes, uvicorn with uvloop and httptools).

By default it starts its own PostgreSQL (durable: fsync and synchronous commit on, as in
production; `--fast` turns them off as the tests do) and Redis, migrates and seeds the demo,
and starts the API and the worker, each under a database role of its own so that
pg_stat_statements can count their statements apart. Then `--clients` keep-alive connections
submit reports as the demo citizen for `--warmup` + `--seconds` seconds (bench/load.py), and
it prints:

- submits/s and latency (p50, p99, max) over the measured seconds, and every error: an HTTP
  status other than 200, a GraphQL error, a refusal in `errors`;
- statements per submit in the API and per event in the worker (pg_stat_statements, counting
  BEGIN/COMMIT and asyncpg's connection resets as statements);
- how long after the load the worker's queue and the outbox were empty;
- whether every submitted report's event has exactly one in-app notification per recipient
  (the region's coordinators), no more, no less;
- error and warning lines, and tracebacks, in the API's and the worker's logs.

    .venv/bin/python -m bench.submit [--clients 32] [--seconds 20] [--warmup 3] [--fast]

Against a service that runs already (e.g. `make run`, whose output went to run.log):

    .venv/bin/python -m bench.submit --url http://127.0.0.1:8000 --log run.log

which finds the embedded database through var/postgres/server.json for the checks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from bench import load
from bench.service import (
    STATEMENTS,
    log_problems,
    login,
    prepare,
    production_env,
    reset_statements,
    scalar,
    start,
    statement_calls,
    stop,
    top_statements,
    wait_healthy,
    with_user,
)
from lapor.servers import free_port
from tests.harness import PostgresCluster, RedisServer

SUBMIT = (
    "mutation Submit($i: ReportSubmitInput!) { reportSubmit(input: $i) { "
    "report { id trackingCode status dueAt } errors { code message field } } }"
)


def check_submit(status: int, body: bytes) -> str | None:
    """Why an answer is not a stored report, or None when it is."""
    if status != 200:
        return f"HTTP {status}"
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "not JSON"
    if doc.get("errors"):
        return str(doc["errors"][0].get("extensions", {}).get("code", "GraphQL error"))
    payload = (doc.get("data") or {}).get("reportSubmit") or {}
    if payload.get("errors"):
        return str(payload["errors"][0]["code"])
    if not (payload.get("report") or {}).get("trackingCode"):
        return "no report"
    return None


@dataclass
class Target:
    """The service under load and what the bench may inspect of it."""

    base: str
    database_url: str | None
    logs: list[Path]
    # API and worker under roles of their own, with pg_stat_statements loaded.
    statements: bool = False


def _region(base: str, code: str) -> str:
    answer = httpx.post(f"{base}/graphql", json={"query": "{ regions { id code } }"}, timeout=30)
    return next(r["id"] for r in answer.json()["data"]["regions"] if r["code"] == code)


@contextlib.contextmanager
def own_service(fast: bool, logs: Path) -> Iterator[Target]:
    """PostgreSQL, Redis, the demo, one API and one worker, each under its own role."""
    with PostgresCluster(durable=not fast, settings=STATEMENTS) as cluster, RedisServer() as redis:
        url = cluster.create_database("lapor_bench_submit")
        asyncio.run(prepare(url, ("lapor_api", "lapor_worker")))
        common = production_env(redis.url)
        port = free_port()
        api_log, worker_log = logs / "api.log", logs / "worker.log"
        api = start(
            ["-m", "lapor", "api", "--port", str(port)],
            {**common, "LAPOR_DATABASE_URL": with_user(url, "lapor_api")},
            api_log,
        )
        worker = start(
            ["-m", "lapor", "worker"],
            {**common, "LAPOR_DATABASE_URL": with_user(url, "lapor_worker")},
            worker_log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(f"{base}/healthz", api, api_log)
            yield Target(base, url, [api_log, worker_log], statements=True)
        finally:
            stop([api, worker])


async def measure(target: Target, clients: int, seconds: float, warmup: float) -> None:
    token = login(target.base, "warga@jember.demo")
    region = _region(target.base, "35.09")
    variables = {
        "kind": "COMPLAINT",
        "title": "Lampu jalan padam",
        "body": "Lampu jalan di depan pasar padam sejak seminggu.",
        "regionId": region,
        "ombudsmanConsent": True,
    }
    body = orjson.dumps({"query": SUBMIT, "variables": {"i": variables}})
    request = load.post(f"{target.base}/graphql", body, {"Authorization": f"Bearer {token}"})
    url = target.database_url
    stats = target.statements

    async def counts() -> tuple[int, int]:
        assert url is not None
        return await scalar(url, "SELECT count(*) FROM report"), await scalar(
            url, "SELECT count(*) FROM outbox_message WHERE dispatched_at IS NOT NULL"
        )

    async def reset_after_warmup() -> tuple[int, int] | None:
        await asyncio.sleep(warmup)
        if url is None:
            return None
        if stats:
            await reset_statements(url)
        return await counts()

    before_task = asyncio.create_task(reset_after_warmup())
    result = await load.run(
        f"{target.base}/graphql",
        [request],
        connections=clients,
        seconds=seconds,
        warmup=warmup,
        check=check_submit,
    )
    ended = time.monotonic()
    before = await before_task
    print(f"reportSubmit, {clients} clients, {seconds:.0f} s after {warmup:.0f} s of warm-up:")
    print(f"  {result.summary()}")
    for problem, count in sorted(result.errors.items()):
        print(f"  error {problem}: {count}")
    if result.first_error:
        print(f"  first error body: {result.first_error}")
    if url is None or before is None:
        return
    api_submits = (await counts())[0] - before[0]
    if stats:
        api_calls = (await statement_calls(url)).get("lapor_api", 0)
        print(f"  statements per submit in the API: {api_calls / max(api_submits, 1):.2f}")
    drained = None
    while time.monotonic() - ended < 120:
        if await scalar(url, "SELECT count(*) FROM outbox_message WHERE dispatched_at IS NULL"):
            await asyncio.sleep(0.1)
            continue
        drained = time.monotonic() - ended
        break
    print(
        "  outbox drained "
        + (f"{drained:.1f} s after the load" if drained is not None else "NOT within 120 s")
    )
    if stats:
        relayed = (await counts())[1] - before[1]
        worker_calls = (await statement_calls(url)).get("lapor_worker", 0)
        print(f"  statements per event in the worker: {worker_calls / max(relayed, 1):.2f}")
        for role in ("lapor_api", "lapor_worker"):
            print(f"  most frequent statements of {role}:")
            for calls, _mean, query in await top_statements(url, role):
                print(f"    {calls:8d}  {query}")
    coordinators = await scalar(
        url,
        "SELECT count(DISTINCT g.user_id) FROM role_grant g JOIN region r ON r.id = g.region_id "
        "JOIN app_user u ON u.id = g.user_id WHERE g.role = 'COORDINATOR' AND r.code = '35.09' "
        "AND u.is_active",
    )
    wrong = await scalar(
        url,
        "SELECT count(*) FROM report_event e WHERE e.kind = 'report.submitted' AND "
        f"(SELECT count(*) FROM notification n WHERE n.event_id = e.id) <> {coordinators}",
    )
    events = await scalar(url, "SELECT count(*) FROM report_event WHERE kind = 'report.submitted'")
    print(
        f"  notifications: {events - wrong:,} of {events:,} submitted events have exactly one "
        f"per recipient ({coordinators} coordinators)"
    )
    problems = log_problems(target.logs)
    print(f"  log lines at warning or error, and tracebacks: {len(problems)}")
    for line in problems[:10]:
        print(f"    {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--fast", action="store_true", help="PostgreSQL without fsync")
    parser.add_argument("--url", help="a running service instead of one started here")
    parser.add_argument("--database-url", help="its database (default: the embedded one)")
    parser.add_argument("--log", action="append", default=[], help="its log, to scan for errors")
    args = parser.parse_args()
    if args.url:
        from lapor.embedded import running_url

        target = Target(
            args.url.rstrip("/"), args.database_url or running_url(), [Path(p) for p in args.log]
        )
        asyncio.run(measure(target, args.clients, args.seconds, args.warmup))
        return
    with tempfile.TemporaryDirectory(prefix="lapor-bench-") as logs:
        with own_service(args.fast, Path(logs)) as target:
            asyncio.run(measure(target, args.clients, args.seconds, args.warmup))


if __name__ == "__main__":
    main()
