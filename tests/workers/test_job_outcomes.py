"""A job the database's absence stopped is retried a moment later, not failed: arq logs a retry,
and an outage leaves no error in a worker's log (tests/e2e/test_database_outage.py); any other
exception is the job's failure, as it was (workers/jobs.py, `logged`)."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import pytest
from arq.worker import Retry

from domain.services.health import RETRY_AFTER_SECONDS
from workers.jobs import logged


def _job(error: BaseException) -> Any:
    @logged
    async def fold(ctx: dict[str, Any]) -> int:
        raise error

    return fold


def _outcomes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.outcome for r in caplog.records if r.name == "lapor.jobs"]  # type: ignore[attr-defined]


async def test_a_job_the_database_is_down_for_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "lapor.jobs")
    down = asyncpg.CannotConnectNowError("the database system is shutting down")
    with pytest.raises(Retry) as raised:
        await _job(down)({})
    assert raised.value.defer_score == RETRY_AFTER_SECONDS * 1000
    assert raised.value.__cause__ is down
    assert _outcomes(caplog) == ["retried"]


@pytest.mark.parametrize(
    "error", [ValueError("a bug"), asyncpg.UniqueViolationError("a row twice")], ids=str
)
async def test_any_other_error_fails_the_job_as_it_is(
    caplog: pytest.LogCaptureFixture, error: Exception
) -> None:
    caplog.set_level(logging.INFO, "lapor.jobs")
    with pytest.raises(type(error)) as raised:
        await _job(error)({})
    assert raised.value is error
    assert _outcomes(caplog) == ["failed"]
