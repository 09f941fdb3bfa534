"""The data commands: migrate, seed the demo, create users; and which database a command
works on (LAPOR_DATABASE_URL, else the embedded cluster, lapor/embedded.py)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.settings import Settings, get_settings
from models.db import apply_migrations, database
from models.enums import Role

if TYPE_CHECKING:
    pass

from lapor.commands import CliError


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


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply pending migrations to LAPOR_DATABASE_URL (or the embedded database)."""
    with database_url(get_settings()) as url:
        asyncio.run(migrate_database(url))
    print("database is up to date")
    return 0


def seed_or_refuse(settings: Settings, url: str, force: bool) -> int:
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
        return seed_or_refuse(settings, url, args.force)


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


def progress_line(done: int, total: int, rate: float, seconds_left: float | None) -> str:
    """One line of a long job's progress: rows done of the total, the rate, the time left."""
    share = f" ({100 * done / total:.1f}%)" if total else ""
    left = (
        "?" if seconds_left is None else f"{int(seconds_left) // 60}m {int(seconds_left) % 60:02d}s"
    )
    return f"{done:,}/{total:,} reports{share}, {rate:,.0f}/s, {left} left"


async def _rebuild(url: str, batch: int | None, now: datetime) -> int:
    import time

    from domain.services.transparency import Progress, rebuild

    shown = [0.0]

    def show(p: Progress) -> None:
        # At most twice a second, and always the last line.
        if time.monotonic() - shown[0] >= 0.5 or p.done >= p.total:
            shown[0] = time.monotonic()
            print(progress_line(p.done, p.total, p.rate, p.seconds_left), flush=True)

    async with database(url):
        return await rebuild(now, batch, show)


def cmd_transparency_rebuild(args: argparse.Namespace) -> int:
    """Recompute the transparency figures from every stored report, showing progress."""
    import time

    started = time.monotonic()
    with database_url(get_settings()) as url:
        done = asyncio.run(_rebuild(url, args.batch, datetime.now(UTC)))
    print(f"rebuilt the figures of {done:,} reports in {time.monotonic() - started:.1f} s")
    return 0
