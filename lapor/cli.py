"""The `lapor` command: migrate, seed the demo, create users, export the schema, run the service.

This is the composition root: it may import every layer, but imports api, schema and workers
lazily inside the commands, so each command only pays for (and only needs) what it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from lapor.commands import CliError
from lapor.commands.clients import (
    cmd_console_assets,
    cmd_export_schema,
    cmd_persisted_list,
    cmd_persisted_register,
)
from lapor.commands.data import (
    cmd_create_user,
    cmd_migrate,
    cmd_seed_demo,
    cmd_transparency_rebuild,
)
from lapor.commands.service import cmd_api, cmd_run, cmd_sweep, cmd_worker
from models.enums import Role

# --------------------------------------------------------------------------- database


# --------------------------------------------------------------------------- commands


# --------------------------------------------------------------------------- run


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

    rebuild = add(
        "transparency-rebuild",
        cmd_transparency_rebuild,
        "recompute the transparency figures from every stored report (shows progress)",
    )
    rebuild.add_argument(
        "--batch", type=int, help="reports per batch (default LAPOR_TRANSPARENCY_BATCH_SIZE)"
    )

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
