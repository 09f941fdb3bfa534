"""The bounds of what clients may send (core/bounds.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.bounds import (
    EARLIEST_INSTANT,
    LATEST_INSTANT,
    MAX_ID,
    instant_problem,
    shifted,
    text_problem,
    valid_id,
)


def test_ids_are_positive_bigints() -> None:
    assert valid_id(1) and valid_id(MAX_ID)
    assert not valid_id(0) and not valid_id(-1) and not valid_id(MAX_ID + 1)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("Lampu", None),
        ("Jalan — 5", None),
        ("x" * 10, None),
        ("x" * 11, "must be at most 10 characters"),
        ("a\x00b", "must not contain NUL characters"),
        ("a\ud800", "must be valid Unicode (no lone surrogates)"),
    ],
)
def test_text_is_what_postgresql_can_store(value: str, problem: str | None) -> None:
    assert text_problem(value, 10) == problem


@pytest.mark.parametrize(
    "value",
    [
        datetime.fromisoformat("0001-01-01T00:00:00+14:00"),
        datetime.fromisoformat("9999-12-31T23:59:59-14:00"),
        datetime(2026, 1, 5),  # no time zone
    ],
)
def test_an_instant_must_be_aware_and_within_years_1_to_9999_in_utc(value: datetime) -> None:
    assert instant_problem(value) is not None


def test_the_extreme_instants_themselves_are_accepted() -> None:
    assert instant_problem(EARLIEST_INSTANT) is None
    assert instant_problem(LATEST_INSTANT.astimezone(timezone(timedelta(hours=-14)))) is None


def test_a_shift_stays_within_the_instants_postgresql_holds() -> None:
    start = datetime(2026, 1, 5, tzinfo=UTC)
    assert shifted(start, 86400) == datetime(2026, 1, 6, tzinfo=UTC)
    assert shifted(datetime(9999, 12, 30, tzinfo=UTC), 90 * 86400) == LATEST_INSTANT
    assert shifted(datetime(1, 1, 2, tzinfo=UTC), -90 * 86400) == EARLIEST_INSTANT
