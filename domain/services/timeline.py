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
    chosen: list[list[int]] = [[] for _ in keys]
    more: list[bool] = [False for _ in keys]
    for staff in (True, False):
        group = [i for i, k in enumerate(keys) if k.report.staff_view is staff]
        if not group:
            continue
        # Staff read every line; others the public ones only.
        visible = "" if staff else " AND visibility = 'public'"
        found = await rows.pairs(
            "SELECT report_id, id FROM report_event WHERE report_id = ANY($1::bigint[])"
            f"{visible} ORDER BY id",
            sorted({keys[i].report.id for i in group}),
        )
        by_report: dict[int, list[int]] = defaultdict(list)
        for report_id, event_id in found:
            by_report[report_id].append(event_id)
        for i in group:
            after = keys[i].after_id
            ids = [e for e in by_report[keys[i].report.id] if after is None or e > after]
            chosen[i], more[i] = ids[: sizes[i]], len(ids) > sizes[i]
    all_ids = sorted({e for ids in chosen for e in ids})
    events = (
        {
            e.id: e
            for e in await rows.select(rows.EVENT, rows.by_ids(rows.EVENT, "report_event"), all_ids)
        }
        if all_ids
        else {}
    )
    hidden = await _hidden_reporters([k.report for k in keys])
    return [
        Page(
            [event_view(events[e], hidden.get(k.report.id)) for e in chosen[i]],
            more[i],
            k.after_id is not None,
        )
        for i, k in enumerate(keys)
    ]


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
