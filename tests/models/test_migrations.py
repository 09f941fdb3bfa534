"""The migrations build the whole schema on an EMPTY PostgreSQL database through the real
`lapor migrate` command, rerunning it is a no-op, the indexes the lists need exist, and the
models and the migrations are in step (`tortoise makemigrations` finds nothing to do)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from tests.harness import create_database

REPO = Path(__file__).resolve().parents[2]
TORTOISE_CLI = Path(sys.executable).parent / "tortoise"
COMMAND_TIMEOUT = 180.0


async def _run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run a command; return its exit status and its stdout and stderr together."""
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), COMMAND_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


def _env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    env.update(LAPOR_DATABASE_URL=database_url, LAPOR_ENV="test", **extra)
    return env


@pytest.fixture
async def empty_db(pg_url: str) -> AsyncIterator[str]:
    """A brand-new, empty database (dropped first if a previous run left it)."""
    url = await asyncio.to_thread(create_database, pg_url, "lapor_migrate_test")
    yield url


async def _lapor_migrate(url: str) -> tuple[int, str]:
    return await _run([sys.executable, "-m", "lapor", "migrate"], _env(url), REPO)


def _columns(indexdef: str) -> tuple[str, ...]:
    """The key columns of `CREATE INDEX ... USING btree (a, b, c)`."""
    match = re.search(r"USING \w+ \((.*)\)", indexdef)
    assert match, indexdef
    return tuple(c.strip().strip('"').split(" ")[0] for c in match.group(1).split(","))


async def test_lapor_migrate_builds_the_schema_on_an_empty_database(empty_db: str) -> None:
    conn = await asyncpg.connect(empty_db, timeout=10)
    try:
        tables_before = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        assert tables_before == 0, "the database is not empty"

        status, output = await _lapor_migrate(empty_db)
        assert status == 0, f"`lapor migrate` failed on an empty database:\n{output}"

        tables = {
            r["table_name"]
            for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
        for table in ("report", "assignment", "report_event", "outbox_message"):
            assert table in tables, f"table {table} missing; have {sorted(tables)}"

        indexes: dict[str, list[tuple[str, ...]]] = {}
        for row in await conn.fetch(
            "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        ):
            indexes.setdefault(row["tablename"], []).append(_columns(row["indexdef"]))
        wanted = {
            "assignment": ("agency_id", "status", "id"),
            "report": ("status", "due_at"),
        }
        for table, columns in wanted.items():
            have = indexes.get(table, [])
            assert any(cols[: len(columns)] == columns for cols in have), (
                f"no index on {table} starting with {columns}; have {have}"
            )
    finally:
        await conn.close()


async def test_lapor_migrate_twice_is_a_no_op(empty_db: str) -> None:
    status, output = await _lapor_migrate(empty_db)
    assert status == 0, output

    conn = await asyncpg.connect(empty_db, timeout=10)
    try:
        snapshot = "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public'"
        before = sorted(tuple(r) for r in await conn.fetch(snapshot))
        status, again = await _lapor_migrate(empty_db)
        assert status == 0, f"a second `lapor migrate` failed:\n{again}"
        assert "applied" not in again.lower().replace("already applied", ""), again
        after = sorted(tuple(r) for r in await conn.fetch(snapshot))
        assert after == before
    finally:
        await conn.close()


async def test_models_and_migrations_are_in_step(tmp_path: Path) -> None:
    """`tortoise makemigrations` on a copy of models/ (so that, if it finds changes, the new
    migration file lands in the copy and not in the repository)."""
    assert TORTOISE_CLI.is_file(), f"no tortoise command at {TORTOISE_CLI}"
    shutil.copytree(
        REPO / "models", tmp_path / "models", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    before = sorted(p.name for p in (tmp_path / "models" / "migrations").glob("*.py"))
    # makemigrations compares models and migrations only: nothing listens at this URL.
    env = _env("postgres://lapor@127.0.0.1:9/makemigrations", PYTHONPATH=str(tmp_path))

    status, output = await _run(
        [str(TORTOISE_CLI), "-c", "models.db.TORTOISE_ORM", "makemigrations"], env, tmp_path
    )

    after = sorted(p.name for p in (tmp_path / "models" / "migrations").glob("*.py"))
    created = [tmp_path / "models" / "migrations" / name for name in after if name not in before]
    details = "\n".join(p.read_text() for p in created)
    assert status == 0, output
    assert "No changes detected" in output, (
        "models/ and models/migrations/ are out of step: run `tortoise makemigrations` and "
        f"commit the new migration.\n{output}\n{details}"
    )
    assert not created
