"""A request's header read from its scope gives what Starlette's `request.headers.get` gives."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from api.headers import header, media_type

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


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (b"application/json", "application/json"),
        (b"Application/JSON; charset=utf-8", "application/json"),
        (b" multipart/form-data ; boundary=x", "multipart/form-data"),
        (None, ""),
    ],
)
def test_a_media_type_is_the_content_type_without_parameters(
    content_type: bytes | None, expected: str
) -> None:
    raw = [(b"content-type", content_type)] if content_type is not None else []
    assert media_type({"type": "http", "headers": raw}) == expected
