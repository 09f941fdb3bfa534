"""Bearer tokens (domain/auth.py): a verified token is remembered, its expiry never is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
