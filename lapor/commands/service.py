"""Running the service: `run` (everything on one machine), `api`, `worker`, and the deadline
sweep once."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import shutil
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.settings import Settings, get_settings
from models.db import database

if TYPE_CHECKING:
    from domain.services.outbox import OutboxEntry

from lapor.commands import CliError
from lapor.commands.clients import ensure_console_assets
from lapor.commands.data import database_url, migrate_database, seed_or_refuse, served_database_url


def _check_production(settings: Settings) -> None:
    try:
        settings.check_production()
    except RuntimeError as error:
        raise CliError(str(error)) from None


def _pin_database(settings: Settings) -> Settings:
    """Point this process (and uvicorn's workers, which read the environment) at the served
    database when LAPOR_DATABASE_URL is not set."""
    if settings.database_url:
        return settings
    os.environ["LAPOR_DATABASE_URL"] = served_database_url(settings)
    get_settings.cache_clear()
    return get_settings()


def cmd_api(args: argparse.Namespace) -> int:
    """Serve the ASGI app factory with uvicorn until stopped."""
    import uvicorn

    from core.logs import uvicorn_log_config
    from core.metrics import MULTIPROCESS_ENV

    _check_production(get_settings())
    try:
        get_settings().check_secret()
    except RuntimeError as error:
        raise CliError(str(error)) from None
    settings = _pin_database(get_settings())
    workers = args.workers or settings.workers
    counts_dir = None
    if workers > 1 and not os.environ.get(MULTIPROCESS_ENV):
        # Each worker counts into files here and /metrics adds them up, whichever worker
        # answers the scrape. A fresh folder per start: old counts must not come back.
        counts_dir = os.environ[MULTIPROCESS_ENV] = tempfile.mkdtemp(prefix="lapor-metrics-")
    # uvloop and httptools are faster (docs/design.md, "Performance"), but optional.
    has_uvloop = importlib.util.find_spec("uvloop") is not None
    has_httptools = importlib.util.find_spec("httptools") is not None
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=workers,
        loop="uvloop" if has_uvloop else "asyncio",
        http="httptools" if has_httptools else "h11",
        # JSON lines with the request id, in every worker; one access line per request.
        log_config=uvicorn_log_config(defer_seconds=settings.log_defer_seconds),
        access_log=False,
        # On SIGTERM: no new connections, WebSockets told 1012 (restart: reconnect), requests
        # in flight finish within the grace, then the lifespan closes (docs/adr/0026).
        timeout_graceful_shutdown=settings.api_shutdown_grace_seconds,
        ws_per_message_deflate=settings.live_compression,
    )
    if counts_dir is not None:
        shutil.rmtree(counts_dir, ignore_errors=True)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run the arq worker until stopped (or, with --check, say whether workers are alive)."""
    import logging

    from arq.worker import run_worker

    from core.logs import configure_logging

    if args.check:
        return asyncio.run(_check_workers(get_settings()))
    _check_production(get_settings())
    _pin_database(get_settings())
    configure_logging()
    # arq logs every run of every job; our jobs log one structured line each instead.
    logging.getLogger("arq.jobs").setLevel(logging.WARNING)
    logging.getLogger("arq.worker").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # each webhook POST: our job line says it
    from redis.exceptions import ConnectionError as RedisConnectionError

    from workers.settings import WorkerSettings

    # uvloop, as under uvicorn: a cheaper event loop for the relay's many round trips.
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        run_worker(WorkerSettings)  # type: ignore[arg-type]
    except RedisConnectionError as exc:
        # arq gives up when Redis goes away mid-run. Start afresh in this same process (same
        # pid, so the same health key): the new worker waits for Redis, and whatever the old
        # one had in hand is redone from the database.
        logging.getLogger("lapor.worker").warning("lost Redis (%s): restarting the worker", exc)
        time.sleep(1)
        os.execv(sys.executable, [sys.executable, "-m", "lapor", *sys.argv[1:]])
    return 0


async def _check_workers(settings: Settings) -> int:
    """Exit 0 when a worker of this host recorded its health lately (a container healthcheck)."""
    from redis.asyncio import Redis

    from workers.settings import HEALTH_KEY_PREFIX

    client = Redis.from_url(settings.redis_url)
    try:
        pattern = f"{HEALTH_KEY_PREFIX}{socket.gethostname()}:*"
        alive = [key async for key in client.scan_iter(match=pattern)]
        for key in alive:
            print(f"{key.decode()}: {(await client.get(key) or b'').decode()}")
    except OSError as exc:
        print(f"error: Redis unreachable ({exc})", file=sys.stderr)
        return 1
    finally:
        await client.aclose()
    if not alive:
        print("no live worker on this host", file=sys.stderr)
    return 0 if alive else 1


def parse_as_of(text: str | None) -> datetime:
    """The sweep's `now`: an ISO 8601 time with its zone, or the current time."""
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--as-of {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise CliError(f"--as-of {text!r} needs a time zone, e.g. {text}+07:00")
    return moment


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run the deadline sweep once, as of now or --as-of; --dry-run only lists the steps."""
    now = parse_as_of(args.as_of)
    settings = get_settings()
    with database_url(settings) as url:
        return asyncio.run(_sweep(settings, url, now, args.dry_run))


async def _sweep(settings: Settings, url: str, now: datetime, dry_run: bool) -> int:
    from domain.services.sweep import sweep

    async with database(url, settings.db_pool_max):
        done = await sweep(now, dry_run=dry_run, batch=settings.sweep_batch_size)
        for a in done.actions:
            state = "skipped" if a.skipped else ("would act" if dry_run else "acted")
            print(f"{a.target}\t{a.stage}\t{a.level}\tdue {a.due_at.isoformat()}\t{state}")
        taken = sum(not a.skipped for a in done.actions)
        verb = "would take" if dry_run else "took"
        print(f"{verb} {taken} steps ({len(done.actions) - taken} skipped) as of {now.isoformat()}")
        if done.outbox:
            await _dispatch(settings, done.outbox)
    return 0


async def _dispatch(settings: Settings, entries: list[OutboxEntry]) -> None:
    """Wake the workers for what the sweep wrote; without Redis, their relay drains it later."""
    from arq.connections import RedisSettings, create_pool

    from core.dispatch import ArqOutboxDispatcher

    link = RedisSettings.from_dsn(settings.redis_url)
    link.conn_retries = 0
    try:
        pool = await create_pool(link)
    except Exception as exc:
        print(f"note: Redis unreachable ({exc}); the workers' relay will fan out these events")
        return
    try:
        await ArqOutboxDispatcher(pool).dispatch(entries)
    finally:
        await pool.aclose()


def _banner(host: str, port: int, redis_url: str | None, database: str) -> str:
    from lapor.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    s = get_settings()
    metrics = f"http://{s.metrics_host}:{s.metrics_port}/metrics" if s.metrics_port else "off"
    lines = [
        "",
        "Lapor is running.",
        f"  GraphiQL:    http://{shown}:{port}/graphql",
        f"  Metrics:     {metrics} (internal: never publish this port)",
        f"  PostgreSQL:  {database}",
        f"  Redis:       {redis_url or '(from LAPOR_REDIS_URL)'}",
        f"  Demo accounts (password {DEMO_PASSWORD}):",
    ]
    width = max(len(a.email) for a in DEMO_ACCOUNTS)
    lines += [f"    {a.email:<{width}}  {a.note or a.role.value}" for a in DEMO_ACCOUNTS]
    lines += ["Press Ctrl-C to stop.", ""]
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    """The whole service on one machine; 0 on Ctrl-C/SIGTERM, non-zero if a child dies."""
    from lapor import embedded, supervisor
    from lapor.servers import ServerError, tcp_open

    settings = get_settings()
    host = args.host or settings.host
    port = args.port or settings.port
    # Otherwise the banner would point at whatever already listens there.
    if tcp_open(host, port):
        raise CliError(f"{host}:{port} is in use: choose another with --port or LAPOR_PORT")
    supervisor.VAR_DIR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if not settings.secret_key:
        try:
            env["LAPOR_SECRET_KEY"] = supervisor.run_secret(supervisor.VAR_DIR)
        except ServerError as error:
            raise CliError(str(error)) from None
    children: list[supervisor.Child] = []
    redis_url: str | None = None
    try:
        with supervisor.stopping_on_signals(children) as stopping:
            # Each child is on the list before it starts; a signal is acted on between steps.
            if "LAPOR_REDIS_URL" not in os.environ:
                redis_url = env["LAPOR_REDIS_URL"] = supervisor.start_redis(children)
            stopping.check()
            url = settings.database_url
            shown = "(from LAPOR_DATABASE_URL)"
            if not url:
                postgres = embedded.server()
                children.append(
                    supervisor.Server("postgres", lambda: embedded.stop(postgres), postgres.poll)
                )
                url = env["LAPOR_DATABASE_URL"] = embedded.serve(postgres)
                shown = f"{url.split('@')[-1]} (embedded, {embedded.EMBEDDED_DIR})"
            stopping.check()
            ensure_console_assets(settings)
            stopping.check()
            asyncio.run(migrate_database(url))
            stopping.check()
            if settings.env == "production":
                print("LAPOR_ENV=production: not seeding the demo data")
            else:
                seed_or_refuse(settings, url, force=False)
            stopping.check()
            # Each is given what it needs to stop cleanly: the worker its running jobs' grace,
            # the API its in-flight requests' (then SIGKILL).
            worker_grace = settings.worker_shutdown_grace_seconds + supervisor.STOP_MARGIN
            children.append(supervisor.spawn("worker", ["worker"], env, worker_grace))
            api_grace = settings.api_shutdown_grace_seconds + supervisor.STOP_MARGIN
            api_args = ["api", "--host", host, "--port", str(port)]
            children.append(supervisor.spawn("api", api_args, env, api_grace))
            code = supervisor.wait_listening(children, host, port, stopping)
            if code is None:
                print(_banner(host, port, redis_url, shown), flush=True)
                code = supervisor.supervise(children, stopping)
            return code
    except (KeyboardInterrupt, supervisor.Stop):  # Ctrl-C before the block began
        return 0
    except (ServerError, embedded.EmbeddedError) as error:
        raise CliError(str(error)) from None
