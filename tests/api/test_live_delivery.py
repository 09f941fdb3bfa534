"""Live subscriptions deliver: an inbox, a report's timeline and a user's notifications get
what happens as it happens, each event read afresh and masked for each viewer, and a client
back from a break catches up (tests/api/live_server.py serves the app in this process).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis

import schema.context as context_module
from core.channels import NotificationsMessage
from domain.actor import Actor
from domain.services import assignments
from domain.services.assignments import InboxDesk
from domain.services.reading import SharedRows
from models import Notification, ReportEvent, User
from models.enums import Channel
from schema.ids import to_global_id
from schema.loaders import Loaders
from tests.api.live_server import INBOX, MAWAR, TIMELINE, Live, submitted, until, verified
from tests.app_fixtures import People, agency_gid, pk
from tests.factories import ACCEPT, ASSIGN, FOLLOW_UP, RETURN, SUPPORT, ok, submit, verify
from tests.statements import StatementLog, counting

T = TypeVar("T")

NOTIFIED = "subscription { notificationAdded { id kind message read report { id } } }"
CATCH_UP = """query($a: ID!, $since: DateTime) {
  inbox(agencyId: $a, updatedAfter: $since) { edges { node { id status } } } }"""


async def test_an_officer_sees_the_inbox_change_as_it_happens(live: Live, people: People) -> None:
    officer = await live.connect(people["officer"])
    await officer.subscribe("inbox", INBOX, {"a": await agency_gid("DINKES")})
    await until(lambda: live.hub.subscriber_count == 1)
    report = await submitted(live, people)
    (assignment,) = await verified(live, people, report, "DINKES")
    await officer.wait_for(lambda: len(officer.data("inbox")) == 1, what="assignment.created")
    await ok(live.as_(people["officer"]), ACCEPT, id=assignment, tier="SIMPLE")
    await ok(
        live.as_(people["officer"]), FOLLOW_UP, id=assignment, final=True, resolution="RESOLVED"
    )
    await officer.wait_for(lambda: len(officer.data("inbox")) == 3, what="accepted, responded")
    events = [d["inboxEvents"] for d in officer.data("inbox")]
    assert [e["kind"] for e in events] == [
        "assignment.created",
        "assignment.accepted",
        "assignment.final_follow_up",
    ]
    assert {e["assignment"]["id"] for e in events} == {assignment}
    # Each event is read with fresh loaders: the report's status is not the first event's.
    assert [e["assignment"]["report"]["status"] for e in events] == [
        "IN_PROGRESS",
        "IN_PROGRESS",
        "RESPONDED",
    ]
    assert [e["assignment"]["status"] for e in events] == ["PENDING", "ACCEPTED", "RESPONDED"]
    await officer.close()


async def test_an_inbox_shows_only_its_own_agency(live: Live, people: People) -> None:
    officer = await live.connect(people["officer"])
    await officer.subscribe("inbox", INBOX, {"a": await agency_gid("DINKES")})
    await until(lambda: live.hub.subscriber_count == 1)
    other = await submitted(live, people)
    await verified(live, people, other, "DPUPR")
    mine = await submitted(live, people)
    (assignment,) = await verified(live, people, mine, "DINKES")
    await officer.wait_for(lambda: len(officer.data("inbox")) >= 1)
    await asyncio.sleep(0.3)
    assert [d["inboxEvents"]["assignment"]["id"] for d in officer.data("inbox")] == [assignment]
    await officer.close()


async def unheard_assignment(live: Live, people: People, code: str) -> int:
    """The id of an assignment.created event this process never heard of: verified through the
    other app (`people`'s), whose dispatcher has no Redis."""
    report = await submitted(live, people, anonymous=True)
    await verify(people["coordinator"], report, code)
    return (await ReportEvent.get(report_id=pk(report), kind="assignment.created")).id


async def announce(redis_url: str, event_id: int, agency: str) -> None:
    """Publish an event as the dispatcher does, naming the given agency (a global id)."""
    message = {"topic": "report.event", "event_id": event_id, "report_id": 1}
    async with aioredis.from_url(redis_url) as redis:
        await redis.publish("lapor:events", json.dumps({**message, "agency_id": pk(agency)}))


async def test_an_inbox_trusts_the_database_not_the_message(
    live: Live, people: People, redis_url: str
) -> None:
    dinkes = await agency_gid("DINKES")
    officer = await live.connect(people["officer"])
    await officer.subscribe("inbox", INBOX, {"a": dinkes})
    await until(lambda: live.hub.subscriber_count == 1)
    await announce(redis_url, await unheard_assignment(live, people, "DPUPR"), dinkes)
    await announce(redis_url, await unheard_assignment(live, people, "DINKES"), dinkes)
    await officer.wait_for(lambda: len(officer.messages["inbox"]) >= 1)
    await asyncio.sleep(0.3)
    assert len(officer.data("inbox")) == 1  # the DINKES one only


async def test_the_subscribers_of_an_event_share_its_reads_not_its_views(
    live: Live, people: People, redis_url: str, sql_log: StatementLog
) -> None:
    desks = ("officer", "head", "coordinator")
    dinkes = await agency_gid("DINKES")

    async def statements_for(subscribers: int) -> int:
        clients = [await live.connect(people[desks[i % 3]]) for i in range(subscribers)]
        for client in clients:
            await client.subscribe("inbox", INBOX, {"a": dinkes})
        await until(lambda: live.hub.subscriber_count == subscribers)
        event_id = await unheard_assignment(live, people, "DINKES")
        with counting(sql_log):
            await announce(redis_url, event_id, dinkes)
            for client in clients:
                await client.wait_for(lambda c=client: len(c.data("inbox")) == 1)
        reporters = [c.data("inbox")[0]["inboxEvents"]["assignment"]["report"] for c in clients]
        # Masked per viewer all the same: only the coordinator desk knows who reported.
        assert [r["reporter"] is not None for r in reporters] == [
            desks[i % 3] == "coordinator" for i in range(subscribers)
        ]
        for client in clients:
            await client.close()
        await until(lambda: live.hub.connection_count == 0)
        return sql_log.count

    # The event with its assignment, the report with its policy facts, the reporter and roles.
    assert await statements_for(3) == await statements_for(9) == 4


async def test_the_subscribers_of_an_event_wait_for_nobody_once_the_first_is_served(
    live: Live, people: People, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each waiting on the others' reads would hold its half-made answer meanwhile: with
    # thousands of subscribers, a peak of memory that stays with the process.
    waited = 0
    read = SharedRows.read

    async def counted(self: SharedRows, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        nonlocal waited
        pending = self._reads.get(key)
        waited += pending is not None and not pending.done()
        return await read(self, key, fetch)

    monkeypatch.setattr(SharedRows, "read", counted)
    answers = await _one_event_in_tabs(live, people, redis_url, ["officer"] * 8)
    assert len(set(answers)) == 1
    assert waited == 0


# Unchecked: the check against the generic executor reads each tab's loaders.
@pytest.mark.usefixtures("unchecked_execution")
async def test_the_tabs_of_one_viewer_make_an_events_item_once(
    live: Live, people: People, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each tab made the same view of the same rows, and loaders, before its answer was found
    # made already.
    made: list[int] = []
    inbox_event = assignments.inbox_event
    event_loaders = 0

    async def counted(desk: InboxDesk, event_id: int, shared: SharedRows | None = None) -> Any:
        made.append(desk.agency_id)
        return await inbox_event(desk, event_id, shared)

    class Counted(Loaders):
        def __init__(self, actor: Actor, size: int, shared: SharedRows | None = None) -> None:
            super().__init__(actor, size, shared)
            nonlocal event_loaders
            event_loaders += shared is not None  # an event's, over the rows it shares

    monkeypatch.setattr(assignments, "inbox_event", counted)
    monkeypatch.setattr(context_module, "Loaders", Counted)
    answers = await _one_event_in_tabs(
        live, people, redis_url, ["officer"] * 4 + ["coordinator"] * 2
    )
    assert len(made) == 2  # once for the officer's four tabs, once for the coordinator's two
    assert event_loaders == 2  # made by the tab that made its viewer's answer
    assert len(set(answers[:4])) == len(set(answers[4:])) == 1 and answers[0] != answers[4]


async def _one_event_in_tabs(
    live: Live, people: People, redis_url: str, viewers: list[str]
) -> list[str]:
    """What one new DINKES inbox event shows in a tab of each of `viewers`, as JSON."""
    dinkes = await agency_gid("DINKES")
    tabs = [await live.connect(people[viewer]) for viewer in viewers]
    for tab in tabs:
        await tab.subscribe("inbox", INBOX, {"a": dinkes})
    await until(lambda: live.hub.subscriber_count == len(tabs))
    await announce(redis_url, await unheard_assignment(live, people, "DINKES"), dinkes)
    for tab in tabs:
        await tab.wait_for(lambda t=tab: len(t.data("inbox")) == 1)
    answers = [json.dumps(tab.data("inbox")) for tab in tabs]
    for tab in tabs:
        await tab.close()
    return answers


async def test_an_anonymous_reporter_never_reaches_an_inbox(live: Live, people: People) -> None:
    reporter = await User.get(email="warga@jember.demo")
    officer = await live.connect(people["officer"])
    coordinator = await live.connect(people["coordinator"])
    dinkes = await agency_gid("DINKES")
    await officer.subscribe("inbox", INBOX, {"a": dinkes})
    await coordinator.subscribe("inbox", INBOX, {"a": dinkes})
    await until(lambda: live.hub.subscriber_count == 2)
    report = await submitted(live, people, anonymous=True)
    await verified(live, people, report, "DINKES")
    await officer.wait_for(lambda: len(officer.data("inbox")) == 1)
    await coordinator.wait_for(lambda: len(coordinator.data("inbox")) == 1)
    seen = json.dumps(officer.messages["inbox"])
    for secret in (reporter.name, reporter.email, "Jl. Mawar", "113.7"):
        assert secret not in seen
    shown = officer.data("inbox")[0]["inboxEvents"]["assignment"]["report"]
    assert shown["anonymous"] is True and shown["reporter"] is None and shown["address"] is None
    # The coordinator desk may know who reported: the same event, masked for that viewer.
    known = coordinator.data("inbox")[0]["inboxEvents"]["assignment"]["report"]
    assert known["reporter"]["name"] == reporter.name and known["address"] == "Jl. Mawar 7"
    await officer.close()
    await coordinator.close()


async def test_a_report_timeline_is_masked_per_viewer(live: Live, people: People) -> None:
    report = await submitted(live, people)
    await verified(live, people, report, "DINKES")
    neighbour = await live.connect(people["citizen"])  # the report is public now
    officer = await live.connect(people["officer"])
    await neighbour.subscribe("t", TIMELINE, {"r": report})
    await officer.subscribe("t", TIMELINE, {"r": report})
    await until(lambda: live.hub.subscriber_count == 2)
    await ok(live.as_(people["citizen"]), SUPPORT, id=report)  # a support: an internal line
    await officer.wait_for(lambda: len(officer.data("t")) == 1, what="the staff-only line")
    assert officer.data("t")[0]["reportEvents"]["kind"] == "report.supported"
    await asyncio.sleep(0.3)
    assert neighbour.data("t") == []
    await neighbour.close()
    await officer.close()


async def test_notifications_reach_their_user_only(
    live: Live, people: People, redis_url: str
) -> None:
    officer = await User.get(email="dinkes@jember.demo")
    mine = await live.connect(people["officer"])
    theirs = await live.connect(people["dpupr"])
    await mine.subscribe("n", NOTIFIED)
    await theirs.subscribe("n", NOTIFIED)
    await until(lambda: live.hub.subscriber_count == 2)
    now = datetime.now(UTC)
    email = await Notification.create(
        user_id=officer.id, channel=Channel.EMAIL, kind="x", message="by mail", created_at=now
    )
    in_app = await Notification.create(
        user_id=officer.id, kind="assignment.created", message="Disposisi baru", created_at=now
    )
    async with aioredis.from_url(redis_url) as client:
        for n in (email, in_app, in_app):  # an e-mail row, then one row published twice
            body = NotificationsMessage(((n.id, officer.id),)).encode()
            await client.publish("lapor:notifications", body)
    await mine.wait_for(lambda: len(mine.data("n")) >= 1)
    await asyncio.sleep(0.3)
    assert [d["notificationAdded"] for d in mine.data("n")] == [
        {
            "id": to_global_id("Notification", in_app.id),
            "kind": "assignment.created",
            "message": "Disposisi baru",
            "read": False,
            "report": None,
        }
    ]
    assert theirs.data("n") == []
    await mine.close()
    await theirs.close()


async def test_after_a_reconnect_the_inbox_catches_up_from_the_last_event(
    live: Live, people: People
) -> None:
    dinkes = await agency_gid("DINKES")
    desk = await live.connect(people["officer"])
    await desk.subscribe("inbox", INBOX, {"a": dinkes})
    await until(lambda: live.hub.subscriber_count == 1)
    report = await submitted(live, people)
    (assignment,) = await verified(live, people, report, "DINKES")
    await desk.wait_for(lambda: len(desk.data("inbox")) == 1)
    last_seen = desk.data("inbox")[0]["inboxEvents"]["at"]
    await desk.close()  # away: this change is not pushed to anyone
    await ok(live.as_(people["officer"]), ACCEPT, id=assignment, tier="SIMPLE")
    desk = await live.connect(people["officer"])  # back: subscribe first, then catch up
    await desk.subscribe("inbox", INBOX, {"a": dinkes})
    missed = await live.as_(people["officer"])(CATCH_UP, {"a": dinkes, "since": last_seen})
    assert [e["node"] for e in missed["inbox"]["edges"]] == [
        {"id": assignment, "status": "ACCEPTED"}
    ]
    await desk.close()


async def test_a_desk_that_returns_a_report_stops_hearing_its_timeline(
    live: Live, people: People
) -> None:
    """Issue 12, finding 2 (high): after DPUPR returned a confidential report, `reportEvents`
    kept delivering what DINKES did next. The return now ends DPUPR's subscription at once."""
    report = str((await submit(live.as_(people["reporter"]), confidential=True, **MAWAR))["id"])
    (wrong,) = await verified(live, people, report, "DPUPR")
    dpupr = await live.connect(people["dpupr"])
    coordinator = await live.connect(people["coordinator"])
    await dpupr.subscribe("timeline", TIMELINE, {"r": report})
    await coordinator.subscribe("timeline", TIMELINE, {"r": report})
    await until(lambda: live.hub.subscriber_count == 2)

    await ok(live.as_(people["dpupr"]), RETURN, id=wrong)
    await dpupr.wait_for(lambda: any(m["type"] == "complete" for m in dpupr.messages["timeline"]))
    await until(lambda: live.hub.subscriber_count == 1)
    right = (
        await ok(
            live.as_(people["coordinator"]),
            ASSIGN,
            id=report,
            agency=await agency_gid("DINKES"),
        )
    )["id"]
    await ok(live.as_(people["officer"]), ACCEPT, id=right, tier="SIMPLE")
    await coordinator.wait_for(
        lambda: (
            "assignment.accepted"
            in [d["reportEvents"]["kind"] for d in coordinator.data("timeline")]
        )
    )

    heard = [d["reportEvents"]["kind"] for d in dpupr.data("timeline") if d]
    assert "assignment.accepted" not in heard and "assignment.created" not in heard
    (refusal,) = [m for m in dpupr.messages["timeline"] if m["type"] == "next"][-1:]
    assert refusal["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert dpupr.closed is None  # the connection stays; only that subscription ended
    await dpupr.close()
    await coordinator.close()
