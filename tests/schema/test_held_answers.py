"""A report's timeline, its assignments and their follow-ups answer at once when the request
holds them already (the detail page reads them with the report, schema/loaders.py), and with an
awaitable otherwise, which both executors await: the compiled plan then builds the whole page
in the report's builder. What they answer is the same either way."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import schema.assignments  # noqa: F401  (first: schema.reports is imported through it)
from domain.services import reports
from domain.services.timeline import TimelineKey
from schema.loaders import Loaders
from schema.reports import Report
from tests.app_fixtures import DEMO_VIEWERS
from tests.factories import actor_for, new_complaint

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
