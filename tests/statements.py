"""Counting the SQL statements the ORM sends: the `sql_log` fixture (a plugin of
tests/conftest.py) and `counting(log)` around the code to measure.

Statements are counted by wrapping the execution methods of Tortoise's asyncpg client (and
of its transaction wrapper), so every statement the ORM sends is seen, whatever issues it.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from asyncpg.pool import Pool
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper

from models.connection import HeldConnection

EXECUTION_METHODS = (
    "execute_query",
    "execute_query_dict",
    "execute_insert",
    "execute_many",
    "execute_script",
)


@dataclass
class StatementLog:
    """The statements seen while `active`, each on one line."""

    statements: list[str] = field(default_factory=list)
    active: bool = False

    @property
    def count(self) -> int:
        return len(self.statements)


_inside = contextvars.ContextVar("inside_sql_execution", default=False)


@pytest.fixture
def sql_log(monkeypatch: pytest.MonkeyPatch) -> StatementLog:
    """Counts statements while `log.active`; nested calls (one method delegating to another)
    count once."""
    log = StatementLog()

    def wrap(original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(original)
        async def counted(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            if _inside.get():
                return await original(self, query, *args, **kwargs)
            if log.active:
                log.statements.append(" ".join(str(query).split()))
            token = _inside.set(True)
            try:
                return await original(self, query, *args, **kwargs)
            finally:
                _inside.reset(token)

        return counted

    # Reads sent together inside one_connection() (models/connection.py): one statement each time.
    monkeypatch.setattr(
        HeldConnection, "fetch_records", wrap(vars(HeldConnection)["fetch_records"])
    )
    for cls in (AsyncpgDBClient, TransactionWrapper):
        for name in EXECUTION_METHODS:
            if name in vars(cls):
                monkeypatch.setattr(cls, name, wrap(vars(cls)[name]))
    # Methods inherited from the base classes (execute_script) are patched on the client.
    for name in EXECUTION_METHODS:
        if name not in vars(AsyncpgDBClient):
            monkeypatch.setattr(AsyncpgDBClient, name, wrap(getattr(AsyncpgDBClient, name)))
    return log


@contextmanager
def counting(log: StatementLog) -> Iterator[StatementLog]:
    """Count afresh for the length of the block."""
    log.statements.clear()
    log.active = True
    try:
        yield log
    finally:
        log.active = False


@pytest.fixture
def acquisitions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Connections taken from asyncpg's pool, one item each, counted as they are taken."""
    taken: list[int] = []
    original = Pool.acquire

    def counted(self: Pool, *args: Any, **kwargs: Any) -> Any:
        taken.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Pool, "acquire", counted)
    return taken
