"""Live subscriptions in one process: a real uvicorn server in the test's event loop, real
WebSockets, PostgreSQL and Redis. Here the hub's counts and the process's tasks can be read
directly; tests/e2e/test_live_stack.py runs the same over several `lapor api` processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from api.app import create_app
from api.live import LiveHub
from core.channels import NotificationsMessage
from core.settings import Settings, get_settings
from domain.auth import issue_token
from models import Notification, ReportEvent, User
from models.enums import Channel
from schema.ids import to_global_id
from tests.app_fixtures import GQL, People, agency_gid, pk
from tests.factories import ACCEPT, FOLLOW_UP, SUPPORT, ok, submit, verify
from tests.harness import free_port
from tests.live_client import LiveClient, refused
from tests.statements import StatementLog, counting

INBOX = """subscription($a: ID!) { inboxEvents(agencyId: $a) {
  kind at assignment { id status report { id status title anonymous reporter { name email }
  address latitude longitude } } } }"""
TIMELINE = "subscription($r: ID!) { reportEvents(reportId: $r) { id kind message actor { name } } }"
NOTIFIED = "subscription { notificationAdded { id kind message read report { id } } }"
CATCH_UP = """query($a: ID!, $since: DateTime) {
  inbox(agencyId: $a, updatedAfter: $since) { edges { node { id status } } } }"""
# Where every report of these tests is: an anonymous one's place must reach no inbox.
MAWAR = {"address": "Jl. Mawar 7", "latitude": -8.17, "longitude": 113.7}


@dataclass
class Live:
    """A running API process in this event loop."""

    url: str
    hub: LiveHub
    http: httpx.AsyncClient
    settings: Settings

    def as_(self, person: GQL) -> GQL:
        """The same person, talking HTTP to this server (its dispatcher publishes to Redis)."""
        return GQL(self.http, person.token)

    async def connect(self, person: GQL, **options: Any) -> LiveClient:
        client = LiveClient(self.url, **options)
        await client.open({"Authorization": f"Bearer {person.token}"})
        return client


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Live]:
    """uvicorn on a free port in this loop, the lifespan off: the ORM is the tests' already."""
    app = create_app(settings)
    hub: LiveHub = app.state.live_hub
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    await hub.start()
    try:
        while not server.started:
            assert not task.done(), task
            await asyncio.sleep(0.02)
        assert await hub.wait_connected(10), "the hub never subscribed to Redis"
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lapor.test") as http:
            yield Live(f"ws://127.0.0.1:{port}/graphql", hub, http, settings)
    finally:
        server.should_exit = True
        await task
        await hub.close()


def live_settings(redis_url: str, **overrides: Any) -> Settings:
    return get_settings().model_copy(update={"redis_url": redis_url, **overrides})


@pytest.fixture
async def live(db: str, redis_url: str) -> AsyncIterator[Live]:
    async with serving(live_settings(redis_url)) as server:
        yield server


async def submitted(live: Live, people: People, *, anonymous: bool = False) -> str:
    """A report of the demo citizen in Jember, through this server: its global id."""
    report = await submit(live.as_(people["reporter"]), anonymous=anonymous, **MAWAR)
    return str(report["id"])


async def verified(live: Live, people: People, report: str, *codes: str) -> list[str]:
    """The report forwarded to `codes` by the Jember coordinator, through this server."""
    return await verify(live.as_(people["coordinator"]), report, *codes)


# ------------------------------------------------------------------------------ delivery


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

    # The event with its assignment, the report and its policy facts, the reporter and roles.
    assert await statements_for(3) == await statements_for(9) == 5


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


# ------------------------------------------------------------------ who may connect and watch


@pytest.mark.parametrize(
    "payload",
    [None, {}, {"Authorization": "Bearer not-a-token"}, {"token": ""}, {"Authorization": "x"}],
)
async def test_a_connection_without_a_valid_token_is_refused(
    live: Live, payload: dict[str, Any] | None
) -> None:
    closed = await refused(live.url, payload)
    assert closed.code == 4403
    assert "Bearer" in closed.reason


async def test_both_token_forms_sign_in(live: Live, people: People) -> None:
    token = people["officer"].token
    for payload in ({"authorization": f"Bearer {token}"}, {"token": token}):
        client = LiveClient(live.url)
        await client.open(payload)
        await client.close()


async def test_an_expired_token_is_refused_and_a_live_one_is_closed_at_expiry(
    live: Live, people: People
) -> None:
    officer = await User.get(email="dinkes@jember.demo")
    secret = live.settings.secret_key
    old = issue_token(officer.id, secret, datetime(2026, 1, 1, tzinfo=UTC), 60)
    assert (await refused(live.url, {"token": old})).code == 4403
    brief = issue_token(officer.id, secret, datetime.now(UTC), 2)
    client = LiveClient(live.url)
    await client.open({"token": brief})
    await client.subscribe("inbox", INBOX, {"a": await agency_gid("DINKES")})
    closed = await client.wait_closed(seconds=5)
    assert (closed.code, closed.reason) == (4403, "token expired: sign in again")
    await until(lambda: live.hub.subscriber_count == 0 and live.hub.connection_count == 0)
    await client.close()


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("dpupr", "FORBIDDEN"),
        ("puskesmas", "FORBIDDEN"),
        ("reporter", "FORBIDDEN"),
        ("jayapura", "FORBIDDEN"),
        ("admin", "FORBIDDEN"),
        ("head", None),
        ("coordinator", None),
    ],
)
async def test_only_the_desk_and_its_coordinators_watch_an_inbox(
    live: Live, people: People, who: str, code: str | None
) -> None:
    client = await live.connect(people[who])
    await client.subscribe("inbox", INBOX, {"a": await agency_gid("DINKES")})
    if code is None:
        await until(lambda: live.hub.subscriber_count == 1)
        assert client.messages["inbox"] == []
    else:
        await client.wait_for(lambda: client.messages["inbox"], what="a refusal")
        (message,) = client.messages["inbox"]
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == code
        assert live.hub.subscriber_count == 0
    await client.close()


async def test_a_report_one_may_not_read_is_not_found(live: Live, people: People) -> None:
    report = await submitted(live, people)  # SUBMITTED: only its reporter and coordinators
    for who, code in (("citizen", "NOT_FOUND"), ("officer", "NOT_FOUND"), ("reporter", None)):
        client = await live.connect(people[who])
        await client.subscribe("t", TIMELINE, {"r": report})
        if code is None:
            await until(lambda: live.hub.subscriber_count == 1)
        else:
            await client.wait_for(lambda c=client: c.messages["t"], what="a refusal")
            assert client.messages["t"][0]["payload"][0]["extensions"]["code"] == code
        await client.close()


async def test_only_graphql_transport_ws_is_spoken(live: Live) -> None:
    async with connect(live.url, subprotocols=[Subprotocol("graphql-ws")]) as legacy:
        with pytest.raises(ConnectionClosed) as closed:
            await legacy.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4406


async def test_queries_and_mutations_belong_to_http(live: Live, people: People) -> None:
    client = await live.connect(people["officer"])
    await client.subscribe("q", "{ me { name } }")
    await client.wait_for(lambda: client.messages["q"], what="a refusal")
    (message,) = client.messages["q"]
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "BAD_REQUEST"
    await client.close()


# ------------------------------------------------------------------------------ protection


async def test_subscriptions_per_connection_are_capped(
    db: str, redis_url: str, people: People
) -> None:
    async with serving(live_settings(redis_url, live_max_subscriptions_per_connection=2)) as live:
        client = await live.connect(people["officer"])
        dinkes = await agency_gid("DINKES")
        for sid in ("a", "b", "c"):
            await client.subscribe(sid, INBOX, {"a": dinkes})
        await client.wait_for(lambda: client.messages["c"], what="the third refused")
        assert client.messages["c"][0]["type"] == "error"
        assert "limit" in client.messages["c"][0]["payload"][0]["message"]
        await until(lambda: live.hub.subscriber_count == 2)
        await client.close()


async def test_connections_per_user_are_capped(db: str, redis_url: str, people: People) -> None:
    async with serving(live_settings(redis_url, live_max_connections_per_user=2)) as live:
        first = await live.connect(people["officer"])
        second = await live.connect(people["officer"])
        closed = await refused(live.url, {"token": people["officer"].token})
        assert closed.code == 4429 and "too many live connections" in closed.reason
        other = await live.connect(people["head"])  # another user is not counted against it
        await first.close()
        await until(lambda: live.hub.connection_count == 2)
        third = await live.connect(people["officer"])  # a slot is free again
        for client in (second, other, third):
            await client.close()


async def test_a_subscriber_that_falls_behind_is_closed(
    db: str, redis_url: str, people: People
) -> None:
    async with serving(live_settings(redis_url, live_queue_size=4)) as live:
        client = await live.connect(people["officer"])
        dinkes = pk(await agency_gid("DINKES"))
        await client.subscribe("inbox", INBOX, {"a": to_global_id("Agency", dinkes)})
        await until(lambda: live.hub.subscriber_count == 1)
        async with aioredis.from_url(redis_url) as redis:
            async with redis.pipeline(transaction=False) as pipe:
                for event_id in range(1_000_000, 1_000_200):
                    message = {"event_id": event_id, "report_id": 1, "agency_id": dinkes}
                    pipe.publish("lapor:events", json.dumps({"topic": "report.event", **message}))
                await pipe.execute()
        closed = await client.wait_closed()
        assert closed.code == 1013 and closed.reason.startswith("too slow: over 4 events waiting")
        await until(lambda: live.hub.subscriber_count == 0 and live.hub.connection_count == 0)
        await client.close()


async def test_keep_alive_pings_and_closes_a_silent_client(
    db: str, redis_url: str, people: People
) -> None:
    async with serving(live_settings(redis_url, live_keepalive_seconds=0.3)) as live:
        polite = await live.connect(people["officer"])
        silent = await live.connect(people["head"], answer_pings=False)
        closed = await silent.wait_closed(seconds=3)
        assert closed.code == 1013 and "no pong" in closed.reason
        assert polite.closed is None and polite.pings >= 2
        await polite.close()
        await silent.close()
        await until(lambda: live.hub.connection_count == 0)


async def test_a_lost_redis_link_closes_live_connections_and_comes_back(
    live: Live, people: People, redis_url: str
) -> None:
    client = await live.connect(people["officer"])
    await client.subscribe("inbox", INBOX, {"a": await agency_gid("DINKES")})
    await until(lambda: live.hub.subscriber_count == 1)
    async with aioredis.from_url(redis_url) as redis:
        killed = await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    assert killed >= 1
    closed = await client.wait_closed()
    assert closed.code == 1013 and "catch up with updatedAfter" in closed.reason
    assert await live.hub.wait_connected(10)
    again = await live.connect(people["officer"])
    await again.subscribe("inbox", INBOX, {"a": await agency_gid("DINKES")})
    await until(lambda: live.hub.subscriber_count == 1)
    report = await submitted(live, people)
    await verified(live, people, report, "DINKES")
    await again.wait_for(lambda: len(again.data("inbox")) == 1)
    await client.close()
    await again.close()


async def test_two_hundred_subscribers_leave_nothing_behind(
    db: str, redis_url: str, people: People
) -> None:
    settings = live_settings(redis_url, live_max_connections_per_user=1000)
    async with serving(settings) as live, aioredis.from_url(redis_url) as redis:
        await until(lambda: live.hub.connection_count == 0)
        tasks_before = len(asyncio.all_tasks())
        dinkes = await agency_gid("DINKES")
        token = people["officer"].token
        assert token is not None

        async def one(i: int) -> None:
            client = LiveClient(live.url)
            await client.open({"token": token})
            await client.subscribe("inbox", INBOX, {"a": dinkes})
            await client.subscribe("timeline", TIMELINE, {"r": to_global_id("Report", 1)})
            if i % 2:  # half say goodbye per subscription first, half just hang up
                await client.complete("inbox")
            await client.close()

        for start in range(0, 200, 50):
            await asyncio.gather(*(one(i) for i in range(start, start + 50)))
        await until(lambda: live.hub.connection_count == 0 and live.hub.subscriber_count == 0)
        await until(lambda: len(asyncio.all_tasks()) <= tasks_before, seconds=10)
        assert not live.hub._routes and not live.hub._users
        assert await redis.pubsub_numsub("lapor:events") == [(b"lapor:events", 1)]
        clients = (await redis.execute_command("CLIENT", "LIST")).decode()
        assert clients.count("name=lapor-live:") == 1, clients


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait for a condition of this process, with a deadline."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
