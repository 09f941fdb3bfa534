"""Which failures say the database cannot be reached (models/db.py): those are answered
UNAVAILABLE; anything else is a bug, answered INTERNAL."""

from __future__ import annotations

import asyncpg
import pytest

from models.db import is_unavailable


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.InterfaceError("connection is closed"),
        # Seen under a PostgreSQL restart at 30 requests a second (bench/faults.py).
        asyncpg.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        ),
    ],
)
def test_a_database_going_away_is_unavailable(error: Exception) -> None:
    assert is_unavailable(error)
    wrapped = RuntimeError("while reading")
    wrapped.__cause__ = error
    assert is_unavailable(wrapped)


@pytest.mark.parametrize(
    "error",
    [
        # Two statements at once in one transaction: a bug of ours, never an outage.
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        asyncpg.InternalClientError("PoolConnectionHolder.release() called on a free holder"),
        ValueError("year 36812 is out of range"),
    ],
)
def test_a_bug_is_not_unavailable(error: Exception) -> None:
    assert not is_unavailable(error)
