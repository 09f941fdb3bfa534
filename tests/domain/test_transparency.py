"""The transparency figures on a small hand-built history (domain/transparency.py): every
expected number is worked out here by hand, with a national holiday (Nyepi, Monday 24 March
2031; Idul Adha, Thursday 3 April; Good Friday, 11 April), a regional holiday of Jayapura
(Wednesday 2 April) and a report that comes in April in Jayapura (WIT, UTC+9) although it is
still 31 March in Jember (WIB, UTC+7)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.calendar import WorkingCalendar
from domain.events import EventKind as K
from domain.transparency import (
    CellKey,
    FairnessRules,
    HistoryAssignment,
    HistoryEvent,
    Measure,
    ReportHistory,
    Scope,
    contributions,
    difference,
    figures,
    parse_period,
    percentile,
)

JEMBER, JAYAPURA = 1, 2
DINKES_JEMBER, DPUPR_JAYAPURA, DINKES_JAYAPURA = 10, 20, 21
WIB = WorkingCalendar("Asia/Jakarta")
WIT = WorkingCalendar("Asia/Jayapura", frozenset({date(2031, 4, 2)}))
MARCH, APRIL = date(2031, 3, 1), date(2031, 4, 1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ev(kind: K, at: datetime, assignment: int | None = None, **data: object) -> HistoryEvent:
    return HistoryEvent(kind.value, at, assignment, data)


# J1, Jember: submitted Friday 21 March 09:00 WIB, forwarded to Dinkes at 10:00, answered
# (final) Wednesday 26 March 10:00 WIB, rated 4. Working days from Friday: Saturday, Sunday and
# Nyepi (Monday) are off; Tuesday 25 and Wednesday 26 count: 2.
J1 = ReportHistory(
    id=1,
    region_id=JEMBER,
    created_at=utc(2031, 3, 21, 2),
    assignments=(
        HistoryAssignment(101, DINKES_JEMBER, utc(2031, 3, 21, 3), utc(2031, 3, 28, 17), None),
    ),
    events=(
        ev(K.REPORT_VERIFIED, utc(2031, 3, 21, 3)),
        ev(K.ASSIGNMENT_ACCEPTED, utc(2031, 3, 21, 4), 101),
        ev(
            K.ASSIGNMENT_FINAL_FOLLOW_UP,
            utc(2031, 3, 26, 3),
            101,
            due_at="2031-03-28T16:59:59+00:00",
        ),
        ev(K.REPORT_RESPONDED, utc(2031, 3, 26, 3)),
        ev(K.REPORT_RATED, utc(2031, 3, 27, 3), rating=4),
    ),
)

# J2, Jember: submitted Monday 3 March, forwarded to Dinkes, never answered, handed over to
# the Ombudsman on Friday 28 March.
J2 = ReportHistory(
    id=2,
    region_id=JEMBER,
    created_at=utc(2031, 3, 3, 2),
    assignments=(
        HistoryAssignment(102, DINKES_JEMBER, utc(2031, 3, 3, 3), utc(2031, 3, 10, 17), None),
    ),
    events=(
        ev(K.REPORT_VERIFIED, utc(2031, 3, 3, 3)),
        ev(K.REPORT_HANDED_OVER, utc(2031, 3, 28, 3)),
    ),
)

# P1, Jayapura: submitted at 16:00 UTC on 31 March, i.e. 01:00 WIT on Tuesday 1 April (still
# 23:00 on 31 March in Jember): an April report of Jayapura. Forwarded to DPUPR at 10:00 WIT,
# which returns it on Monday 7 April 10:00 WIT: Wednesday 2 (regional holiday) and Thursday 3
# (Idul Adha) are off, Friday 4 and Monday 7 count: held 2 working days. Re-assigned to Dinkes
# at 11:00 WIT, accepted, an interim answer on Tuesday 8 April 09:00 WIT (1 working day), the
# final answer on Thursday 17 April 10:00 WIT, after its deadline (15 April 23:59:59 WIT):
# Tuesday 8, Wednesday 9, Thursday 10, Monday 14 to Thursday 17 (Good Friday 11 is off): 7.
# The reporter disputes on Friday 18 April, Dinkes answers again on Tuesday 22 April.
P1 = ReportHistory(
    id=3,
    region_id=JAYAPURA,
    created_at=utc(2031, 3, 31, 16),
    assignments=(
        HistoryAssignment(201, DPUPR_JAYAPURA, utc(2031, 4, 1, 1), utc(2031, 4, 9, 15), None),
        HistoryAssignment(
            202, DINKES_JAYAPURA, utc(2031, 4, 7, 2), utc(2031, 4, 14, 15), utc(2031, 5, 5, 15)
        ),
    ),
    events=(
        ev(K.REPORT_VERIFIED, utc(2031, 4, 1, 1)),
        ev(K.ASSIGNMENT_RETURNED, utc(2031, 4, 7, 1), 201),
        ev(K.ASSIGNMENT_ACCEPTED, utc(2031, 4, 7, 3), 202),
        ev(K.ASSIGNMENT_FOLLOW_UP, utc(2031, 4, 8, 0), 202, due_at="2031-04-14T14:59:59+00:00"),
        ev(
            K.ASSIGNMENT_FINAL_FOLLOW_UP,
            utc(2031, 4, 17, 1),
            202,
            due_at="2031-04-15T14:59:59+00:00",
        ),
        ev(K.REPORT_RESPONDED, utc(2031, 4, 17, 1)),
        ev(K.REPORT_DISPUTED, utc(2031, 4, 18, 1)),
        ev(K.ASSIGNMENT_REOPENED, utc(2031, 4, 18, 1), 202),
        ev(K.ASSIGNMENT_FINAL_FOLLOW_UP, utc(2031, 4, 22, 1), 202),
        ev(K.REPORT_RESPONDED, utc(2031, 4, 22, 1)),
    ),
)


def cells(scope: Scope, sid: int, month: date, found: dict[CellKey, int]) -> dict[str, object]:
    """The counts of one scope and month as {measure: n} for counts, {measure: {value: n}}
    for histograms."""
    mine: dict[str, dict[int, int]] = {}
    for (s, i, m, measure, value), n in found.items():
        if (s, i, m) == (scope.value, sid, month):
            mine.setdefault(measure, {})[value] = n
    return {k: (v[0] if list(v) == [0] else v) for k, v in mine.items()}


def all_of(*reports: tuple[ReportHistory, WorkingCalendar]) -> dict[CellKey, int]:
    total: dict[CellKey, int] = {}
    for report, cal in reports:
        for key, n in contributions(report, cal).items():
            total[key] = total.get(key, 0) + n
    return total


ALL = all_of((J1, WIB), (J2, WIB), (P1, WIT))


def test_an_agency_counts_its_assignments_on_its_own_clock() -> None:
    assert cells(Scope.AGENCY, DINKES_JEMBER, MARCH, ALL) == {
        "received": 2,
        "verified": 1,  # accepted J1; J2 never was
        "answered": 1,
        "answered_on_time": 1,  # 26 March, due 28 March
        "first_response_days": {2: 1},
        "resolution_days": {2: 1},
        "rating": {4: 1},
        "handed_over": 1,  # J2, which it still held
    }
    assert cells(Scope.AGENCY, DPUPR_JAYAPURA, APRIL, ALL) == {
        "received": 1,
        "returned": 1,
        "held_days": {2: 1},  # 3 without Jayapura's own holiday
    }
    assert cells(Scope.AGENCY, DINKES_JAYAPURA, APRIL, ALL) == {
        "received": 1,
        "verified": 1,
        "answered": 1,
        # answered after its deadline: not on time
        "first_response_days": {1: 1},
        "resolution_days": {7: 1},  # the first final answer, not the one after the dispute
        "disputed": 1,
        "reopenings": 1,
    }


def test_a_region_counts_its_reports_on_the_citizens_clock() -> None:
    assert cells(Scope.REGION, JEMBER, MARCH, ALL) == {
        "received": 2,
        "verified": 2,
        "answered": 1,
        "answered_on_time": 1,
        "first_response_days": {2: 1},
        "resolution_days": {2: 1},
        "rating": {4: 1},
        "handed_over": 1,
    }
    # From 01:00 WIT on Tuesday 1 April: first answer Tuesday 8 (Friday 4, Monday 7, Tuesday
    # 8: 3), responded Thursday 17 (those, then 9, 10, 14, 15, 16, 17: 9).
    assert cells(Scope.REGION, JAYAPURA, APRIL, ALL) == {
        "received": 1,
        "verified": 1,
        "answered": 1,
        "first_response_days": {3: 1},
        "resolution_days": {9: 1},
        "returned": 1,
        "held_days": {2: 1},
        "disputed": 1,
        "reopenings": 1,
    }
    # A report of 1 April in Jayapura is not a March report, though it is 31 March in Jember.
    assert cells(Scope.REGION, JAYAPURA, MARCH, ALL) == {}


def test_the_figures_read_from_the_counts() -> None:
    rules = FairnessRules(min_sample=2, small_cell=1)
    counts: dict[str, dict[int, int]] = {}
    for (s, _, _, measure, value), n in ALL.items():
        if s == Scope.REGION.value:  # the nation over March and April
            counts.setdefault(measure, {})[value] = counts.get(measure, {}).get(value, 0) + n
    f = figures(counts, rules)
    assert (f.received, f.verified, f.answered) == (3, 3, 2)
    # Two answered, one on time: 0.5 over 2, rankable at a minimum sample of 2.
    assert (f.answered_on_time.value, f.answered_on_time.sample) == (0.5, 2)
    assert f.answered_on_time.rankable
    # First response days {2, 3}: nearest-rank median 2, p90 3; resolution {2, 9}.
    assert (f.first_response_median.value, f.first_response_p90.value) == (2, 3)
    assert (f.resolution_median.value, f.resolution_p90.value) == (2, 9)
    # One rating: shown (small cell 1) but not rankable (minimum sample 2).
    assert (f.rating_average.value, f.rating_average.rankable) == (4.0, False)
    assert (f.returned, f.handed_over, f.disputed, f.reopenings) == (1, 1, 1, 1)


def test_small_cells_show_no_breakdown_and_small_samples_are_not_ranked() -> None:
    jember = {}
    for (s, i, _, measure, value), n in ALL.items():
        if (s, i) == (Scope.REGION.value, JEMBER):
            jember.setdefault(measure, {})[value] = n
    hidden = figures(jember, FairnessRules(min_sample=10, small_cell=3))
    # Two reports: the count is said, nothing that could tell them apart.
    assert hidden.received == 2 and hidden.withheld
    assert (hidden.verified, hidden.answered, hidden.handed_over) == (None, None, None)
    assert hidden.rating_average.value is None and hidden.rating_average.withheld
    assert hidden.answered_on_time.value is None and not hidden.answered_on_time.rankable
    shown = figures(jember, FairnessRules(min_sample=10, small_cell=1))
    assert shown.answered_on_time.value == 1.0
    assert not shown.answered_on_time.rankable  # one answered report is no ranking
    assert figures(jember, FairnessRules(min_sample=1, small_cell=1)).answered_on_time.rankable


def test_a_figure_under_a_small_cell_is_withheld_in_a_large_scope() -> None:
    counts = {"received": {0: 50}, "answered": {0: 40}, "rating": {5: 1}}
    f = figures(counts, FairnessRules(min_sample=10, small_cell=3))
    # Fifty reports, one rating: that rating is one person's, and is not shown.
    assert f.answered == 40 and f.rating_average.value is None and f.rating_average.withheld
    assert f.rating_average.sample == 1


def test_recomputing_a_report_changes_only_its_difference() -> None:
    before = contributions(J2, WIB)
    after = contributions(J1, WIB)
    delta = difference(before, after)
    assert all(delta[k] == after.get(k, 0) - before.get(k, 0) for k in delta)
    assert difference(after, after) == {}


@pytest.mark.parametrize(
    ("histogram", "share", "expected"),
    [({}, 0.5, None), ({3: 1}, 0.9, 3), ({1: 1, 2: 1}, 0.5, 1), ({1: 9, 40: 1}, 0.9, 1)],
)
def test_percentiles_are_nearest_rank(
    histogram: dict[int, int], share: float, expected: int | None
) -> None:
    assert percentile(histogram, share) == expected


def test_periods() -> None:
    march = parse_period("2031-03")
    assert march is not None and march.months == (MARCH,)
    q2 = parse_period("2031-Q2")
    assert q2 is not None and q2.months == (APRIL, date(2031, 5, 1), date(2031, 6, 1))
    for wrong in ("2031", "2031-13", "2031-Q5", "1999-01", "31-01", "2031-1", "x-y"):
        assert parse_period(wrong) is None


def test_every_measure_is_named() -> None:
    assert {m.value for m in Measure} >= {k[3] for k in ALL}
