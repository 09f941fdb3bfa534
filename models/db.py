"""How Tortoise is configured for a database URL; the one place that knows the app label."""

from __future__ import annotations

import os
from typing import Any

MODELS_MODULES = ["models.entities"]


def tortoise_config(database_url: str, pool_max: int = 10) -> dict[str, Any]:
    """The Tortoise config dict for one database URL (postgres:// or sqlite://)."""
    credentials: dict[str, Any] = {}
    connection: str | dict[str, Any] = database_url
    if database_url.startswith(("postgres://", "postgresql://", "asyncpg://")):
        from tortoise.backends.base.config_generator import expand_db_url

        expanded = expand_db_url(database_url)
        credentials = expanded["credentials"]
        credentials["maxsize"] = pool_max
        connection = expanded
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


def _env_config() -> dict[str, Any]:
    url = os.environ.get("LAPOR_DATABASE_URL", "sqlite://var/lapor.sqlite3")
    return tortoise_config(url)


# Read by the `tortoise` command (pyproject.toml [tool.tortoise]) for makemigrations.
TORTOISE_ORM = _env_config()
