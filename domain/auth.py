"""Passwords (argon2) and signed, expiring bearer tokens (HS256)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
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


def issue_token(user_id: int, secret: str, now: datetime, ttl_seconds: int) -> str:
    """A signed token naming the user, valid for `ttl_seconds` from `now`."""
    claims = {
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass(frozen=True)
class TokenClaims:
    """Who a valid token names, and until when it is valid."""

    user_id: int
    expires_at: datetime


def read_claims(token: str, secret: str, now: datetime) -> TokenClaims | None:
    """The claims of a valid, unexpired token; None for anything else."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["exp", "sub"], "verify_exp": False},
        )
    except jwt.PyJWTError:
        return None
    try:
        expires = int(claims["exp"])
        user_id = int(claims["sub"])
    except (TypeError, ValueError):
        return None
    if expires <= int(now.timestamp()):
        return None
    return TokenClaims(user_id, datetime.fromtimestamp(expires, UTC))
