"""The `lapor` command against a database of its own: migrate, seed-demo, create-user, sweep."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from lapor.demo import DEMO_ACCOUNTS
from tests.harness import create_database


def lapor(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m lapor ...` in `workdir` (LAPOR_DATABASE_URL comes with `env`)."""
    environ = {**os.environ, "LAPOR_ENV": "test", **env}
    return subprocess.run(
        [sys.executable, "-m", "lapor", *args],
        cwd=workdir,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


@dataclass
class Seeded:
    """A work folder and a database migrated twice and seeded twice, and those outputs."""

    workdir: Path
    url: str
    runs: dict[str, subprocess.CompletedProcess[str]]

    def lapor(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return lapor(self.workdir, *args, LAPOR_DATABASE_URL=self.url, **env)

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        return asyncio.run(self._query(sql, *params))

    async def _query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(self.url)
        try:
            return [tuple(row) for row in await conn.fetch(sql, *params)]
        finally:
            await conn.close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Seeded:
    workdir = tmp_path_factory.mktemp("lapor-cli")
    done = Seeded(workdir, create_database(pg_url, "lapor_cli"), {})
    for name, command in [
        ("migrate1", "migrate"),
        ("migrate2", "migrate"),
        ("seed1", "seed-demo"),
        ("seed2", "seed-demo"),
    ]:
        done.runs[name] = run = done.lapor(command)
        assert run.returncode == 0, f"{name}: {run.stdout}\n{run.stderr}"
    return done


def test_migrate_is_idempotent(seeded):
    assert "applied models.0001_initial" in seeded.runs["migrate1"].stdout
    assert "applied" not in seeded.runs["migrate2"].stdout
    assert "up to date" in seeded.runs["migrate2"].stdout


def test_seed_demo_runs_once(seeded):
    assert "demo data seeded" in seeded.runs["seed1"].stdout
    assert "already seeded" in seeded.runs["seed2"].stdout
    assert seeded.query("SELECT count(*) FROM region WHERE code = '35.09'") == [(1,)]
    demo_emails = [a.email for a in DEMO_ACCOUNTS]
    users = seeded.query("SELECT count(*) FROM app_user WHERE email = ANY($1)", demo_emails)
    assert users == [(len(DEMO_ACCOUNTS),)]
    assert seeded.query("SELECT count(*) FROM holiday WHERE region_id IS NULL") == [(8,)]
    assert seeded.query("SELECT count(*) FROM routing_rule") == [(12,)]


def test_demo_accounts_have_their_roles_and_scopes(seeded):
    rows = seeded.query(
        """
        SELECT u.email, g.role, r.code, a.code, ar.code
        FROM app_user u
        JOIN role_grant g ON g.user_id = u.id
        LEFT JOIN region r ON r.id = g.region_id
        LEFT JOIN agency a ON a.id = g.agency_id
        LEFT JOIN region ar ON ar.id = a.region_id
        """
    )
    demo_emails = {a.email for a in DEMO_ACCOUNTS}
    demo_rows = [row for row in rows if row[0] in demo_emails]
    grants = {email: tuple(grant) for email, *grant in demo_rows}
    # One grant each, and every demo account there.
    assert len(demo_rows) == len(grants) == len(demo_emails)
    assert grants["admin@lapor.demo"] == ("SUPERADMIN", None, None, None)
    assert grants["koordinator@jember.demo"] == ("COORDINATOR", "35.09", None, None)
    assert grants["koordinator@jayapura.demo"] == ("COORDINATOR", "91.03", None, None)
    assert grants["dinkes@jember.demo"] == ("OFFICER", None, "DINKES", "35.09")
    assert grants["kepala.dinkes@jember.demo"] == ("AGENCY_HEAD", None, "DINKES", "35.09")
    assert grants["pupr@jember.demo"] == ("OFFICER", None, "DPUPR", "35.09")
    assert grants["puskesmas@jember.demo"] == ("OFFICER", None, "PKM-SUMBERSARI", "35.09")
    assert grants["ombudsman@lapor.demo"] == ("OMBUDSMAN", None, None, None)
    assert grants["warga@jember.demo"] == ("CITIZEN", None, None, None)


def test_create_user_prints_the_new_id_with_scoped_grants(seeded):
    run = seeded.lapor(
        "create-user",
        "--email",
        "Petugas.Dishub@Jember.demo",
        "--name",
        "Petugas Dishub",
        "--password-env",
        "NEW_USER_PASSWORD",
        "--role",
        "OFFICER",
        "--role",
        "AGENCY_HEAD",
        "--region",
        "35.09",
        "--agency",
        "DISHUB",
        NEW_USER_PASSWORD="rahasia-sekali",
    )
    assert run.returncode == 0, run.stderr
    user_id = int(run.stdout.strip())
    rows = seeded.query(
        """
        SELECT u.email, g.role, g.region_id, a.code
        FROM app_user u
        JOIN role_grant g ON g.user_id = u.id
        JOIN agency a ON a.id = g.agency_id
        WHERE u.id = $1 ORDER BY g.role
        """,
        user_id,
    )
    assert rows == [
        ("petugas.dishub@jember.demo", "AGENCY_HEAD", None, "DISHUB"),
        ("petugas.dishub@jember.demo", "OFFICER", None, "DISHUB"),
    ]


def test_create_user_with_a_taken_email_exits_2_without_traceback(seeded):
    run = seeded.lapor(
        "create-user",
        "--email",
        "warga@jember.demo",
        "--name",
        "Siti Lain",
        "--password",
        "password-lain",
        "--role",
        "CITIZEN",
    )
    assert run.returncode == 2
    assert "error: EMAIL_TAKEN: " in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


def test_create_user_with_an_unknown_agency_exits_2(seeded):
    run = seeded.lapor(
        "create-user",
        "--email",
        "baru@jember.demo",
        "--name",
        "Petugas Baru",
        "--password",
        "password-baru",
        "--role",
        "OFFICER",
        "--region",
        "35.09",
        "--agency",
        "TIDAK-ADA",
    )
    assert run.returncode == 2
    assert "error: VALIDATION: " in run.stderr
    assert "Traceback" not in run.stderr


def test_sweep_refuses_a_time_without_a_zone(seeded: Seeded) -> None:
    run = seeded.lapor("sweep", "--as-of", "2026-03-30T09:00", "--dry-run")
    assert run.returncode == 2
    assert "needs a time zone" in run.stderr and "Traceback" not in run.stderr


def test_sweep_dry_run_lists_steps_and_changes_nothing(seeded: Seeded) -> None:
    # The demo has no reports: add one that is long overdue.
    (region,) = seeded.query("SELECT id FROM region WHERE code = '35.09'")[0]
    (reporter,) = seeded.query("SELECT id FROM app_user WHERE email = 'warga@jember.demo'")[0]
    seeded.query(
        "INSERT INTO report (tracking_code, kind, title, body, anonymous, confidential, "
        "ombudsman_consent, status, region_id, reporter_id, created_at, updated_at, due_at, "
        "sweep_at, reopen_count, transfer_count, support_count) VALUES ('LPR-CLI0-0001', "
        "'COMPLAINT', 't', 'b', false, false, false, 'SUBMITTED', $1, $2, "
        "'2026-03-02 02:00:00+00', '2026-03-02 02:00:00+00', '2026-03-05 16:59:59+00', "
        "'2026-03-04 16:59:59+00', 0, 0, 0)",
        region,
        reporter,
    )
    as_of = ("--as-of", "2026-03-06T09:00+07:00")
    dry = seeded.lapor("sweep", *as_of, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "verify\treminder" in dry.stdout and "verify\tbreach" in dry.stdout
    assert "would take 1 steps (1 skipped)" in dry.stdout
    assert seeded.query("SELECT count(*) FROM sweep_mark") == [(0,)]
    done = seeded.lapor("sweep", *as_of)
    assert done.returncode == 0, done.stderr
    assert "took 1 steps (1 skipped)" in done.stdout
    assert seeded.query("SELECT count(*) FROM sweep_mark") == [(2,)]
    again = seeded.lapor("sweep", *as_of)
    assert "took 0 steps (0 skipped)" in again.stdout


def test_transparency_rebuild_counts_every_report_and_shows_its_progress(seeded: Seeded) -> None:
    (region,) = seeded.query("SELECT id FROM region WHERE code = '35.09'")[0]
    (reporter,) = seeded.query("SELECT id FROM app_user WHERE email = 'warga@jember.demo'")[0]
    seeded.query(
        "INSERT INTO report (tracking_code, kind, title, body, anonymous, confidential, "
        "ombudsman_consent, status, region_id, reporter_id, created_at, updated_at, "
        "reopen_count, transfer_count, support_count) SELECT 'LPR-RBLD-' || lpad(i::text, 4, "
        "'0'), 'COMPLAINT', 't', 'b', false, i % 2 = 0, false, 'SUBMITTED', $1, $2, "
        "'2031-05-05 02:00:00+00', '2031-05-05 02:00:00+00', 0, 0, 0 "
        "FROM generate_series(1, 5) AS i",
        region,
        reporter,
    )
    (total,) = seeded.query("SELECT count(*)::int FROM report")[0]  # with other tests' ones
    run = seeded.lapor("transparency-rebuild", "--batch", "2")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    # The first batch and the last are always shown: rows done, rate, time left.
    assert lines[0].startswith("2/") and "reports (" in lines[0] and "/s, " in lines[0]
    assert "left" in lines[0]
    assert any(line.startswith(f"{total}/{total} reports (100.0%)") for line in lines)
    assert lines[-1].startswith(f"rebuilt the figures of {total} reports in ")
    counted = seeded.query(
        "SELECT n FROM perf_cell WHERE scope = 'region' AND scope_id = $1 "
        "AND month = '2031-05-01' AND measure = 'received'",
        region,
    )
    assert counted == [(5,)]
    # Again: the same counts, not twice as many (no assignment: the region's cells alone).
    assert seeded.lapor("transparency-rebuild").returncode == 0
    received = "SELECT sum(n)::int FROM perf_cell WHERE measure = 'received'"
    assert seeded.query(received) == [(total,)]
