"""No built-in secret is accepted anywhere (issue 12, finding "tokens can be forged"): the API
refuses to start without a random secret of 32 characters or more, in every environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import RETIRED_SECRETS, Settings

ROOT = Path(__file__).resolve().parents[2]
OLD_CONSTANT = next(iter(RETIRED_SECRETS))


@pytest.mark.parametrize("secret", ["", OLD_CONSTANT, "short-secret"])
def test_production_refuses_a_missing_retired_or_short_secret(secret: str) -> None:
    with pytest.raises(RuntimeError, match="LAPOR_SECRET_KEY"):
        Settings(env="production", secret_key=secret).check_production()


def test_production_accepts_a_long_random_secret() -> None:
    Settings(env="production", secret_key="x7" * 20).check_production()


@pytest.mark.parametrize("env", ["development", "test", "production"])
@pytest.mark.parametrize("secret", ["", OLD_CONSTANT, "short-secret"])
def test_no_environment_signs_tokens_with_a_built_in_or_weak_secret(env: str, secret: str) -> None:
    """Before issue 12 development and test ran on a constant written in the code."""
    with pytest.raises(RuntimeError, match="LAPOR_SECRET_KEY"):
        Settings(env=env, secret_key=secret).check_secret()


def test_settings_carry_no_secret_of_their_own() -> None:
    assert Settings.model_fields["secret_key"].default == ""


@pytest.mark.parametrize("env", ["development", "production"])
def test_the_api_app_refuses_to_build_without_a_secret(env: str) -> None:
    from api.app import create_app

    with pytest.raises(RuntimeError, match="LAPOR_SECRET_KEY"):
        create_app(Settings(env=env, secret_key=""))


@pytest.mark.parametrize(
    ("command", "env"),
    [("api", "production"), ("worker", "production"), ("api", "development")],
)
def test_the_commands_refuse_to_start(command: str, env: str) -> None:
    environ = {**os.environ, "LAPOR_ENV": env, "LAPOR_SECRET_KEY": ""}
    done = subprocess.run(
        [sys.executable, "-m", "lapor", command],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "LAPOR_SECRET_KEY" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("key_id", "secret"), [("AKIAEXAMPLE", ""), ("", "only-the-secret-of-the-pair")]
)
def test_half_an_s3_credential_is_refused_at_start(key_id: str, secret: str) -> None:
    with pytest.raises(ValueError, match="LAPOR_S3_ACCESS_KEY_ID"):
        Settings(s3_access_key_id=key_id, s3_secret_access_key=secret)


def test_settings_carry_no_s3_credential_of_their_own() -> None:
    assert Settings.model_fields["s3_access_key_id"].default == ""
    assert Settings.model_fields["s3_secret_access_key"].default == ""


@pytest.mark.parametrize(
    "limit",
    [
        "upload_max_files",
        "upload_max_file_bytes",
        "upload_max_report_bytes",
        "file_link_ttl_seconds",
    ],
)
def test_upload_limits_and_link_lifetime_are_at_least_one(
    limit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"LAPOR_{limit.upper()}", "0")
    with pytest.raises(ValueError, match=limit):
        Settings()
