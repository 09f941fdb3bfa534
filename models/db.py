"""The database set-up, once for every entry point (API, worker, commands, tests, benches):
how Tortoise is configured for a URL, connecting, and applying the migrations."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from tortoise import Tortoise

from models.connection import release_parked

log = logging.getLogger("lapor.db")

MODELS_MODULES = ["models.entities"]
POSTGRES_SCHEMES = ("postgres://", "postgresql://", "asyncpg://")


async def _keep_session(connection: object) -> None:
    """What a pooled connection does when it goes back to the pool, beyond rolling back an open
    transaction (asyncpg does that anyway): nothing. asyncpg's default sends `SELECT
    pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` after every statement made
    outside a transaction, which doubled a request's round trips; Lapor sets no session state
    (no advisory locks, cursors, LISTEN or SET on pooled connections), so there is nothing to
    reset (docs/adr/0014-embedded-postgresql.md)."""


# The array type of every column type of the schema's tables and the row types, and those row
# types: what a read may select inside the rows of a read sent with others.
_NESTED_TYPES = """
SELECT coalesce(array_agg(DISTINCT format_type(t.typarray, NULL)), '{}')
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid OR (c.relkind = 'c' AND t.typrelid = c.oid)
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'c') AND t.typarray <> 0
"""


async def _learn_nested_types(connection: Any) -> None:
    """What a new pooled connection does first: learn the codecs of the types a read may select
    inside another value. Reads sent together come back as one anonymous record per read's row
    (models/connection.py, `together`), and asyncpg decodes a value inside an anonymous record
    only with a codec its connection has already learnt from a statement's own columns or
    parameters: an array or a row type met there first failed the request."""
    import asyncpg

    types = await connection.fetchval(_NESTED_TYPES)
    if not types:
        return
    try:
        await connection.fetch(f"SELECT {', '.join(f'NULL::{name}' for name in types)}")
    except asyncpg.UnsupportedClientFeatureError as error:
        # A type asyncpg cannot decode at all (a row type of a column it reads only as text):
        # the connection serves, and a read that nests that type fails as it would have.
        log.warning("a new connection did not learn the nested types: %s", error)


def tortoise_config(database_url: str, pool_max: int = 10) -> dict[str, Any]:
    """The Tortoise config dict for a PostgreSQL URL."""
    if not database_url.startswith(POSTGRES_SCHEMES):
        raise ValueError(
            f"LAPOR_DATABASE_URL must be a PostgreSQL URL (postgres://...), not {database_url!r}"
        )
    from tortoise.backends.base.config_generator import expand_db_url

    connection = expand_db_url(database_url)
    connection["credentials"]["maxsize"] = pool_max
    # No floor of idle connections: asyncpg would keep reconnecting one (and logging a stack
    # each time) while the database is down; connections are made on demand and kept.
    connection["credentials"]["minsize"] = 0
    connection["credentials"]["reset"] = _keep_session
    connection["credentials"]["init"] = _learn_nested_types
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": MODELS_MODULES,
                "default_connection": "default",
                "migrations": "models.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def connect_database(database_url: str, pool_max: int = 10) -> None:
    """Initialise Tortoise on the database; every task of the process finds it (servers run
    requests and jobs in tasks of their own)."""
    await Tortoise.init(
        config=tortoise_config(database_url, pool_max), _enable_global_fallback=True
    )


async def disconnect_database() -> None:
    """Close every connection Tortoise holds (a parked one first goes back to its pool)."""
    await release_parked()
    await Tortoise.close_connections()


@contextlib.asynccontextmanager
async def database(database_url: str, pool_max: int = 10) -> AsyncIterator[None]:
    """Tortoise connected to the database for the block, closed afterwards."""
    await connect_database(database_url, pool_max)
    try:
        yield
    finally:
        await disconnect_database()


async def apply_migrations(
    database_url: str, progress: Callable[[str, str, str], None] | None = None
) -> None:
    """Apply the migrations not yet applied (none on an up-to-date database); `progress` hears
    (event, app, migration) as Tortoise works."""
    from tortoise.migrations.api.migrate import migrate

    try:
        await migrate(config=tortoise_config(database_url), progress=progress)
    finally:
        await Tortoise.close_connections()


def _env_config() -> dict[str, Any]:
    # `tortoise makemigrations` only compares the models with the migrations: any PostgreSQL
    # URL will do when none is set.
    url = os.environ.get("LAPOR_DATABASE_URL") or "postgres://lapor@127.0.0.1:5439/lapor"
    return tortoise_config(url)


# Read by the `tortoise` command (pyproject.toml [tool.tortoise]) for makemigrations.
TORTOISE_ORM = _env_config()


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` (or what caused it) says the database cannot be reached right now (down,
    restarting, refusing connections), as opposed to a query that is wrong."""
    import asyncpg
    from tortoise.exceptions import DBConnectionError

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            OSError
            | TimeoutError
            | DBConnectionError
            | asyncpg.PostgresConnectionError
            | asyncpg.AdminShutdownError
            | asyncpg.CrashShutdownError
            | asyncpg.CannotConnectNowError
            | asyncpg.TooManyConnectionsError,
        ):
            return True
        if isinstance(current, asyncpg.InterfaceError) and "connection" in str(current).lower():
            # "connection is closed", "cannot acquire: the pool is closing (connection lost)"
            return True
        if isinstance(current, asyncpg.InternalClientError) and str(current).startswith(
            "cannot switch to state"
        ):
            # A pooled connection the server dropped while it was still reading the server's
            # last error (a restart's "terminating connection"): its next statement finds it
            # so, before the end of the stream closes it (bench/README.md, the fault matrix).
            return True
        current = current.__cause__ or current.__context__
    return False
