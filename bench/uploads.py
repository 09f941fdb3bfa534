"""Photos uploaded through the API (issue 14): what one 4 MB, 12-megapixel phone photo costs
from the HTTP request to the stored file, and whether uploads hold up the other requests; each
figure next to a floor measured in the same run.

On a throwaway PostgreSQL (durable, as in production) and Redis with the demo, one `lapor api`
as deployed (uvicorn, uvloop, httptools, LAPOR_ENV=production, files in a directory store of
its own), and no worker: its thumbnails would take the cores the API is measured on, so their
jobs wait in Redis. The photo is bench/media.py's (4000x3000, about 4 MB, with a phone's EXIF).
Every request is the demo citizen's `reportSubmit` (bench/submit.py's), sent with bench/load.py
over keep-alive connections; an answer counts as an error unless it is a stored report.

1. One at a time, `--runs` times each, alternating: `reportSubmit` without a file (the floor
   of the GraphQL write), the same with the photo as the GraphQL multipart request, and
   `clean` of the photo alone in this process (the floor of the file's work). p50 and p99 of
   each, and the API's peak resident set (VmHWM in /proc) before and after: the growth is
   what one file at a time costs in memory.
2. Blocking: a small public query (`reports(first: 5)`, one indexed read) from `--queriers`
   connections for `--seconds`, (a) alone, then (b) while `--uploaders` connections upload
   the photo continuously; (a) and (b) alternate `--rounds` times. p50/p99 of the query in
   each phase, p99(b)/p99(a) per round, uploads/s during (b), and the API's peak resident set
   after the concurrent uploads.

    .venv/bin/python -m bench.uploads [--runs 20] [--seconds 10] [--rounds 2] [--uploaders 8]
        [--queriers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import load
from bench.media import FIELD, LIMITS, peak_rss_kib, phone_photo
from bench.service import (
    log_problems,
    login,
    machine,
    prepare,
    production_env,
    region_id,
    start,
    stop,
    wait_healthy,
    with_user,
)
from bench.submit import SUBMIT, check_submit
from domain.media import clean
from lapor.servers import free_port
from tests.harness import PostgresCluster, RedisServer

CITIZEN = "warga@jember.demo"
API_ROLE = "lapor_api"
QUERY = "{ reports(first: 5) { edges { node { id } } } }"
WARMUP_SECONDS = 2.0


@dataclass
class Api:
    base: str
    pid: int
    log: Path


@contextlib.contextmanager
def api(logs: Path) -> Iterator[Api]:
    """PostgreSQL, Redis, the demo and one `lapor api`, all stopped and removed afterwards."""
    with PostgresCluster(durable=True) as cluster, RedisServer() as redis:
        url = cluster.create_database("lapor_bench_uploads")
        asyncio.run(prepare(url, (API_ROLE,)))
        env = {
            **production_env(redis.url),
            "LAPOR_DATABASE_URL": with_user(url, API_ROLE),
            "LAPOR_FILES_DIR": str(logs / "files"),
        }
        port = free_port()
        log = logs / "api.log"
        process = start(["-m", "lapor", "api", "--port", str(port)], env, log)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(f"{base}/healthz", process, log)
            yield Api(base, process.pid, log)
        finally:
            stop([process])


def submit_variables(region: str, files: int) -> dict[str, Any]:
    return {
        "i": {
            "kind": "COMPLAINT",
            "title": "Jalan berlubang di depan pasar",
            "body": "Lubang besar di jalan depan pasar, dua motor jatuh minggu ini.",
            "regionId": region,
            "ombudsmanConsent": True,
            **({"attachments": [None] * files} if files else {}),
        }
    }


def multipart(region: str, photo: bytes) -> tuple[bytes, str]:
    """The body and Content-Type of `reportSubmit` with `photo` as the GraphQL multipart
    request, as upload clients send it (httpx encodes the parts and picks the boundary)."""
    request = httpx.Request(
        "POST",
        "http://lapor.test/graphql",
        data={
            "operations": orjson.dumps(
                {"query": SUBMIT, "variables": submit_variables(region, 1)}
            ).decode(),
            "map": '{"0": ["variables.i.attachments.0"]}',
        },
        files={"0": ("IMG_20261130_jalan.jpg", photo, "image/jpeg")},
    )
    return request.read(), request.headers["content-type"]


@dataclass
class Requests:
    """The pre-encoded requests the bench sends."""

    graphql: str
    plain: bytes  # reportSubmit without a file
    upload: bytes  # reportSubmit with the photo
    query: bytes  # the small public query


def requests(base: str, photo: bytes) -> Requests:
    graphql = f"{base}/graphql"
    token = {"Authorization": f"Bearer {login(base, CITIZEN)}"}
    region = region_id(base, "35.09")
    body, content_type = multipart(region, photo)
    return Requests(
        graphql,
        load.post(
            graphql,
            orjson.dumps({"query": SUBMIT, "variables": submit_variables(region, 0)}),
            token,
        ),
        load.post(graphql, body, token, content_type=content_type),
        load.post(graphql, orjson.dumps({"query": QUERY})),
    )


def check_query(status: int, body: bytes) -> str | None:
    if status != 200:
        return f"HTTP {status}"
    return "GraphQL error" if b'"errors"' in body else None


def _ms(seconds: list[float], q: float) -> float:
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@dataclass
class PerFile:
    clean: list[float]
    plain: list[float]
    upload: list[float]
    errors: dict[str, int]


async def one_at_a_time(target: Requests, photo: bytes, runs: int) -> PerFile:
    """`runs` of each, alternating (the first upload is measured: a fresh process serves one
    too)."""
    out = PerFile([], [], [], {})
    for _ in range(runs):
        for name, request in (("plain", target.plain), ("upload", target.upload)):
            result = await load.repeat(target.graphql, request, 1, check_submit)
            getattr(out, name).extend(result.latencies)
            for problem, count in result.errors.items():
                out.errors[problem] = out.errors.get(problem, 0) + count
        started = time.perf_counter()
        clean(photo, FIELD, LIMITS)
        out.clean.append(time.perf_counter() - started)
    return out


@dataclass
class Round:
    alone: load.Result
    during: load.Result
    uploads: load.Result


async def blocking(target: Requests, args: argparse.Namespace) -> list[Round]:
    """(a) the query alone, (b) the query while uploads run, `args.rounds` times."""
    rounds = []
    for index in range(args.rounds):
        alone = await load.run(
            target.graphql,
            [target.query],
            connections=args.queriers,
            seconds=args.seconds,
            warmup=WARMUP_SECONDS,
            check=check_query,
        )
        # The uploads start first and go on past the query's window (load.run waits for the
        # answers in flight), so that the whole window sees `uploaders` uploads at once.
        uploads, during = await asyncio.gather(
            load.run(
                target.graphql,
                [target.upload],
                connections=args.uploaders,
                seconds=args.seconds + WARMUP_SECONDS,
                warmup=WARMUP_SECONDS,
                check=check_submit,
            ),
            load.run(
                target.graphql,
                [target.query],
                connections=args.queriers,
                seconds=args.seconds,
                warmup=2 * WARMUP_SECONDS,
                check=check_query,
            ),
        )
        rounds.append(Round(alone, during, uploads))
        print(
            f"  round {index + 1}: query alone p99 {alone.quantile(0.99) * 1000:.1f} ms, during "
            f"uploads p99 {during.quantile(0.99) * 1000:.1f} ms; {uploads.rate:.2f} uploads/s"
        )
    return rounds


def report(
    per_file: PerFile,
    rounds: list[Round],
    memory: dict[str, int],
    args: argparse.Namespace,
    photo: bytes,
) -> None:
    clean50, plain50, upload50 = (
        statistics.median(t) * 1000 for t in (per_file.clean, per_file.plain, per_file.upload)
    )
    print()
    print(
        f"one photo at a time ({len(photo):,} bytes, 4000x3000; {args.runs} runs each, "
        "alternating):"
    )
    print(f"  {'':<44} {'p50 ms':>8} {'p99 ms':>8} {'/ clean':>8}")
    for label, times in (
        ("clean alone, in the bench process (floor)", per_file.clean),
        ("reportSubmit without a file (floor)", per_file.plain),
        ("reportSubmit with the photo", per_file.upload),
    ):
        p50 = statistics.median(times) * 1000
        print(f"  {label:<44} {p50:>8.1f} {_ms(times, 0.99):>8.1f} {p50 / clean50:>8.2f}")
    overhead = upload50 - plain50 - clean50
    print(
        f"  upload / (clean + submit without a file), p50: {upload50 / (clean50 + plain50):.2f}; "
        f"what is left to HTTP, multipart, hashing and storing: {overhead:.1f} ms"
    )
    mib = {k: v / 1024 for k, v in memory.items()}
    print(
        f"  API peak RSS (VmHWM): {mib['start']:.0f} MiB before, +{mib['one'] - mib['start']:.0f} "
        f"MiB after one at a time, +{mib['many'] - mib['start']:.0f} MiB after "
        f"{args.uploaders} at once"
    )
    print()
    print(
        f"the small query ({args.queriers} connections, {args.seconds:g} s per phase) alone and "
        f"while {args.uploaders} connections upload the photo:"
    )
    print(
        f"  {'round':<6} {'alone q/s':>9} {'p50':>6} {'p99':>6}  {'during q/s':>10} {'p50':>6} "
        f"{'p99':>6}  {'p99 ratio':>9}  {'uploads/s':>9} {'upload p50':>10}"
    )
    ratios = []
    for i, r in enumerate(rounds, 1):
        ratio = r.during.quantile(0.99) / r.alone.quantile(0.99)
        ratios.append(ratio)
        print(
            f"  {i:<6} {r.alone.rate:>9.0f} {r.alone.quantile(0.5) * 1000:>6.1f} "
            f"{r.alone.quantile(0.99) * 1000:>6.1f}  {r.during.rate:>10.0f} "
            f"{r.during.quantile(0.5) * 1000:>6.1f} {r.during.quantile(0.99) * 1000:>6.1f}  "
            f"{ratio:>9.1f}  {r.uploads.rate:>9.2f} {r.uploads.quantile(0.5) * 1000:>10.0f}"
        )
    print(
        f"  p99 during / alone: median {statistics.median(ratios):.1f}; uploads/s x clean p50: "
        f"{statistics.median(r.uploads.rate for r in rounds) * clean50 / 1000:.2f} (1.00: one "
        "core cleaning all the time)"
    )
    errors: dict[str, int] = dict(per_file.errors)
    for r in rounds:
        for result in (r.alone, r.during, r.uploads):
            for problem, count in result.errors.items():
                errors[problem] = errors.get(problem, 0) + count
    print(f"  errors: {errors or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--uploaders", type=int, default=8)
    parser.add_argument("--queriers", type=int, default=2)
    args = parser.parse_args()
    print(machine())
    photo = phone_photo()
    with tempfile.TemporaryDirectory(prefix="lapor-bench-") as logs:
        with api(Path(logs)) as target:
            sent = requests(target.base, photo)
            # The submit's code paths warmed, so that the memory before is the process's own.
            asyncio.run(load.repeat(sent.graphql, sent.plain, 3, check_submit))
            memory = {"start": peak_rss_kib(target.pid)}
            print("one photo at a time ...")
            per_file = asyncio.run(one_at_a_time(sent, photo, args.runs))
            memory["one"] = peak_rss_kib(target.pid)
            print("the small query alone and during uploads ...")
            rounds = asyncio.run(blocking(sent, args))
            memory["many"] = peak_rss_kib(target.pid)
            problems = log_problems([target.log])
    report(per_file, rounds, memory, args, photo)
    print(f"  log lines at warning or error, and tracebacks: {len(problems)}")
    for line in problems[:10]:
        print(f"    {line}")


if __name__ == "__main__":
    main()
