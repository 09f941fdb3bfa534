"""`lapor run`: the whole service on one machine, started, watched and stopped in order.

Redis and PostgreSQL (the embedded cluster in var/postgres) start first unless configured,
then the migrations and the demo seed, then an API and a worker; when any of them exits, or
on Ctrl-C, SIGTERM or SIGHUP, everything is stopped in the reverse order.

A signal is only noted (`Stopping`): `lapor run` stops at its next step, never in the middle
of one, so a child is always on the list of what to stop before it starts, a migration is never
cut in half, and the signals that follow (make passes its own SIGTERM on to `lapor run`, a
terminal sends SIGHUP after SIGTERM) cannot abandon the clean-up halfway (docs/adr/0026).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Protocol

from lapor.servers import RedisServer, ServerError, tcp_open

VAR_DIR = Path("var")
# The random secret that signs this machine's tokens, made on the first `lapor run`.
SECRET_FILE = "secret_key"
PREFERRED_REDIS_PORT = 6390
STOP_TIMEOUT = 10.0
# Seconds a child gets to stop beyond its own grace (its lifespan, closing its pools).
STOP_MARGIN = 5.0
START_TIMEOUT = 60.0


def run_secret(var_dir: Path) -> str:
    """The secret of `lapor run`'s tokens: read from `var_dir/secret_key`, made random on the first
    run; the file is readable by its owner only (tightened if it was not)."""
    path = var_dir / SECRET_FILE
    var_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise ServerError(f"{path} holds no usable secret: remove it and run again")
    return secret


class Child(Protocol):
    """Something `lapor run` started and must stop."""

    name: str

    def poll(self) -> int | None:
        """The exit status once it has exited, None while it runs."""
        ...

    def stop(self) -> None:
        """Stop it and wait until it has."""
        ...


@dataclass
class Process:
    """A `lapor` subcommand in its own process group."""

    name: str
    process: subprocess.Popen[bytes]
    # How long it may take to stop on SIGTERM (in-flight requests, running jobs) before SIGKILL.
    timeout: float = STOP_TIMEOUT

    def poll(self) -> int | None:
        return self.process.poll()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to what is left of its group (uvicorn's worker processes)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            print(
                f"{self.name} did not stop within {self.timeout:.0f}s: killing it", file=sys.stderr
            )
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@dataclass
class Server:
    """A server `lapor run` started (Redis, the embedded PostgreSQL)."""

    name: str
    stopper: Callable[[], None]
    status: Callable[[], int | None]

    def poll(self) -> int | None:
        return self.status()

    def stop(self) -> None:
        self.stopper()


def spawn(
    name: str, args: Sequence[str], env: Mapping[str, str], timeout: float = STOP_TIMEOUT
) -> Process:
    """`python -m lapor ARGS` in a process group of its own (Ctrl-C reaches only us, and we
    stop the children in order), given `timeout` seconds to stop."""
    process = subprocess.Popen(
        [sys.executable, "-m", "lapor", *args],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return Process(name, process, timeout)


def start_redis(children: list[Child]) -> str:
    """A private Redis without persistence, on 6390 when free: it carries this run's jobs and
    pub/sub only; the outbox relay redoes whatever was lost with it. It is on `children`
    before it starts."""
    redis = RedisServer(directory=VAR_DIR / "redis", port=PREFERRED_REDIS_PORT)
    children.append(Server("redis-server", redis.stop, redis.poll))
    redis.start()
    return redis.url


def failure_status(code: int) -> int:
    """A non-zero exit status for a child that ended: 128+N for signal N, 1 for a clean exit."""
    if code < 0:
        return 128 - code
    return code or 1


def supervise(children: Sequence[Child], stopping: Stopping) -> int:
    """Wait until a child exits (returns a non-zero status); Stop at a signal."""
    while True:
        stopping.check()
        for child in children:
            code = child.poll()
            if code is not None:
                print(f"{child.name} exited with status {code}: stopping", file=sys.stderr)
                return failure_status(code)
        time.sleep(0.2)


def wait_listening(
    children: Sequence[Child], host: str, port: int, stopping: Stopping
) -> int | None:
    """None once the API accepts connections; a child's exit status if one dies first; Stop
    at a signal."""
    deadline = time.monotonic() + START_TIMEOUT
    while not tcp_open(host, port):
        stopping.check()
        for child in children:
            code = child.poll()
            if code is not None:
                print(f"{child.name} exited with status {code} while starting", file=sys.stderr)
                return failure_status(code)
        if time.monotonic() > deadline:
            print(f"the API did not listen on {host}:{port} within 60s", file=sys.stderr)
            return 1
        time.sleep(0.1)
    return None


def stop_all(children: Sequence[Child]) -> None:
    """Stop what was started, the last started first (the API before the database)."""
    for child in reversed(children):
        try:
            child.stop()
        except (ServerError, OSError, subprocess.SubprocessError) as error:
            print(f"{child.name}: {error}", file=sys.stderr)


class Stop(Exception):
    """Raised at `lapor run`'s next step after Ctrl-C, SIGTERM or SIGHUP."""


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopping:
    """Notes the first stop signal; `check()` raises Stop once one came. A signal handler that
    raised would land wherever the process happens to be: between starting a server and
    putting it on the list, or halfway through stopping them."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signum

    def check(self) -> None:
        if self.signal is not None:
            raise Stop


@contextlib.contextmanager
def stopping_on_signals(children: list[Child]) -> Iterator[Stopping]:
    """Within the block, stop signals are noted (check them between steps); on the way out,
    whatever the reason, the children are stopped, the last started first, and signals that
    come meanwhile change nothing."""
    stopping = Stopping()
    previous = {sig: signal.signal(sig, stopping) for sig in STOP_SIGNALS}
    try:
        yield stopping
    finally:
        if children:
            print("stopping ...", file=sys.stderr)
        stop_all(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
