"""The test suite's safety net: a test fails if the service answered any client INTERNAL
while it ran, unless it is marked as provoking one (tests/conftest.py applies it)."""

from __future__ import annotations

import logging

from core.logs import is_internal

PROVOKES_INTERNAL = "provokes_internal"


class InternalAnswers(logging.Handler):
    """Collects the log records of clients answered INTERNAL (core.logs.log_internal)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if is_internal(record):
            self.records.append(record)


def internal_verdict(records: list[logging.LogRecord], provoked: bool) -> str | None:
    """Why a test fails for the INTERNAL answers it saw, or None: a bug answered INTERNAL is
    a failure even when the test's own assertions pass; a test marked as provoking one must
    see one (a mark that no longer holds is removed)."""
    if provoked and not records:
        return f"marked {PROVOKES_INTERNAL}, but no client was answered INTERNAL"
    if not provoked and records:
        lines = [
            f"{r.getMessage()}: {r.exc_info[1]!r}" if r.exc_info else r.getMessage()
            for r in records
        ]
        return "a client was answered INTERNAL (a bug: see the log):\n" + "\n".join(lines)
    return None
