"""An HTTP request's ASGI scope as a server (uvicorn) hands it to an app: for calling the app
in process with messages of one's own (the tests' cut-short bodies, the benches' pages).
Nothing here imports pytest or the application."""

from __future__ import annotations

from typing import Any


def http_scope(
    path: str, headers: list[tuple[bytes, bytes]], method: str = "POST"
) -> dict[str, Any]:
    """The scope of an HTTP/1.1 request for `path` from a loopback client, with `headers`
    (names in lower case, as servers give them)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
