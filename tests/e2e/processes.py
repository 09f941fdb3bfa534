"""The `lapor` command as real processes for end-to-end tests: start, wait until it serves,
stop (and kill what does not stop)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from bench import service
from core.logs import is_internal_line
from tests.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
# The logs of the processes the running test started: tests/e2e/conftest.py reads them after
# it for clients answered INTERNAL, as tests/conftest.py does for this process.
SPAWNED_LOGS: list[Path] = []


def internal_answers(log: Path) -> list[str]:
    """The lines of a process's log that tell of a client answered INTERNAL or a bare 500."""
    lines = log.read_text(errors="replace").splitlines()
    return [line[:500] for line in lines if is_internal_line(line)]


def access_lines(
    log: Path, enough: Callable[[list[dict[str, Any]]], bool], timeout: float = 5
) -> list[dict[str, Any]]:
    """The access lines of a process's log, once `enough` holds for them (or `timeout` seconds
    passed): a line waits in the process up to LAPOR_LOG_DEFER_SECONDS to be written with the
    next ones (docs/adr/0050)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        access = [line for line in lines if line.get("logger") == "lapor.access"]
        if enough(access) or time.monotonic() > deadline:
            return access
        time.sleep(0.02)


def spawn(args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`python -m lapor ARGS` in the repository, its output (both streams) into `log`."""
    SPAWNED_LOGS.append(log)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "lapor", *args], cwd=ROOT, env=dict(env), stdout=out, stderr=out
        )


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not stopped within `timeout` seconds."""
    service.stop([process], timeout)


def wait_healthy(
    base: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 60
) -> None:
    """Until GET /healthz answers 200; fails with the log if the process dies or is late."""
    service.wait_healthy(f"{base}/healthz", process, log, seconds)


@contextlib.contextmanager
def lapor_api(env: Mapping[str, str], log: Path, *args: str) -> Iterator[str]:
    """`lapor api` on a free loopback port with `env` added to ours; yields its base URL."""
    port = free_port()
    process = spawn(["api", "--port", str(port), *args], {**os.environ, **env}, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process, log)
        yield base
    finally:
        stop(process)
