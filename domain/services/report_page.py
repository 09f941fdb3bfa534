"""One report by its tracking code with what its page shows next, in one statement: the
report's assignments (with their follow-ups) and its first public lines, as array columns.

The page asks for what its selection shows (`Ahead`); the views are made from the rows by the
same functions as when each is read on its own, so no rule moves into SQL. The public lines
are read before the viewer's view of the report says whether they are its staff: they are the
timeline of anyone who is not (`timeline.HeldLines`); a staff viewer's timeline, which has the
internal lines too, is read on its own as before.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from domain.actor import Actor
from domain.services import assignments, reports
from domain.services.common import FACT_COLUMNS, report_and_facts
from domain.services.timeline import HeldLines, first_page_lines, public_lines_of_each_report
from domain.services.views import AssignmentView, FollowUpView, ReportView
from domain.tracking import normalize_tracking_code
from models import rows


class Ahead(NamedTuple):
    """What to read with the report: its assignments (with their follow-ups); for its
    timeline, who a hidden reporter is, and the public lines that answer first pages of these
    sizes (None: the default), `lines` of them (none when 0). A named tuple: a detail page
    makes one for each of its selection's asks (a frozen dataclass sets each field through
    `object.__setattr__`)."""

    assignments: bool = False
    follow_ups: bool = False
    timeline: bool = False
    first_pages: frozenset[int | None] = frozenset()
    lines: int = 0

    def asking(
        self,
        max_size: int,
        *,
        assignments: bool = False,
        follow_ups: bool = False,
        timeline: bool = False,
        first_pages: Iterable[int | None] = (),
    ) -> Ahead:
        """This, asking for more too (timeline pages of at most `max_size` lines)."""
        pages, lines = self.first_pages, self.lines
        if first_pages:  # (a page's asks come one by one, most of them for no timeline)
            pages = pages.union(first_pages)
            lines = max(first_page_lines(first, max_size) for first in pages)
        # By position, as the views are made (domain/services/views.py): NamedTuple's own
        # __new__ is a Python call, and a detail page asks three times.
        return _made(
            Ahead,
            (
                self.assignments or assignments,
                self.follow_ups or follow_ups,
                self.timeline or timeline,
                pages,
                lines,
            ),
        )


_made = tuple.__new__
# Nothing asked for yet: what a request starts from, and goes back to once a report took it.
NOTHING_AHEAD = Ahead()


@dataclass
class ReportPage:
    """A readable report, and what was read with it (None where it was not asked for)."""

    report: ReportView
    assignments: list[AssignmentView] | None
    follow_ups: dict[int, list[FollowUpView]] | None
    lines: HeldLines | None
    ahead: Ahead


@functools.cache
def _statement(shape: rows.Shape, assignments_too: bool, follow_ups: bool, lines: bool) -> str:
    """The page's statement for what it reads (the report by its code, $1; as many first public
    lines as $2 when `lines`): made once for each, as a page asks on every request."""
    columns = [report_and_facts(shape)]
    if assignments_too:
        columns.append(assignments.assignments_of_each_report(follow_ups))
    if lines:
        columns.append(public_lines_of_each_report("$2"))
    return f"SELECT {', '.join(columns)} FROM report r WHERE r.tracking_code = $1"


async def report_page(actor: Actor, code: str, ahead: Ahead) -> ReportPage | None:
    """The report with this code if the actor may read it, with what `ahead` asks for; None
    otherwise (never tells which)."""
    canonical = normalize_tracking_code(code)
    if canonical is None:
        return None
    shape = rows.REPORT.as_shown()
    sql = _statement(shape, ahead.assignments, ahead.follow_ups, bool(ahead.lines))
    params = (canonical, ahead.lines) if ahead.lines else (canonical,)
    found = await rows.select_with(shape, sql, *params)
    if not found:
        return None
    row, more = found[0]
    facts, read_with = more[:FACT_COLUMNS], iter(more[FACT_COLUMNS:])
    view = reports.readable_in(actor, [(row, facts)]).get(row.id)
    if view is None:
        return None
    page = ReportPage(view, None, None, None, ahead)
    if ahead.assignments:
        assigned = rows.ASSIGNMENT.take_all(next(read_with))
        page.assignments = assignments.views_of_report(
            [a for a, _ in assigned], view.id, view.staff_view
        )
        page.follow_ups = assignments.follow_ups_of(assigned) if ahead.follow_ups else None
    if ahead.timeline:
        hidden = row.reporter_id if view.reporter_id is None else None
        # The lines as read: no row made of each (models/rows.py, `EventLine`).
        lines = next(read_with) if ahead.lines else []
        page.lines = HeldLines(lines, ahead.lines, hidden)
    return page


async def report_by_tracking_code(actor: Actor, code: str) -> ReportView | None:
    """The report with this code if the actor may read it; None otherwise (never tells which)."""
    page = await report_page(actor, code, NOTHING_AHEAD)
    return page.report if page is not None else None
