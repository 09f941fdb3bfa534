"""The likeness of two reports (domain/similarity.py): each part in [0, 1], halved at its
distance, unknown parts null and counted 0, and the score their weighted sum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.similarity import Probe, distance_km, likeness

AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_distance_is_the_great_circle() -> None:
    # 0.0027 degrees of latitude are 300 m; Jember to Surabaya is about 150 km.
    assert distance_km(-8.1650, 113.7170, -8.1677, 113.7170) == pytest.approx(0.300, abs=0.001)
    assert distance_km(-8.17, 113.70, -7.25, 112.75) == pytest.approx(146, abs=2)


def test_parts_halve_at_their_distance_and_the_score_weighs_them() -> None:
    probe = Probe(-8.1650, 113.7170, 3, AT)
    one_km = -8.1650 + 1 / 111.195
    alike = likeness(probe, 0.5, ("jalan",), one_km, 113.7170, 3, AT + timedelta(days=30))
    assert alike.place == pytest.approx(0.5, abs=0.001)
    assert alike.time == pytest.approx(0.5) and alike.days_apart == 30
    assert alike.category == 1.0
    assert alike.score == pytest.approx(0.6 * 0.5 + 0.2 * 0.5 + 0.1 * 1 + 0.1 * 0.5, abs=0.001)


def test_what_cannot_be_known_is_null_and_counts_nothing() -> None:
    probe = Probe(None, None, None, AT)
    alike = likeness(probe, 1.0, (), -8.1, 113.7, 3, AT)
    assert (alike.place, alike.distance_km, alike.category) == (None, None, None)
    assert alike.score == pytest.approx(0.6 + 0.1)
