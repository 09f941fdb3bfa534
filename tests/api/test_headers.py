"""A request's header read from its scope gives what Starlette's `request.headers.get` gives."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from api.headers import header

RAW = [
    (b"accept", b"application/json"),
    (b"x-twice", b"first"),
    (b"x-twice", b"second"),
    (b"x-latin", "caf\u00e9".encode("latin-1")),
    (b"authorization", b"Bearer abc"),
]


@pytest.mark.parametrize("name", ["accept", "x-twice", "x-latin", "authorization", "missing"])
def test_a_header_reads_as_starlette_reads_it(name: str) -> None:
    scope = {"type": "http", "headers": RAW}
    assert header(scope, name.encode()) == Request(scope).headers.get(name)


def test_a_scope_without_headers_has_none() -> None:
    assert header({"type": "http"}, b"accept") is None
