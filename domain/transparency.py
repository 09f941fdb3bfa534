"""Transparency figures (issue 16; docs/design.md, "Transparency"): what one report adds to the
public counts, and how the published figures are read back from those counts.

Pure: a report's stored history (its events, its assignments' stored deadlines) and its
region's calendar are passed in. Every figure is a count or a histogram of whole numbers
(working days, a rating), kept per (scope, id, month, measure, value): histograms add up, so a
quarter is three months summed and the nation its regions summed, and a median is read from
counts without touching a report.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import partial
from zoneinfo import ZoneInfo

from domain.calendar import WorkingCalendar
from domain.events import EventKind


class Scope(StrEnum):
    """Whose figures: an agency's (its assignments) or a region's (its reports)."""

    AGENCY = "agency"
    REGION = "region"


class Measure(StrEnum):
    """What is counted. Counts add 1 (or n) at value 0; histograms add 1 at their value."""

    RECEIVED = "received"
    VERIFIED = "verified"
    ANSWERED = "answered"
    ANSWERED_ON_TIME = "answered_on_time"
    FIRST_RESPONSE_DAYS = "first_response_days"  # histogram of working days
    RESOLUTION_DAYS = "resolution_days"  # histogram of working days
    RETURNED = "returned"
    HELD_DAYS = "held_days"  # histogram: working days a returned report was held
    HANDED_OVER = "handed_over"
    DISPUTED = "disputed"
    REOPENINGS = "reopenings"
    RATING = "rating"  # histogram of scores 1-5


# (scope, scope id, first day of the month, measure, value)
CellKey = tuple[str, int, date, str, int]


@dataclass(frozen=True)
class HistoryEvent:
    """One stored timeline event, as much of it as the figures read."""

    kind: str
    at: datetime
    assignment_id: int | None
    data: Mapping[str, object]


@dataclass(frozen=True)
class HistoryAssignment:
    """One assignment with the deadlines stored on it."""

    id: int
    agency_id: int
    assigned_at: datetime
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None


@dataclass(frozen=True)
class ReportHistory:
    """A report's stored history: its region, when it came, its assignments and events (in
    the order they were written)."""

    id: int
    region_id: int
    created_at: datetime
    assignments: tuple[HistoryAssignment, ...]
    events: tuple[HistoryEvent, ...]


def month_of(moment: datetime, timezone: str) -> date:
    """The first day of the month `moment` falls in, in the region's local time."""
    local = moment.astimezone(ZoneInfo(timezone)).date()
    return local.replace(day=1)


def _first(events: Iterable[HistoryEvent], *kinds: EventKind) -> HistoryEvent | None:
    return next((e for e in events if e.kind in kinds), None)


def _instant(value: object) -> datetime | None:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else None
    return None


def answered_on_time(answer: HistoryEvent, assignment: HistoryAssignment) -> bool:
    """A final answer is on time when it came by the deadline in force when it was given (the
    answer's event records it; older events fall back to the deadlines stored on the row)."""
    due = _instant(answer.data.get("due_at"))
    if due is None:
        due = assignment.resolution_due_at or assignment.first_response_due_at
    return due is None or answer.at <= due


class _Cells:
    """The counts one report adds, keyed by cell."""

    def __init__(self) -> None:
        self.counts: Counter[CellKey] = Counter()

    def add(self, scope: Scope, sid: int, month: date, measure: Measure, value: int = 0) -> None:
        self.counts[(scope.value, sid, month, measure.value, value)] += 1


def contributions(report: ReportHistory, cal: WorkingCalendar) -> dict[CellKey, int]:
    """What one report adds to the counts: to its region (the citizen's clock, from
    submission) and to each agency it was sent to (the agency's clock, from assignment).
    Months are the region's local months of submission and of assignment."""
    cells = _Cells()
    events = report.events
    rated = _first(reversed(events), EventKind.REPORT_RATED)
    score = rated.data.get("rating") if rated is not None else None
    score = score if isinstance(score, int) and not isinstance(score, bool) else None
    handed_over = _first(events, EventKind.REPORT_HANDED_OVER)
    cases = {a.id: a for a in report.assignments}
    on_time: dict[int, bool] = {}
    for a in report.assignments:
        on_time.update(_agency_case(cells, a, events, cal, score, handed_over))
    _region_case(cells, report, cal, score, handed_over, on_time, cases)
    return dict(cells.counts)


def _agency_case(
    cells: _Cells,
    a: HistoryAssignment,
    report_events: Sequence[HistoryEvent],
    cal: WorkingCalendar,
    score: int | None,
    handed_over: HistoryEvent | None,
) -> dict[int, bool]:
    """One assignment's counts for its agency; returns {id: on time} if it was answered."""
    mine = [e for e in report_events if e.assignment_id == a.id]
    month = month_of(a.assigned_at, cal.timezone)
    add = partial(cells.add, Scope.AGENCY, a.agency_id, month)
    add(Measure.RECEIVED)
    if _first(mine, EventKind.ASSIGNMENT_ACCEPTED):
        add(Measure.VERIFIED)
    first = _first(mine, EventKind.ASSIGNMENT_FOLLOW_UP, EventKind.ASSIGNMENT_FINAL_FOLLOW_UP)
    if first is not None:
        add(Measure.FIRST_RESPONSE_DAYS, cal.working_days_between(a.assigned_at, first.at))
    answer = _first(mine, EventKind.ASSIGNMENT_FINAL_FOLLOW_UP)
    result: dict[int, bool] = {}
    if answer is not None:
        add(Measure.ANSWERED)
        add(Measure.RESOLUTION_DAYS, cal.working_days_between(a.assigned_at, answer.at))
        result[a.id] = answered_on_time(answer, a)
        if result[a.id]:
            add(Measure.ANSWERED_ON_TIME)
        if score is not None:
            add(Measure.RATING, score)
    let_go = _first(mine, EventKind.ASSIGNMENT_RETURNED, EventKind.ASSIGNMENT_FORWARDED)
    if let_go is not None and let_go.kind == EventKind.ASSIGNMENT_RETURNED:
        add(Measure.RETURNED)
        add(Measure.HELD_DAYS, cal.working_days_between(a.assigned_at, let_go.at))
    # Handed over while this agency still held it (it had not returned or forwarded it).
    if handed_over is not None and (let_go is None or let_go.at > handed_over.at):
        add(Measure.HANDED_OVER)
    _disputes(add, [e for e in mine if e.kind == EventKind.ASSIGNMENT_REOPENED])
    return result


def _region_case(
    cells: _Cells,
    report: ReportHistory,
    cal: WorkingCalendar,
    score: int | None,
    handed_over: HistoryEvent | None,
    on_time: Mapping[int, bool],
    cases: Mapping[int, HistoryAssignment],
) -> None:
    """One report's counts for its region, from its submission."""
    events = report.events
    month = month_of(report.created_at, cal.timezone)
    add = partial(cells.add, Scope.REGION, report.region_id, month)
    since = report.created_at
    add(Measure.RECEIVED)
    if report.assignments or _first(events, EventKind.REPORT_VERIFIED):
        add(Measure.VERIFIED)
    first = _first(events, EventKind.ASSIGNMENT_FOLLOW_UP, EventKind.ASSIGNMENT_FINAL_FOLLOW_UP)
    if first is not None:
        add(Measure.FIRST_RESPONSE_DAYS, cal.working_days_between(since, first.at))
    responded = _first(events, EventKind.REPORT_RESPONDED)
    if responded is not None:
        add(Measure.ANSWERED)
        add(Measure.RESOLUTION_DAYS, cal.working_days_between(since, responded.at))
        # On time when every agency's answer that made it RESPONDED came within its deadline.
        answers = {
            e.assignment_id
            for e in events
            if e.kind == EventKind.ASSIGNMENT_FINAL_FOLLOW_UP
            and e.at <= responded.at
            and e.assignment_id is not None
        }
        if all(on_time.get(aid, True) for aid in answers):
            add(Measure.ANSWERED_ON_TIME)
        if score is not None:
            add(Measure.RATING, score)
    for e in events:
        if e.kind == EventKind.ASSIGNMENT_RETURNED and e.assignment_id is not None:
            if e.assignment_id not in cases:
                continue
            add(Measure.RETURNED)
            held = cal.working_days_between(cases[e.assignment_id].assigned_at, e.at)
            add(Measure.HELD_DAYS, held)
    if handed_over is not None:
        add(Measure.HANDED_OVER)
    _disputes(add, [e for e in events if e.kind == EventKind.REPORT_DISPUTED])


def _disputes(add: Callable[[Measure], None], disputes: Sequence[HistoryEvent]) -> None:
    """A disputed case counts once as disputed, and each of its disputes as a reopening."""
    if disputes:
        add(Measure.DISPUTED)
    for _ in disputes:
        add(Measure.REOPENINGS)


def difference(old: Mapping[CellKey, int], new: Mapping[CellKey, int]) -> dict[CellKey, int]:
    """What to add to the counts to turn `old` contributions into `new` (no zero entries)."""
    delta = {k: new.get(k, 0) - old.get(k, 0) for k in old.keys() | new.keys()}
    return {k: d for k, d in delta.items() if d}


# ----------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    """A month ("2026-03") or a quarter ("2026-Q1"), with its months."""

    label: str
    months: tuple[date, ...]


def parse_period(text: str) -> Period | None:
    """The period a label names, None if it names none (years 2000-2100)."""
    text = text.strip()
    try:
        year_text, part = text.split("-", 1)
        year = int(year_text)
        if len(year_text) != 4 or not 2000 <= year <= 2100:
            return None
        if part[:1] in ("Q", "q") and len(part) == 2:
            quarter = int(part[1])
            if not 1 <= quarter <= 4:
                return None
            first = 3 * (quarter - 1) + 1
            months = tuple(date(year, m, 1) for m in range(first, first + 3))
            return Period(f"{year}-Q{quarter}", months)
        if len(part) != 2:
            return None
        month = int(part)
        if not 1 <= month <= 12:
            return None
    except ValueError:
        return None
    return Period(f"{year}-{month:02d}", (date(year, month, 1),))


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class FairnessRules:
    """A figure over fewer than `min_sample` reports is not rankable; over fewer than
    `small_cell` it is withheld, and a scope that received fewer shows no breakdown at all."""

    min_sample: int
    small_cell: int


@dataclass(frozen=True)
class Figure:
    """One indicator: its value (None when withheld or over nothing), over how many reports,
    and whether it may be ranked."""

    value: float | None
    sample: int
    rankable: bool
    withheld: bool


@dataclass(frozen=True)
class Figures:
    """Every indicator of one scope over one period. Counts are None when withheld."""

    received: int
    withheld: bool  # fewer reports than a small cell: no breakdown
    verified: int | None
    answered: int | None
    answered_on_time: Figure  # share of answered reports answered within the deadline
    first_response_median: Figure
    first_response_p90: Figure
    resolution_median: Figure
    resolution_p90: Figure
    returned: int | None
    held_median: Figure
    handed_over: int | None
    disputed: int | None
    reopenings: int | None
    rating_average: Figure


Histogram = Mapping[int, int]


def percentile(histogram: Histogram, share: float) -> int | None:
    """The nearest-rank percentile of a histogram (a value some report took); None if empty."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(share * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)


def _figure(value: float | None, sample: int, rules: FairnessRules, hidden: bool) -> Figure:
    withheld = hidden or sample < rules.small_cell
    return Figure(
        value=None if withheld else value,
        sample=sample,
        rankable=not withheld and sample >= rules.min_sample and value is not None,
        withheld=withheld,
    )


def figures(counts: Mapping[str, Histogram], rules: FairnessRules) -> Figures:
    """The published figures of one scope from its summed counts (measure -> value -> n)."""

    def total(measure: Measure) -> int:
        return sum(counts.get(measure.value, {}).values())

    def hist(measure: Measure) -> Histogram:
        return {v: n for v, n in counts.get(measure.value, {}).items() if n > 0}

    received = total(Measure.RECEIVED)
    hidden = received < rules.small_cell

    def count(measure: Measure) -> int | None:
        return None if hidden else total(measure)

    def spread(measure: Measure, share: float) -> Figure:
        h = hist(measure)
        found = percentile(h, share)
        return _figure(None if found is None else float(found), sum(h.values()), rules, hidden)

    answered = total(Measure.ANSWERED)
    share = total(Measure.ANSWERED_ON_TIME) / answered if answered else None
    ratings = hist(Measure.RATING)
    rated = sum(ratings.values())
    mean = sum(v * n for v, n in ratings.items()) / rated if rated else None
    return Figures(
        received=received,
        withheld=hidden,
        verified=count(Measure.VERIFIED),
        answered=count(Measure.ANSWERED),
        answered_on_time=_figure(share, answered, rules, hidden),
        first_response_median=spread(Measure.FIRST_RESPONSE_DAYS, 0.5),
        first_response_p90=spread(Measure.FIRST_RESPONSE_DAYS, 0.9),
        resolution_median=spread(Measure.RESOLUTION_DAYS, 0.5),
        resolution_p90=spread(Measure.RESOLUTION_DAYS, 0.9),
        returned=count(Measure.RETURNED),
        held_median=spread(Measure.HELD_DAYS, 0.5),
        handed_over=count(Measure.HANDED_OVER),
        disputed=count(Measure.DISPUTED),
        reopenings=count(Measure.REOPENINGS),
        rating_average=_figure(None if mean is None else round(mean, 2), rated, rules, hidden),
    )


def ranking_key(f: Figures) -> tuple[int, float, int]:
    """Order of a table: rankable shares within the deadline first, best first, then by
    how many reports came (the unrankable last, largest first)."""
    share = f.answered_on_time
    return (0 if share.rankable else 1, -(share.value or 0.0), -f.received)
