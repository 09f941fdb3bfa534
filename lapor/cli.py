"""The `lapor` command: migrate, seed the demo, create users, export the schema, run the service.

This is the composition root: it may import every layer, but imports api, schema and workers
lazily inside the commands, so each command only pays for (and only needs) what it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.settings import Settings, get_settings
from models.db import apply_migrations, database
from models.enums import Role

if TYPE_CHECKING:
    from domain.services.outbox import OutboxEntry


class CliError(Exception):
    """A refusal to print as `error: message` with exit status 2, without a traceback."""


# --------------------------------------------------------------------------- database


@contextlib.contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The database of a one-shot command (lapor/embedded.py says which)."""
    from lapor import embedded

    try:
        with embedded.database_url(settings.database_url) as url:
            yield url
    except embedded.EmbeddedError as error:
        raise CliError(str(error)) from None


def served_database_url(settings: Settings) -> str:
    """The database of a long-running process (API, worker): LAPOR_DATABASE_URL, else the
    embedded cluster that `lapor run` serves; never one started for the process alone."""
    from lapor import embedded

    url = settings.database_url or embedded.running_url()
    if not url:
        raise CliError(
            "no database: set LAPOR_DATABASE_URL, or start the embedded one with `lapor run`"
        )
    return url


async def migrate_database(url: str) -> None:
    """Apply pending migrations, printing each one applied."""

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            print(f"applied {app_label}.{name}")

    await apply_migrations(url, progress)


async def seed(url: str, now: datetime) -> bool:
    """Seed the demo data; False if it was there already."""
    from lapor.demo import seed_demo

    async with database(url):
        return await seed_demo(now)


# --------------------------------------------------------------------------- commands


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply pending migrations to LAPOR_DATABASE_URL (or the embedded database)."""
    with database_url(get_settings()) as url:
        asyncio.run(migrate_database(url))
    print("database is up to date")
    return 0


def _seed_or_refuse(settings: Settings, url: str, force: bool) -> int:
    # Demo accounts have public passwords: never slip them into production by accident.
    if settings.env == "production" and not force:
        raise CliError("refusing to seed demo accounts with LAPOR_ENV=production (use --force)")
    if asyncio.run(seed(url, datetime.now(UTC))):
        print("demo data seeded")
    else:
        print("demo data already seeded (region 35.09 Kabupaten Jember exists); nothing done")
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    """Seed the demo data unless it is there (or we are in production without --force)."""
    settings = get_settings()
    with database_url(settings) as url:
        return _seed_or_refuse(settings, url, args.force)


def _password(args: argparse.Namespace) -> str:
    if args.password is not None:
        return str(args.password)
    if args.password_env is not None:
        value = os.environ.get(args.password_env)
        if value is None:
            raise CliError(f"environment variable {args.password_env} is not set")
        return value
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password (again): ") != first:
        raise CliError("the passwords do not match")
    return first


async def _create_user(url: str, args: argparse.Namespace, password: str, now: datetime) -> int:
    from domain.services.accounts import create_user, resolve_grant

    roles = [Role(r) for r in dict.fromkeys(args.role or [Role.CITIZEN.value])]
    async with database(url):
        grants = [await resolve_grant(role, args.region, args.agency) for role in roles]
        user = await create_user(
            now, name=args.name, email=args.email, password=password, grants=grants
        )
        return user.id


def cmd_create_user(args: argparse.Namespace) -> int:
    """Create a user, print its id; a domain refusal prints `error: CODE: message`, exit 2."""
    from domain.errors import DomainError

    password = _password(args)
    try:
        with database_url(get_settings()) as url:
            user_id = asyncio.run(_create_user(url, args, password, datetime.now(UTC)))
    except DomainError as error:
        print(f"error: {error.code.value}: {error.message}", file=sys.stderr)
        return 2
    print(user_id)
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    """Write the SDL to --out; with --check, exit 1 if the file differs instead."""
    from schema.schema import schema

    sdl = str(schema).rstrip("\n") + "\n"
    out = Path(args.out)
    if args.check:
        current = out.read_text(encoding="utf-8") if out.exists() else None
        if current != sdl:
            print(f"{out} is out of date: run `lapor export-schema --out {out}`", file=sys.stderr)
            return 1
        print(f"{out} is up to date")
        return 0
    if out.exists() and not args.allow_breaking:
        from schema.hygiene import breaking_changes

        broken = breaking_changes(out.read_text(encoding="utf-8"), sdl)
        if broken:
            raise CliError(
                f"the schema breaks {out} for its clients (deprecate instead of removing, or "
                "pass --allow-breaking):\n" + "\n".join(broken)
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(sdl, encoding="utf-8")
    print(f"wrote {out}")
    return 0


async def _with_redis(action: Callable[[Any], Any]) -> Any:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(get_settings().redis_url)
    try:
        return await action(client)
    except (RedisError, OSError) as error:
        raise CliError(f"Redis at LAPOR_REDIS_URL did not answer: {error}") from None
    finally:
        await client.aclose()


def cmd_persisted_register(args: argparse.Namespace) -> int:
    """Register the operations of .graphql files (or Apollo manifests) for the allowlist."""
    import json

    from api.persisted import RegistrationError, manifest, operations_in, register
    from schema.schema import schema

    try:
        operations = operations_in([Path(p) for p in args.files], schema._schema)
    except RegistrationError as error:
        raise CliError(f"nothing registered:\n{error}") from None
    if args.manifest:
        Path(args.manifest).write_text(
            json.dumps(manifest(operations), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    if not args.dry_run:
        new = asyncio.run(_with_redis(lambda redis: register(redis, operations)))
    for operation in operations:
        print(f"{operation.sha256}  {operation.kind:<8}  {operation.name}")
    if args.dry_run:
        print(f"{len(operations)} operations checked (--dry-run: none registered)")
    else:
        print(f"{len(operations)} operations registered ({new} new)")
    return 0


def cmd_persisted_list(args: argparse.Namespace) -> int:
    """Print the registered operations: hash, kind, name."""
    from api.persisted import registered

    operations = asyncio.run(_with_redis(registered))
    for operation in operations:
        print(f"{operation.sha256}  {operation.kind:<8}  {operation.name}")
    print(f"{len(operations)} operations registered")
    return 0


def cmd_console_assets(args: argparse.Namespace) -> int:
    """Install GraphiQL's files from the npm registry so the console works offline."""
    from api.console import fetch_assets

    directory = Path(args.dir or get_settings().console_assets_dir)
    if shutil.which("npm") is None:
        raise CliError("npm is needed to install the console's files: apt-get install npm")
    try:
        missing = fetch_assets(directory)
    except (subprocess.SubprocessError, OSError) as error:
        raise CliError(f"could not install the console's files: {error}") from None
    if missing:
        raise CliError(f"files failed their integrity check: {', '.join(missing)}")
    print(f"console assets installed in {directory}")
    return 0


def _ensure_console_assets(settings: Settings) -> None:
    """Best effort for `run`: without the files the console falls back to a CDN."""
    from api.console import bundled_page, missing_assets

    directory = Path(settings.console_assets_dir)
    if not missing_assets(directory, bundled_page()):
        return
    try:
        cmd_console_assets(argparse.Namespace(dir=str(directory)))
    except CliError as error:
        print(f"warning: {error}; GraphiQL will load its scripts from a CDN", file=sys.stderr)


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
        log_config=uvicorn_log_config(),
        access_log=False,
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


# --------------------------------------------------------------------------- run


def _banner(host: str, port: int, redis_url: str | None, database: str) -> str:
    from lapor.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    lines = [
        "",
        "Lapor is running.",
        f"  GraphiQL:    http://{shown}:{port}/graphql",
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
    children: list[supervisor.Child] = []
    redis_url: str | None = None
    try:
        with supervisor.stopping_on_signals(children):
            if "LAPOR_REDIS_URL" not in os.environ:
                redis, redis_url = supervisor.start_redis()
                children.append(redis)
                env["LAPOR_REDIS_URL"] = redis_url
            url = settings.database_url
            shown = "(from LAPOR_DATABASE_URL)"
            if not url:
                postgres, url = embedded.start()
                children.append(
                    supervisor.Server("postgres", lambda: embedded.stop(postgres), postgres.poll)
                )
                env["LAPOR_DATABASE_URL"] = url
                shown = f"{url.split('@')[-1]} (embedded, {embedded.EMBEDDED_DIR})"
            _ensure_console_assets(settings)
            asyncio.run(migrate_database(url))
            if settings.env == "production":
                print("LAPOR_ENV=production: not seeding the demo data")
            else:
                _seed_or_refuse(settings, url, force=False)
            children.append(supervisor.spawn("worker", ["worker"], env))
            children.append(
                supervisor.spawn("api", ["api", "--host", host, "--port", str(port)], env)
            )
            code = supervisor.wait_listening(children, host, port)
            if code is None:
                print(_banner(host, port, redis_url, shown), flush=True)
                code = supervisor.supervise(children)
            return code
    except (KeyboardInterrupt, supervisor.Stop):
        return 0
    except (ServerError, embedded.EmbeddedError) as error:
        raise CliError(str(error)) from None


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `lapor`, one subcommand per operation."""
    parser = argparse.ArgumentParser(prog="lapor", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str) -> Any:
        command = sub.add_parser(name, help=help, description=help)
        command.set_defaults(func=func)
        return command

    add("migrate", cmd_migrate, "apply the database migrations (idempotent)")

    seed_cmd = add("seed-demo", cmd_seed_demo, "seed the demo data once (Kabupaten Jember)")
    seed_cmd.add_argument(
        "--force", action="store_true", help="seed even with LAPOR_ENV=production"
    )

    user = add("create-user", cmd_create_user, "create a user with role grants")
    user.add_argument("--email", required=True)
    user.add_argument("--name", required=True)
    secret = user.add_mutually_exclusive_group()
    secret.add_argument("--password", help="the password (visible in the process list)")
    secret.add_argument("--password-env", metavar="VAR", help="read the password from $VAR")
    user.add_argument(
        "--role",
        action="append",
        choices=[r.value for r in Role],
        help="a role to grant (repeatable, same scope); default CITIZEN",
    )
    user.add_argument("--region", metavar="CODE", help="region code (coordinator scope)")
    user.add_argument("--agency", metavar="CODE", help="agency code (officer / head scope)")

    export = add("export-schema", cmd_export_schema, "write the GraphQL SDL to a file")
    export.add_argument("--out", default="schema/schema.graphql")
    export.add_argument(
        "--check", action="store_true", help="exit 1 if the file differs from the schema"
    )
    export.add_argument(
        "--allow-breaking",
        action="store_true",
        help="overwrite even when fields, types or arguments were removed or changed",
    )

    api = add("api", cmd_api, "serve the GraphQL API with uvicorn")
    api.add_argument("--host", help="default LAPOR_HOST")
    api.add_argument("--port", type=int, help="default LAPOR_PORT")
    api.add_argument("--workers", type=int, help="default LAPOR_WORKERS")

    worker = add("worker", cmd_worker, "run the arq worker")
    worker.add_argument(
        "--check", action="store_true", help="exit 0 if a worker of this host is alive"
    )

    sweep = add("sweep", cmd_sweep, "run the deadline sweep once")
    sweep.add_argument("--as-of", help="ISO 8601 time with zone (default: now)")
    sweep.add_argument("--dry-run", action="store_true", help="list the steps, change nothing")

    persisted = sub.add_parser(
        "persisted-queries",
        help="register the operations clients may run in allowlist mode",
        description="Persisted queries (LAPOR_PERSISTED_QUERIES=auto|allowlist), in Redis.",
    )
    pq = persisted.add_subparsers(dest="action", required=True, metavar="ACTION")
    reg = pq.add_parser(
        "register",
        help="register the named operations of .graphql files (or Apollo manifests)",
        description="Check every named operation against the schema and register it; prints "
        "each one's sha256, which clients send in extensions.persistedQuery.",
    )
    reg.set_defaults(func=cmd_persisted_register)
    reg.add_argument("files", nargs="+", metavar="FILE", help=".graphql or manifest .json")
    reg.add_argument("--manifest", metavar="OUT", help="also write an Apollo manifest here")
    reg.add_argument("--dry-run", action="store_true", help="check only; register nothing")
    listing = pq.add_parser("list", help="print the registered operations")
    listing.set_defaults(func=cmd_persisted_list)

    assets = add("console-assets", cmd_console_assets, "install GraphiQL's files for offline use")
    assets.add_argument("--dir", help="default LAPOR_CONSOLE_ASSETS_DIR (var/console-assets)")

    run = add("run", cmd_run, "one machine: private redis, migrate, demo data, API and worker")
    run.add_argument("--host", help="default LAPOR_HOST")
    run.add_argument("--port", type=int, help="default LAPOR_PORT")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Run one `lapor` subcommand and exit with its status."""
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        code = 2
    sys.exit(code)
