"""Passwords (argon2) and signed, expiring bearer tokens (HS256)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.bounds import LATEST_INSTANT, valid_id

_hasher = PasswordHasher()
# The latest expiry a token may carry, in Unix seconds.
_LATEST_EXPIRY = int(LATEST_INSTANT.timestamp())
# Verifying against this keeps the time of a login for an unknown e-mail like a real one.
_DUMMY_HASH = _hasher.hash("lapor-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; always spends one argon2 verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def issue_token(
    user_id: int, secret: str, now: datetime, ttl_seconds: int, audience: str | None = None
) -> str:
    """A signed token naming the user, valid for `ttl_seconds` from `now`; one with an
    `audience` is good only where that audience is asked for (never as an API token)."""
    claims: dict[str, object] = {
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
    }
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass(frozen=True)
class TokenClaims:
    """Who a valid token names, and until when it is valid."""

    user_id: int
    expires_at: datetime


def read_claims(
    token: str, secret: str, now: datetime, audience: str | None = None
) -> TokenClaims | None:
    """The claims of a valid, unexpired token for `audience` (None: an API token, which
    carries no audience); None for anything else."""
    claims = _verified(token, secret, audience)
    if claims is None:
        return None
    try:
        expires = int(claims["exp"])
        user_id = int(claims["sub"])
    except (TypeError, ValueError, OverflowError):
        return None
    # Claims are bounded before they reach a query or a clock: a user id is a bigint, an
    # expiry an instant PostgreSQL and Python hold (core/bounds.py).
    if not valid_id(user_id) or expires > _LATEST_EXPIRY:
        return None
    if expires <= int(now.timestamp()):
        return None
    return TokenClaims(user_id, datetime.fromtimestamp(expires, UTC))


@functools.lru_cache(maxsize=4096)
def _verified(token: str, secret: str, audience: str | None) -> dict[str, Any] | None:
    """The claims of a token whose signature and audience are right (its expiry is checked by
    the caller, against the request's time). Remembered: a client sends the same token with
    every request, and checking it again cost about a tenth of an inbox page's time."""
    required = ["exp", "sub", "aud"] if audience is not None else ["exp", "sub"]
    try:
        # Without `audience`, PyJWT refuses any token that carries one.
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=audience,
            options={"require": required, "verify_exp": False},
        )
    except jwt.PyJWTError:
        return None
    return claims


def read_token(token: str, secret: str, now: datetime, audience: str | None = None) -> int | None:
    """The user id of a valid, unexpired token for `audience`; None for anything else."""
    claims = read_claims(token, secret, now, audience)
    return claims.user_id if claims else None
