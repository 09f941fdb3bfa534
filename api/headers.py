"""A request's header read straight from its ASGI scope, as Starlette's `request.headers.get`
reads it (the first of that name, decoded as latin-1) without making a `Headers` for the request
or raising and catching a KeyError for every header it does not carry: a request reads five."""

from __future__ import annotations

from starlette.types import Scope


def header(scope: Scope, name: bytes) -> str | None:
    """The value of the first header called `name` (in lower case, as servers give names)."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def media_type(scope: Scope) -> str:
    """The request body's media type: its Content-Type without parameters, in lower case ("" when
    it has none)."""
    return (header(scope, b"content-type") or "").split(";")[0].strip().lower()
