"""What clients are given: the schema file, the persisted-query allowlist, the console's
files."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.settings import Settings, get_settings

if TYPE_CHECKING:
    pass

from lapor.commands import CliError


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


def ensure_console_assets(settings: Settings) -> None:
    """Best effort for `run`: without the files the console falls back to a CDN."""
    from api.console import bundled_page, missing_assets

    directory = Path(settings.console_assets_dir)
    if not missing_assets(directory, bundled_page()):
        return
    try:
        cmd_console_assets(argparse.Namespace(dir=str(directory)))
    except CliError as error:
        print(f"warning: {error}; GraphiQL will load its scripts from a CDN", file=sys.stderr)
