"""A report's timeline, its assignments and their follow-ups answer at once when the request
holds them already (the detail page reads them with the report, schema/loaders.py), and with an
awaitable otherwise, which both executors await: the compiled plan then builds the whole page
in the report's builder. What they answer is the same either way."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from strawberry.dataloader import DataLoader

import schema.assignments  # noqa: F401  (first: schema.reports is imported through it)
from domain.services import report_page, reports
from domain.services.report_page import Ahead
from domain.services.timeline import TimelineKey
from domain.services.views import event_views
from models import ReportEvent, rows
from schema.loaders import Loaders
from schema.reports import Report
from tests.app_fixtures import DEMO_VIEWERS
from tests.factories import actor_for, new_complaint
from tests.statements import StatementLog, counting

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


async def test_held_answers_come_at_once_and_others_later_alike(db: str) -> None:
    report = await new_complaint(NOW)
    actor = await actor_for(DEMO_VIEWERS["reporter"])
    view = await reports.readable_report(actor, report.id)
    loaders = Loaders(actor, 100)
    info: Any = SimpleNamespace(context=SimpleNamespace(loaders=loaders))
    key = TimelineKey(view, 20, None)
    assert loaders.held_timeline(key) is None  # no loader made yet

    later = Report.of(view).timeline(info, first=20)
    assert inspect.isawaitable(later)
    loaded = await later
    assert loaders.held_timeline(key) is not None
    at_once = Report.of(view).timeline(info, first=20)
    assert not inspect.isawaitable(at_once)
    assert [e.node.id for e in at_once.edges] == [e.node.id for e in loaded.edges]
    assert len(loaded.edges) == 1  # its submission

    later_list = Report.of(view).assignments(info)
    assert inspect.isawaitable(later_list)
    assert await later_list == []  # not forwarded yet
    assert Report.of(view).assignments(info) == []  # now held: a list, at once


async def test_a_load_that_failed_or_is_under_way_is_not_held(db: str) -> None:
    actor = await actor_for(DEMO_VIEWERS["reporter"])
    loaders = Loaders(actor, 100)
    loop = asyncio.get_running_loop()
    failed: asyncio.Future[Any] = loop.create_future()
    failed.set_exception(RuntimeError("the database went away"))
    waiting: asyncio.Future[Any] = loop.create_future()
    loaders.follow_ups.cache_map.set(1, failed)
    loaders.follow_ups.cache_map.set(2, waiting)
    loaders.follow_ups.prime(3, [])
    assert loaders.held_follow_ups(1) is None
    assert loaders.held_follow_ups(2) is None
    assert loaders.held_follow_ups(3) == []
    assert loaders.held_follow_ups(4) is None
    failed.exception()  # retrieved: no "never retrieved" warning
    waiting.cancel()
    assert loaders.held_follow_ups(2) is None


async def test_a_detail_page_is_held_without_its_loaders_and_they_answer_from_it(
    db: str, sql_log: StatementLog
) -> None:
    """What the detail page read with its report is kept in the request's loaders as it is:
    no loader is made for it (each would make a future per key), and a loader asked for a held
    key later (the generic executor asks them) answers it without a statement."""
    report = await new_complaint(NOW)
    actor = await actor_for(DEMO_VIEWERS["reporter"])
    ahead = Ahead().asking(
        100, assignments=True, follow_ups=True, timeline=True, first_pages=[20, None]
    )
    page = await report_page.report_page(actor, report.tracking_code, ahead)
    assert page is not None and page.assignments == [] and page.lines is not None
    loaders = Loaders(actor, 100)
    await loaders.hold_report_page(page)
    assert [name for name, value in vars(loaders).items() if isinstance(value, DataLoader)] == []
    first_page = TimelineKey(page.report, 20, None)
    assignments_key = (page.report.id, page.report.staff_view)
    held = loaders.held_timeline(first_page)
    assert held is not None and [e.kind for e in held.items] == ["report.submitted"]
    assert loaders.held_timeline(TimelineKey(page.report, None, None)) is not None
    assert loaders.held_assignments(assignments_key) == []
    with counting(sql_log):
        assert await loaders.timeline.load(first_page) is held
        assert await loaders.assignments_of_report.load(assignments_key) == []
    assert sql_log.count == 0
    # A page it does not hold is read as before.
    with counting(sql_log):
        later = await loaders.timeline.load(TimelineKey(page.report, 5, held.items[0].id))
    assert later.items == [] and sql_log.count == 1


async def test_a_detail_page_holds_its_lines_as_read_and_they_show_as_rows(db: str) -> None:
    """The first lines a detail page holds are the records its statement read, no row made of
    each: position for position the rows a timeline reads on its own, which make the same
    views (the reporter's own line and an internal one among them)."""
    report = await new_complaint(NOW)
    for n, visibility in enumerate(("public", "internal", "public")):
        await ReportEvent.create(
            report_id=report.id,
            kind="report.note",
            message=f"line {n}",
            actor_id=report.reporter_id if n == 2 else None,
            visibility=visibility,
            at=NOW + timedelta(minutes=n + 1),
        )
    ahead = Ahead().asking(100, timeline=True, first_pages=[None])
    actor = await actor_for(DEMO_VIEWERS["reporter"])  # (the public cannot read it yet)
    page = await report_page.report_page(actor, report.tracking_code, ahead)
    assert page is not None and page.lines is not None
    held = page.lines.lines
    read = await rows.select(
        rows.EVENT,
        f"SELECT {rows.EVENT.columns} FROM report_event"
        " WHERE report_id = $1 AND visibility = 'public' ORDER BY id",
        report.id,
    )
    assert [line.message for line in read][1:] == ["line 0", "line 2"]
    assert len(held) == len(read) == 3 and all(type(line) is not rows.EventRow for line in held)
    assert [tuple(line) for line in held] == [tuple(row) for row in read]
    hidden = page.lines.hidden_reporter_id
    assert event_views(held, page.report, hidden) == event_views(read, page.report, hidden)
