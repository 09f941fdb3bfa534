"""A report's timeline as a viewer may read it: its lines, pages of them, one line by id."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from domain.actor import Actor
from domain.errors import DomainError, not_found
from domain.messages import DEFAULT_LOCALE, text
from domain.policy import Desk, desk_of
from domain.services import reference
from domain.services.accounts import Person, people
from domain.services.reading import Page, SharedRows, page_size, shared_rows
from domain.services.reports import reports_by_ids
from domain.services.views import (
    EventView,
    ReportView,
    event_view,
    event_views,
)
from models import Agency, rows
from models.rows import EventLine, EventRow


@dataclass(frozen=True)
class TimelineKey:
    """One `timeline(first:, after:)` request of one report view."""

    report: ReportView
    first: int | None
    after_id: int | None

    def __hash__(self) -> int:
        # By the report's id, not its whole view (a tuple of some twenty fields, hashed each
        # time a page is held or looked up); equal keys have equal ids.
        return hash((self.report.id, self.first, self.after_id))


async def timelines(
    actor: Actor,
    keys: Sequence[TimelineKey],
    *,
    max_size: int,
    held: dict[int, HeldLines] | None = None,
) -> list[Page[EventView]]:
    """Timelines of many reports in a constant number of queries, oldest line first;
    internal desk lines only where the viewer is the report's staff, none for a withheld
    report (the record a desk keeps of a report it let go). Lines `held` (read with their
    report) answer the keys they can without a query."""
    held = held or {}
    sizes = [page_size(k.first, max_size, max_size) for k in keys]
    chosen: list[list[EventRow]] = [[] for _ in keys]
    more: list[bool] = [False for _ in keys]
    answered: dict[int, Page[EventView]] = {}
    groups: dict[tuple[bool, int], list[int]] = defaultdict(list)
    hidden: dict[int, int] = {}
    for i, k in enumerate(keys):
        if k.report.withheld:  # a desk's record of a report it let go: no lines
            continue
        read_with = held.get(k.report.id)
        if read_with is not None:
            page = held_page(k, read_with, max_size)
            if page is not None:
                answered[i] = page
                continue
            if read_with.hidden_reporter_id is not None:
                hidden[k.report.id] = read_with.hidden_reporter_id
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
    # Who a hidden reporter is was read with the report's lines, where they were.
    unread = [keys[i].report for g in groups.values() for i in g if keys[i].report.id not in held]
    hidden.update(await _hidden_reporters(unread))
    return [
        answered.get(i)
        or Page(
            event_views(chosen[i], k.report, hidden.get(k.report.id)),
            more[i],
            k.after_id is not None,
        )
        for i, k in enumerate(keys)
    ]


def first_page_lines(first: int | None, max_size: int) -> int:
    """How many public lines answer a first page of `first` lines and tell whether more
    follow: a page and one; none when `first` is refused (the field reports it as it reads)."""
    size = _size_or_none(first, max_size)
    return 0 if size is None else size + 1


def held_page(key: TimelineKey, held: HeldLines, max_size: int) -> Page[EventView] | None:
    """The first page of `key`'s timeline from the lines `held` with its report; None when
    they cannot tell it (`HeldLines.page`) or its `first` is refused."""
    size = _size_or_none(key.first, max_size)
    found = held.page(key, size) if size is not None else None
    if found is None:
        return None
    lines, more = found
    return Page(event_views(lines, key.report, held.hidden_reporter_id), more, False)


def _size_or_none(first: int | None, max_size: int) -> int | None:
    try:
        return page_size(first, max_size, max_size)
    except DomainError:
        return None


# The lines of a report everyone who reads it may read (as `e`); its staff read every line.
_PUBLIC = "e.visibility = 'public'"


def public_lines_of_each_report(limit: str) -> str:
    """Each report's first `limit` public lines (as `r`; `limit` a parameter), oldest first,
    as an array of rows: a column of a report's statement (`HeldLines`)."""
    return (
        f"ARRAY(SELECT {rows.EVENT.typed_row('e')} FROM report_event e"
        f" WHERE e.report_id = r.id AND {_PUBLIC} ORDER BY e.id LIMIT {limit})"
    )


@dataclass(frozen=True)
class HeldLines:
    """A report's first public lines, read with the report (`public_lines_of_each_report`):
    its timeline for any viewer who is not its staff, while `lines` holds more than a page
    asks for or all there are (fewer than `limit`; none were read when it is 0), as the
    records they were read as (`EventLine`). `hidden_reporter_id` is its reporter when the
    viewer may not know them (`_hidden_reporters`), from the report's own row."""

    lines: Sequence[EventLine]
    limit: int
    hidden_reporter_id: int | None

    def page(self, key: TimelineKey, size: int) -> tuple[Sequence[EventLine], bool] | None:
        """The key's first page and whether more follow; None when these lines cannot tell."""
        if not self.limit or key.after_id is not None or key.report.staff_view:
            return None  # none read, not a first page, or one with the internal lines
        if key.report.withheld or size >= len(self.lines) >= self.limit:
            return None  # no lines at all, or more than were read
        return self.lines[:size], len(self.lines) > size


async def _lines(staff: bool, report_ids: list[int], after: int, size: int) -> list[EventRow]:
    """The first `size` + 1 lines after `after` of each report, oldest first: every line for
    the report's staff, the public ones for others."""
    visible = "" if staff else f" AND {_PUBLIC}"
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


async def watched_event(
    actor: Actor, report_id: int, eid: int, shared: SharedRows | None = None
) -> EventView | None:
    """A line of a report's timeline that `actor` watches live, as `event_by_id` reads it (None
    when the line is not for this viewer); NOT_FOUND once the actor may no longer read the
    report (its agency let it go): the watch ends there, access follows current involvement."""
    if report_id not in await reports_by_ids(actor, [report_id], shared):
        raise not_found("report", "reportId")
    return await event_by_id(actor, eid, shared)


async def event_by_id(actor: Actor, eid: int, shared: SharedRows | None = None) -> EventView | None:
    """A timeline line the actor may read: its report readable, an internal line only for the
    report's staff, a hidden reporter's line without its actor."""
    found = await shared_rows(shared, ("event", eid), lambda: _event_rows([eid]))
    if not found:
        return None
    (row,) = found
    reports = await reports_by_ids(actor, [row.report_id], shared)
    report = reports.get(row.report_id)
    if report is None or (row.visibility != "public" and not report.staff_view):
        return None
    hidden = await _hidden_reporters([report], shared)
    return event_view(row, report, hidden.get(report.id))


async def _event_rows(ids: list[int]) -> list[EventRow]:
    return await rows.select(rows.EVENT, rows.by_ids(rows.EVENT), ids)


async def acted_as(views: Sequence[EventView]) -> list[str | None]:
    """The desk each line was written as, by name, for everyone who may read the line: "Pelapor",
    "Koordinator <region>", the agency's name or "Ombudsman" (policy.desk_of); None for the
    system. An officer's desk is the agency the line is about (or its parent, which forwarded
    it), else one of theirs."""
    authors = await people({v.actor_id for v in views if v.actor_id is not None})
    lines_about = sorted({v.assignment_id for v in views if v.assignment_id is not None})
    about: dict[int, int] = dict(  # assignment id -> its agency
        await rows.pairs(
            "SELECT id, agency_id FROM assignment WHERE id = ANY($1::bigint[])", lines_about
        )
        if lines_about
        else []
    )
    agency_ids = set(about.values()) | {a for p in authors.values() for a in p.actor.agencies}
    agencies = await reference.agencies(agency_ids)
    agencies |= await reference.agencies({a.parent_id for a in agencies.values() if a.parent_id})
    regions = await reference.regions({v.region_id for v in views})

    def name(view: EventView) -> str | None:
        author = authors.get(view.actor_id) if view.actor_id is not None else None
        desk = desk_of(view.by_reporter, author.roles if author else None)
        if desk is Desk.COORDINATOR:
            return text(DEFAULT_LOCALE, "desk.coordinator").format(
                region=regions[view.region_id].name
            )
        if desk is Desk.AGENCY:
            line = about.get(view.assignment_id) if view.assignment_id is not None else None
            return _agency_desk(author, line, agencies)
        return text(DEFAULT_LOCALE, f"desk.{desk}") if desk is not None else None

    return [name(v) for v in views]


def _agency_desk(
    author: Person | None, about: int | None, agencies: dict[int, Agency]
) -> str | None:
    """The name of the agency desk an officer or head wrote as, the line being about an
    assignment of agency `about` (see `acted_as`)."""
    theirs = author.actor.agencies if author else frozenset()
    line = agencies.get(about) if about is not None else None
    for candidate in (line, agencies.get(line.parent_id) if line and line.parent_id else None):
        if candidate is not None and candidate.id in theirs:
            return candidate.name
    if theirs:
        return agencies[min(theirs)].name
    return line.name if line else None
