"""A report's timeline as a viewer may read it: its lines, pages of them, one line by id."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from domain.actor import Actor
from domain.services.reading import Page, SharedRows, page_size, shared_rows
from domain.services.reports import reports_by_ids
from domain.services.views import (
    EventView,
    ReportView,
    event_view,
)
from models import ReportEvent, rows
from models.rows import EventRow


@dataclass(frozen=True)
class TimelineKey:
    """One `timeline(first:, after:)` request of one report view."""

    report: ReportView
    first: int | None
    after_id: int | None


async def timelines(
    actor: Actor, keys: Sequence[TimelineKey], *, max_size: int
) -> list[Page[EventView]]:
    """Timelines of many reports in a constant number of queries, oldest line first;
    internal desk lines only where the viewer is the report's staff."""
    sizes = [page_size(k.first, max_size, max_size) for k in keys]
    chosen: list[list[EventRow]] = [[] for _ in keys]
    more: list[bool] = [False for _ in keys]
    groups: dict[tuple[bool, int], list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        groups[(k.report.staff_view, k.after_id or 0)].append(i)
    # One statement per kind of reader and position (one for a page of reports, as a rule).
    for (staff, after), group in groups.items():
        found = await _lines(
            staff, sorted({keys[i].report.id for i in group}), after, max(sizes[i] for i in group)
        )
        by_report: dict[int, list[EventRow]] = defaultdict(list)
        for line in found:
            by_report[line.report_id].append(line)
        for i in group:
            lines = by_report[keys[i].report.id]
            chosen[i], more[i] = lines[: sizes[i]], len(lines) > sizes[i]
    hidden = await _hidden_reporters([k.report for k in keys])
    return [
        Page(
            [event_view(line, hidden.get(k.report.id)) for line in chosen[i]],
            more[i],
            k.after_id is not None,
        )
        for i, k in enumerate(keys)
    ]


async def _lines(staff: bool, report_ids: list[int], after: int, size: int) -> list[EventRow]:
    """The first `size` + 1 lines after `after` of each report, oldest first: every line for
    the report's staff, the public ones for others."""
    visible = "" if staff else " AND e.visibility = 'public'"
    return await rows.select(
        rows.EVENT,
        f"SELECT {rows.EVENT.columns} FROM (SELECT {rows.EVENT.columns_of('e')},"
        " row_number() OVER (PARTITION BY e.report_id ORDER BY e.id) AS n FROM report_event e"
        f" WHERE e.report_id = ANY($1::bigint[]) AND e.id > $2{visible}) AS t"
        " WHERE t.n <= $3 ORDER BY t.id",
        report_ids,
        after,
        size + 1,
    )


async def _hidden_reporters(
    reports: Sequence[ReportView], shared: SharedRows | None = None
) -> dict[int, int]:
    """Report id -> reporter id, for the reports whose reporter this viewer must not learn."""
    masked = sorted({r.id for r in reports if r.reporter_id is None})
    if not masked:
        return {}
    found = await shared_rows(shared, ("reporters", *masked), lambda: _reporter_rows(masked))
    return dict(found)


async def _reporter_rows(ids: list[int]) -> list[tuple[Any, ...]]:
    return await rows.pairs("SELECT id, reporter_id FROM report WHERE id = ANY($1::bigint[])", ids)


async def event_by_id(actor: Actor, eid: int, shared: SharedRows | None = None) -> EventView | None:
    """A timeline line the actor may read: its report readable, an internal line only for the
    report's staff, a hidden reporter's line without its actor."""
    row = await shared_rows(shared, ("event", eid), lambda: ReportEvent.get_or_none(id=eid))
    if row is None:
        return None
    reports = await reports_by_ids(actor, [row.report_id], shared)
    report = reports.get(row.report_id)
    if report is None or (row.visibility != "public" and not report.staff_view):
        return None
    hidden = await _hidden_reporters([report], shared)
    return event_view(row, hidden.get(report.id))
