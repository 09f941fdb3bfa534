"""The read path's pages in one process: the CPU a request costs Lapor against its floor, each
measured in short turns taken in alternation, so that what disturbs the machine meets both.

`bench/read_path.py` measures what issue 11 asks (pages a second from two servers under load),
but on this shared, two-core machine a round can run 20 % slow for either server, and a ratio
moves by ±0.05 from run to run. This bench takes uvicorn, the sockets and the load generator
out: Lapor's app (`api.app.create_app`, as `lapor api` serves it, LAPOR_ENV=production, its
collector settled) and the floors' (`bench/floors.py`) are called as ASGI apps in the same
process, over the same kept database (`bench/read_path.py --keep`), each under its role. For each
page it first compares the two answers byte for byte (unequal pages are never timed), then
takes `--turns` turns of `--requests` requests each, floor then Lapor, and reports the CPU time
(`time.process_time`, this process only: PostgreSQL's work is not counted) per request: the
least of the turns (the cost when nothing disturbed it) and the median, and floor/Lapor of each,
which is what Lapor's pages a second would be against the floor's if a request's CPU were all
there were. It leaves out what both pay around the app under load (uvicorn's HTTP, the
sockets, the load generator on the same two cores), a larger share of the floor's cost than of
Lapor's: its ratios are lower than read_path's, the stricter measure of the Python a request
costs. The least turns move with the machine (by a few per cent between runs, the floor's as
much as Lapor's); floor/Lapor of the least turns moves by 1 to 2 % on the same code (read_path's
ratios by 5 to 10 %): the figure to compare two commits by.

    .venv/bin/python -m bench.request_cpu [--keep DIR] [--reports 1000000] [--turns 15]
        [--requests 100] [--only inbox50,report]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import logging.config
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, NoReturn, TextIO

import orjson

from bench.read_path import (
    API_ROLE,
    FLOOR_ROLE,
    KEEP_DIR,
    OFFICER,
    SCENARIOS,
    Filled,
    Scenario,
    database,
    variables,
)
from bench.service import production_env, with_user
from tests.asgi import http_scope
from tests.harness import RedisServer

LOGIN = 'mutation($e: String!) { authLogin(email: $e, password: "lapor-demo") { token } }'
Call = Callable[[bytes, str, dict[bytes, bytes]], Awaitable[tuple[int, bytes]]]


def asgi_caller(app: Any) -> Call:
    """POST `body` to `path` of an ASGI app, in process: its status and body."""

    async def call(body: bytes, path: str, headers: dict[bytes, bytes]) -> tuple[int, bytes]:
        scope = http_scope(
            path,
            [
                (b"host", b"bench"),
                (b"content-type", b"application/json"),
                (b"accept", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers.items(),
            ],
        )
        received = False
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            nonlocal received
            if received:  # the app asks only when it waits for a disconnect
                await asyncio.Event().wait()
            received = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        return status, b"".join(
            m.get("body", b"") for m in sent if m["type"] == "http.response.body"
        )

    return call


async def turns(call: Call, body: bytes, path: str, headers: dict[bytes, bytes], n: int) -> float:
    """CPU seconds per request over `n` requests."""
    started = time.process_time()
    for _ in range(n):
        await call(body, path, headers)
    return (time.process_time() - started) / n


async def page(
    scenario: Scenario,
    filled: Filled,
    lapor: Call,
    floor: Call,
    token: str,
    args: argparse.Namespace,
) -> tuple[int, list[float], list[float]] | None:
    """The page's size and its CPU per request, floor's and Lapor's, turn by turn."""
    same = await same_page(scenario, filled, lapor, floor, token)
    if same is None:
        return None
    body, headers, size = same
    warm = max(1, args.requests // 2)
    await turns(floor, body, scenario.floor_path, headers, warm)
    await turns(lapor, body, "/graphql", headers, warm)
    floors: list[float] = []
    lapors: list[float] = []
    for _ in range(args.turns):
        floors.append(await turns(floor, body, scenario.floor_path, headers, args.requests))
        lapors.append(await turns(lapor, body, "/graphql", headers, args.requests))
    return size, floors, lapors


async def comparable_pages(
    only: str, filled: Filled, lapor: Call, floor: Call, token: str
) -> tuple[list[tuple[Scenario, bytes, dict[bytes, bytes]]], int]:
    """The pages named in `only` (comma-separated; all when empty) that Lapor and the floor
    answer with the same bytes, each with its request (body and headers); and how many of them
    they answered otherwise (said, and not to be measured)."""
    named = set(only.split(",")) if only else None
    pages: list[tuple[Scenario, bytes, dict[bytes, bytes]]] = []
    failed = 0
    for scenario in SCENARIOS:
        if named is not None and scenario.name not in named:
            continue
        same = await same_page(scenario, filled, lapor, floor, token)
        if same is None:
            failed += 1
        else:
            pages.append((scenario, same[0], same[1]))
    return pages, failed


async def same_page(
    scenario: Scenario, filled: Filled, lapor: Call, floor: Call, token: str
) -> tuple[bytes, dict[bytes, bytes], int] | None:
    """The page's request (body and headers) and its size when Lapor and the floor answer it
    with the same bytes; None, said, when they do not (such a page is not measured)."""
    body = orjson.dumps({"query": scenario.document, "variables": variables(scenario, filled)})
    headers = {b"authorization": f"Bearer {token}".encode()} if scenario.signed_in else {}
    ours = await lapor(body, "/graphql", headers)
    theirs = await floor(body, scenario.floor_path, headers)
    if ours != theirs:
        print(f"{scenario.name}: the pages differ, not measured:")
        print(f"  Lapor {ours!r:.300}\n  floor {theirs!r:.300}")
        return None
    return body, headers, len(ours[1])


@contextlib.asynccontextmanager
async def served(
    url: str, redis_url: str, slowdown: float = 1.0
) -> AsyncIterator[tuple[Call, Call, str]]:
    """Lapor's app (as `lapor api` serves it, in production) and the floors', in this process
    over the database at `url`, each under its role; and the DINKES officer's token. Logging is
    configured as `lapor api` configures it, its lines written to the null device: Lapor's
    requests pay for their access lines here as they do in production.

    A process run `slowdown` times slower than natively (under callgrind, or tracing every
    bytecode) waits that much longer for the next query before a query's parked connection
    goes back to the pool (models/connection.py): otherwise it would go back between two
    requests one after another, as natively it does not, and the count would depend on it.
    For the same reason its access lines wait that much longer to be written together
    (core/logs.py, `JsonLines`)."""
    from models import connection

    native_park = connection.PARK_SECONDS
    connection.PARK_SECONDS = native_park * slowdown
    os.environ.update(
        {
            **production_env(redis_url),
            "LAPOR_DATABASE_URL": with_user(url, API_ROLE),
        }
    )
    from starlette.applications import Starlette

    from api.app import create_app, settle_collector
    from bench.floors import Floors
    from core.logs import uvicorn_log_config
    from core.settings import get_settings
    from domain.services import caching
    from models.db import connect_database, disconnect_database

    settings = get_settings()
    lines = _log_as_served(uvicorn_log_config(defer_seconds=settings.log_defer_seconds * slowdown))
    await connect_database(settings.database_url, settings.db_pool_max)
    await caching.start(settings.database_url)
    floors = Floors(settings.model_copy(update={"database_url": with_user(url, FLOOR_ROLE)}))
    await floors.open()
    try:
        lapor = asgi_caller(create_app(settings))
        floor = asgi_caller(Starlette(routes=floors.routes()))
        settle_collector()
        _, answer = await lapor(
            orjson.dumps({"query": LOGIN, "variables": {"e": OFFICER}}), "/graphql", {}
        )
        yield lapor, floor, orjson.loads(answer)["data"]["authLogin"]["token"]
    finally:
        await floors.close()
        await caching.stop()
        await disconnect_database()
        _log_to(sys.stderr)
        lines.close()
        connection.PARK_SECONDS = native_park


def _log_as_served(config: dict[str, Any]) -> TextIO:
    """Logging configured by `config`, its lines to the null device (the stream returned)."""
    logging.config.dictConfig(config)
    lines = open(os.devnull, "w")  # (the caller closes it)
    _log_to(lines)
    return lines


def _log_to(stream: TextIO) -> None:
    """The log lines of this process to `stream`."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


async def run(url: str, redis_url: str, filled: Filled, args: argparse.Namespace) -> int:
    async with served(url, redis_url) as (lapor, floor, token):
        only = set(args.only.split(",")) if args.only else None
        print(
            f"CPU per request in one process, {args.turns} turns of {args.requests} requests each "
            "(floor, then Lapor); µs: the least turn and the median"
        )
        heads = ("bytes", "floor µs", "median", "Lapor µs", "median", "floor/Lapor", "median")
        print(f"{'page':<10}" + "".join(f" {h:>{max(7, len(h))}}" for h in heads))
        failed = 0
        for scenario in SCENARIOS:
            if only is not None and scenario.name not in only:
                continue
            found = await page(scenario, filled, lapor, floor, token, args)
            if found is None:
                failed += 1
                continue
            size, floors_cpu, lapors_cpu = found
            ratios = [f / lap for f, lap in zip(floors_cpu, lapors_cpu, strict=True)]
            print(
                f"{scenario.name:<10} {size:>7,} {min(floors_cpu) * 1e6:>8.1f} "
                f"{statistics.median(floors_cpu) * 1e6:>7.1f} {min(lapors_cpu) * 1e6:>8.1f} "
                f"{statistics.median(lapors_cpu) * 1e6:>7.1f} "
                f"{min(floors_cpu) / min(lapors_cpu):>11.3f} {statistics.median(ratios):>7.3f}"
            )
        print("(floor/Lapor: the least turns' ratio, and the median of each turn's ratio)")
        return failed


Bench = Callable[[str, str, Filled, argparse.Namespace], Coroutine[Any, Any, int]]


def page_options(parser: argparse.ArgumentParser, requests: int) -> None:
    """The options of every bench of the pages in one process: the fill (`--reports`, kept in
    `--keep`), the requests of each page, and the pages (`--only`, all when empty)."""
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--keep", nargs="?", const=KEEP_DIR, default=KEEP_DIR)
    parser.add_argument("--requests", type=int, default=requests)
    parser.add_argument("--only", default="")


def run_filled(bench: Bench, args: argparse.Namespace) -> NoReturn:
    """`bench` over the filled database and a Redis of its own; the process exits 1 when it
    counted a page failed (unequal bytes), else 0."""
    with database(args.reports, args.keep) as db, RedisServer() as redis:
        import uvloop

        raise SystemExit(1 if uvloop.run(bench(db.url, redis.url, db.filled, args)) else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    page_options(parser, requests=100)
    parser.add_argument("--turns", type=int, default=15)
    run_filled(run, parser.parse_args())


if __name__ == "__main__":
    main()
