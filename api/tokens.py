"""What clients send to be recognised: bearer tokens (in the Authorization header, or in a
WebSocket's connection_init payload), idempotency keys, and the address a request came from
(for rate limits)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import HTTPConnection

from api.errors import Refusal
from core.bounds import idempotency_key_problem

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def init_token(payload: Mapping[str, object] | None) -> str | None:
    """The token of a connection_init payload: `{"Authorization": "Bearer <token>"}` (what
    GraphiQL sends from its Headers pane; the key in any case) or `{"token": "<token>"}`."""
    if not payload:
        return None
    for key, value in payload.items():
        if key.lower() == "authorization" and isinstance(value, str):
            return bearer_token(value)
    token = payload.get("token")
    if isinstance(token, str) and token.strip():
        return token.strip()
    return None


def client_ip(connection: HTTPConnection) -> str | None:
    """The address a request came from: the peer's, or, behind a proxy uvicorn trusts
    (`--forwarded-allow-ips`), the one it names in X-Forwarded-For."""
    # The scope's pair itself: `connection.client` makes an Address of it for every call.
    client = connection.scope.get("client")
    return str(client[0]) if client else None


def idempotency_key(header: str | None) -> str | None:
    """The key of an `Idempotency-Key` header (docs/adr/0025); a malformed one is refused
    (400, VALIDATION naming the header) before anything runs."""
    if header is None:
        return None
    problem = idempotency_key_problem(header)
    if problem is not None:
        raise Refusal(
            400, f"{IDEMPOTENCY_KEY_HEADER} {problem}", "VALIDATION", field=[IDEMPOTENCY_KEY_HEADER]
        )
    return header
