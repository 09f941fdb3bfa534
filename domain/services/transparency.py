"""Transparency (issue 16): the public figures of each agency and region, kept current by the
workers from the events, rebuilt from scratch on demand, read in O(agencies); and the
coordinator's view of their agencies' overdue work now (docs/adr/0027).

Every report's contribution to the counts is recomputed from its stored history
(`domain/transparency.py`) and applied as the difference from what it contributed before,
under a lock of that report's contribution row: running it twice, or by two workers at once,
changes nothing more.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.functions import Count, Min
from tortoise.transactions import in_transaction

from core.settings import get_settings
from domain.actor import Actor
from domain.calendar import WorkingCalendar
from domain.errors import DomainError, ErrorCode, invalid, not_found
from domain.events import EventKind
from domain.lifecycle import OPEN_ASSIGNMENT
from domain.policy import oversees_region, require_signed_in
from domain.services import reference
from domain.services.common import require_aware
from domain.services.deadlines import overdue_filter
from domain.transparency import (
    CellKey,
    FairnessRules,
    Figures,
    HistoryAssignment,
    HistoryEvent,
    Period,
    ReportHistory,
    Scope,
    contributions,
    difference,
    figures,
    parse_period,
    ranking_key,
)
from models import Assignment, perf
from models.enums import RegionLevel

# The kinds of events any figure reads; the rest of a timeline changes none.
READ_KINDS = tuple(
    k.value
    for k in (
        EventKind.REPORT_VERIFIED,
        EventKind.REPORT_RESPONDED,
        EventKind.REPORT_DISPUTED,
        EventKind.REPORT_RATED,
        EventKind.REPORT_HANDED_OVER,
        EventKind.ASSIGNMENT_ACCEPTED,
        EventKind.ASSIGNMENT_FOLLOW_UP,
        EventKind.ASSIGNMENT_FINAL_FOLLOW_UP,
        EventKind.ASSIGNMENT_RETURNED,
        EventKind.ASSIGNMENT_FORWARDED,
        EventKind.ASSIGNMENT_REOPENED,
    )
)


def fairness_rules() -> FairnessRules:
    """The minimum sample and the small cell, from settings."""
    s = get_settings()
    return FairnessRules(s.transparency_min_sample, s.transparency_small_cell)


def _history(stored: perf.StoredHistory) -> ReportHistory:
    r = stored.report
    return ReportHistory(
        id=int(r["id"]),
        region_id=int(r["region_id"]),
        created_at=r["created_at"],
        assignments=tuple(
            HistoryAssignment(
                id=int(a["id"]),
                agency_id=int(a["agency_id"]),
                assigned_at=a["assigned_at"],
                first_response_due_at=a["first_response_due_at"],
                resolution_due_at=a["resolution_due_at"],
            )
            for a in stored.assignments
        ),
        events=tuple(
            HistoryEvent(e["kind"], e["at"], e["assignment_id"], e["data"]) for e in stored.events
        ),
    )


async def refresh(report_ids: Sequence[int], now: datetime) -> int:
    """Bring the counts in step with these reports' histories, in the caller's transaction:
    lock their contribution rows, recompute, apply the differences. Returns the cells changed."""
    old = await perf.lock_sources(report_ids)
    new: dict[int, dict[CellKey, int]] = {rid: {} for rid in old}  # a report gone counts nothing
    # Once per region and batch: a command runs without the change feed, whose caches would
    # then read the database for every report.
    calendars: dict[int, WorkingCalendar] = {}
    for stored in await perf.histories(report_ids, READ_KINDS):
        history = _history(stored)
        cal = calendars.get(history.region_id)
        if cal is None:
            cal = calendars[history.region_id] = await reference.calendar_for(history.region_id)
        new[history.id] = contributions(history, cal)
    deltas: dict[CellKey, int] = defaultdict(int)
    for rid, cells in new.items():
        for key, d in difference(old.get(rid, {}), cells).items():
            deltas[key] += d
    changed = {k: d for k, d in deltas.items() if d}
    await perf.apply_deltas(changed)
    await perf.save_sources({rid: new[rid] for rid in new if new[rid] != old.get(rid)}, now)
    return len(changed)


async def catch_up(now: datetime, batch: int | None = None, rounds: int = 1000) -> int:
    """Fold the reports whose history changed into the counts, a batch per transaction, until
    none is left (at most `rounds` batches). Returns how many reports were refreshed."""
    require_aware(now)
    size = batch or get_settings().transparency_batch_size
    done = 0
    for _ in range(rounds):
        async with in_transaction():
            ids = await perf.claim_dirty(size)
            if not ids:
                break
            await refresh(ids, now)
        done += len(ids)
    return done


@dataclass(frozen=True)
class Progress:
    """How far a rebuild is: reports done of the total, per second, seconds left."""

    done: int
    total: int
    rate: float
    seconds_left: float | None


async def rebuild(
    now: datetime, batch: int | None = None, progress: Callable[[Progress], None] | None = None
) -> int:
    """Recompute every count from scratch, in one transaction: readers see the old figures
    until it commits, and the workers' folding waits for it (then finds nothing to change).
    Returns how many reports were counted."""
    require_aware(now)
    size = batch or get_settings().transparency_batch_size
    started = time.monotonic()
    async with in_transaction() as connection:
        # Writers of the counts wait; readers do not (EXCLUSIVE lets plain SELECTs through).
        await connection.execute_query("LOCK TABLE perf_source, perf_cell IN EXCLUSIVE MODE")
        await perf.clear()
        total = await perf.report_count()
        done, after = 0, 0
        while ids := await perf.report_ids_after(after, size):
            await refresh(ids, now)
            done, after = done + len(ids), ids[-1]
            if progress is not None:
                elapsed = max(time.monotonic() - started, 1e-9)
                rate = done / elapsed
                left = max(total - done, 0) / rate if rate > 0 else None
                progress(Progress(done, max(total, done), rate, left))
    return done


# ----------------------------------------------------------------------------- reading


def period_of(text: str) -> Period:
    """The period a client named, or VALIDATION naming `period`."""
    found = parse_period(text)
    if found is None:
        raise invalid("period", 'a month "2026-03" or a quarter "2026-Q1", years 2000-2100')
    return found


@dataclass(frozen=True)
class ScopeFigures:
    """The figures of one agency or region (None: the nation) over a period."""

    scope_id: int | None
    figures: Figures


def _summed(
    rows: Sequence[tuple[int, str, int, int]], ids: Sequence[int]
) -> dict[int, dict[str, dict[int, int]]]:
    counts: dict[int, dict[str, dict[int, int]]] = {i: defaultdict(dict) for i in ids}
    for sid, measure, value, n in rows:
        if sid in counts:
            bucket = counts[sid][measure]
            bucket[value] = bucket.get(value, 0) + n
    return counts


async def agency_performance(period: Period, region_id: int | None) -> list[ScopeFigures]:
    """Every agency of a region (all agencies without one), with its figures over the period,
    ranked (`domain.transparency.ranking_key`). Reads O(agencies) cells."""
    if region_id is not None and await reference.region(region_id) is None:
        raise not_found("region", "regionId")
    agencies = [
        a
        for a in await reference.agencies_in(region_id)
        if region_id is None or a.region_id == region_id
    ]
    ids = [a.id for a in agencies]
    rows = await perf.read_cells(Scope.AGENCY.value, period.months, ids)
    rules = fairness_rules()
    found = [ScopeFigures(i, figures(c, rules)) for i, c in _summed(rows, ids).items()]
    return sorted(found, key=lambda s: ranking_key(s.figures))


@dataclass(frozen=True)
class RegionTable:
    """The nation's figures and each regency's and city's, ranked, over a period."""

    period: Period
    national: Figures
    regions: list[ScopeFigures]


async def region_performance(period: Period) -> RegionTable:
    """The national figures (every region summed) and each regency's and city's."""
    regions = [r for r in await reference.all_regions() if r.level is not RegionLevel.PROVINCE]
    ids = [r.id for r in regions]
    rows = await perf.read_cells(Scope.REGION.value, period.months, None)
    rules = fairness_rules()
    nation: dict[str, dict[int, int]] = defaultdict(dict)
    for _, measure, value, n in rows:
        nation[measure][value] = nation[measure].get(value, 0) + n
    found = [ScopeFigures(i, figures(c, rules)) for i, c in _summed(rows, ids).items()]
    return RegionTable(
        period, figures(nation, rules), sorted(found, key=lambda s: ranking_key(s.figures))
    )


# ------------------------------------------------------------------- the coordinator's view


@dataclass(frozen=True)
class AgencyBacklog:
    """An agency's open work on a region's reports now: how much, how much is overdue, and
    the earliest deadline among it."""

    agency_id: int
    open: int
    overdue: int
    earliest_due_at: datetime | None


async def overdue_ranking(actor: Actor, now: datetime, region_id: int) -> list[AgencyBacklog]:
    """The region's agencies (and any other agency holding its reports), most overdue work
    first: for the region's coordinators and the superadmin."""
    require_aware(now)
    require_signed_in(actor)
    if await reference.region(region_id) is None:
        raise not_found("region", "regionId")
    if not oversees_region(actor, region_id):
        raise DomainError(ErrorCode.FORBIDDEN, "only the region's coordinators see this")
    open_work = Assignment.filter(
        report__region_id=region_id, status__in=[s.value for s in OPEN_ASSIGNMENT]
    )
    late = overdue_filter(True, now)
    assert late is not None
    totals = await (
        open_work.group_by("agency_id")
        .annotate(n=Count("id"), earliest=Min("due_at"))
        .values("agency_id", "n", "earliest")
    )
    overdue = await (
        open_work.filter(late)
        .group_by("agency_id")
        .annotate(n=Count("id"))
        .values("agency_id", "n")
    )
    late_by_agency = {int(r["agency_id"]): int(r["n"]) for r in overdue}
    backlog = {
        int(r["agency_id"]): AgencyBacklog(
            int(r["agency_id"]),
            int(r["n"]),
            late_by_agency.get(int(r["agency_id"]), 0),
            r["earliest"],
        )
        for r in totals
    }
    for agency in await reference.agencies_in(region_id):
        if agency.region_id == region_id and agency.id not in backlog:
            backlog[agency.id] = AgencyBacklog(agency.id, 0, 0, None)
    return sorted(backlog.values(), key=lambda b: (-b.overdue, -b.open, b.agency_id))
