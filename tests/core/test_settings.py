"""Production refuses a default or weak secret; the development default still runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import DEFAULT_SECRET, Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("secret", ["", DEFAULT_SECRET, "short-secret"])
def test_production_refuses_a_default_empty_or_short_secret(secret: str) -> None:
    with pytest.raises(RuntimeError, match="LAPOR_SECRET_KEY"):
        Settings(env="production", secret_key=secret).check_production()


def test_production_accepts_a_long_random_secret() -> None:
    Settings(env="production", secret_key="x7" * 20).check_production()


def test_development_runs_on_the_default_secret() -> None:
    Settings(env="development").check_production()


def test_the_api_app_refuses_to_build_in_production_with_the_default_secret() -> None:
    from api.app import create_app

    with pytest.raises(RuntimeError, match="LAPOR_SECRET_KEY"):
        create_app(Settings(env="production"))


@pytest.mark.parametrize("command", ["api", "worker"])
def test_the_commands_refuse_to_start(command: str) -> None:
    env = {**os.environ, "LAPOR_ENV": "production", "LAPOR_SECRET_KEY": ""}
    done = subprocess.run(
        [sys.executable, "-m", "lapor", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "LAPOR_SECRET_KEY" in done.stderr
    assert "Traceback" not in done.stderr
