"""Tokens: what a signed token may claim before anything reads its user (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
import pytest

from domain.auth import issue_token, read_claims

SECRET = "a-test-secret-of-at-least-thirty-two-characters"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _signed(claims: dict[str, object]) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


def test_a_token_it_issued_names_its_user_until_it_expires() -> None:
    claims = read_claims(issue_token(42, SECRET, NOW, 3600), SECRET, NOW)
    assert claims is not None and claims.user_id == 42
    assert claims.expires_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": str(2**63), "exp": 2**31},  # beyond bigint: would reach the user lookup
        {"sub": str(10**30), "exp": 2**31},
        {"sub": "0", "exp": 2**31},
        {"sub": "-5", "exp": 2**31},
        {"sub": "1", "exp": 2**63},  # beyond any clock: would overflow the timestamp
        {"sub": "1", "exp": 10**30},
        {"sub": "1", "exp": 2**40},  # year 36812
        {"sub": "1", "exp": "soon"},
        {"sub": "1.5", "exp": 2**31},
        {"sub": "1", "exp": 1},  # expired
    ],
)
def test_claims_out_of_bounds_make_no_session(claims: dict[str, object]) -> None:
    assert read_claims(_signed(claims), SECRET, NOW) is None
