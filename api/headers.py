"""A request's header read straight from its ASGI scope, as Starlette's `request.headers.get`
reads it (the first of that name, decoded as latin-1) without making a `Headers` for the request
or raising and catching a KeyError for every header it does not carry: a request reads eight."""

from __future__ import annotations

from starlette.types import Scope

# Where a request's headers by name are kept in its scope, made at the first lookup: a request
# looks up eight, and a loop over the header list for each was 350 bytecodes of every request.
_BY_NAME = "lapor.headers_by_name"


def header(scope: Scope, name: bytes) -> str | None:
    """The value of the first header called `name` (in lower case, as servers give names)."""
    by_name: dict[bytes, bytes] | None = scope.get(_BY_NAME)
    if by_name is None:
        # Reversed, so that the first of two headers of one name is the one kept.
        by_name = scope[_BY_NAME] = dict(reversed(tuple(scope.get("headers", ()))))
    value = by_name.get(name)
    return None if value is None else value.decode("latin-1")


def media_type(scope: Scope) -> str:
    """The request body's media type: its Content-Type without parameters, in lower case ("" when
    it has none)."""
    return (header(scope, b"content-type") or "").split(";")[0].strip().lower()
