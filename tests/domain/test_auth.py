"""Bearer tokens (domain/auth.py): a verified token is remembered, its expiry never is; what a
token claims is bounded before anything reads its user (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from domain.auth import issue_token, read_claims

SECRET = "a-test-secret-of-enough-length-0123456789"
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_a_token_read_before_is_refused_once_it_expires() -> None:
    token = issue_token(7, SECRET, NOW, 60)
    claims = read_claims(token, SECRET, NOW)
    assert claims is not None and claims.user_id == 7
    assert read_claims(token, SECRET, NOW + timedelta(seconds=59)) is not None
    assert read_claims(token, SECRET, NOW + timedelta(seconds=60)) is None


def test_a_remembered_token_is_checked_against_each_secret_and_audience() -> None:
    token = issue_token(7, SECRET, NOW, 60)
    assert read_claims(token, SECRET, NOW) is not None
    assert read_claims(token, SECRET + "-other", NOW) is None
    assert read_claims(token, SECRET, NOW, audience="lapor-console") is None
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert read_claims(tampered, SECRET, NOW) is None


def _signed(claims: dict[str, object]) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


def test_a_token_it_issued_names_its_user_until_it_expires() -> None:
    claims = read_claims(issue_token(42, SECRET, NOW, 3600), SECRET, NOW)
    assert claims is not None and claims.user_id == 42
    assert claims.expires_at == NOW + timedelta(hours=1)


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
    """Issue 13: a token whose `sub` or `exp` was 2^63 or 10^30 was a bare 500."""
    assert read_claims(_signed(claims), SECRET, NOW) is None
