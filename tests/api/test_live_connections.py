"""Live subscriptions, who may connect and what protects the server: tokens and their
expiry, who may watch an inbox or a timeline, the protocol; caps per connection and per
user, slow and silent clients, a lost Redis link, and nothing left behind
(tests/api/live_server.py serves the app in this process).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from domain.auth import issue_token
from domain.services.accounts import Grant, create_user
from models import Agency, RoleGrant, User
from models.enums import Role
from schema.ids import to_global_id
from tests.api.live_server import (
    INBOX,
    TIMELINE,
    Live,
    live_settings,
    serving,
    submitted,
    until,
    verified,
)
from tests.app_fixtures import People, agency_gid, pk
from tests.live_client import LiveClient, refused

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


# ------------------------------------------------------- the viewer is checked again (issue 12)


async def _new_officer(live: Live) -> tuple[User, str]:
    """A DINKES officer made for one test (the demo accounts stay as they are), signed in."""
    dinkes = await Agency.get(code="DINKES", region__code="35.09")
    user = await create_user(
        datetime.now(UTC),
        name="Petugas Sementara",
        email=f"sementara-{uuid.uuid4().hex[:8]}@jember.demo",
        password="p" * 12,
        grants=[Grant(Role.OFFICER, agency_id=dinkes.id)],
    )
    return user, issue_token(user.id, live.settings.secret_key, datetime.now(UTC), 3600)


@pytest.mark.parametrize("change", ["disabled", "role withdrawn", "role granted"])
async def test_a_changed_account_closes_its_sockets_within_a_second(
    live: Live, people: People, change: str
) -> None:
    """Issue 12, finding 7 (low): a live subscription was authorised once, so a disabled
    account kept receiving new assignments until its token expired (7 days)."""
    user, token = await _new_officer(live)
    client = LiveClient(live.url)
    await client.open({"token": token})
    await client.subscribe("inbox", INBOX, {"a": await agency_gid("DINKES")})
    bystander = await live.connect(people["officer"])
    await until(lambda: live.hub.connection_count == 2 and live.hub.subscriber_count == 1)

    changed_at = time.monotonic()
    if change == "disabled":
        await User.filter(id=user.id).update(is_active=False)
    elif change == "role withdrawn":
        await RoleGrant.filter(user_id=user.id).delete()
    else:
        await RoleGrant.create(user_id=user.id, role=Role.OMBUDSMAN)
    closed = await client.wait_closed(seconds=3)
    took = time.monotonic() - changed_at
    report = await submitted(live, people)
    await verified(live, people, report, "DINKES")

    assert (closed.code, closed.reason) == (4403, "your account changed: sign in again")
    assert took < 1.5  # the check runs every second here (no change feed in this process)
    assert client.data("inbox") == []
    assert bystander.closed is None
    await until(lambda: live.hub.connection_count == 1)
    await client.close()
    await bystander.close()


async def test_a_subscription_gets_the_documents_limits(live: Live, people: People) -> None:
    """Depth and tokens are limited for a subscription's document as for a query's: too deep
    is a validation error; too long does not parse, which graphql-transport-ws answers with a
    close (4400) that says why, not a stack trace in the log and a bare `complete`."""
    client = await live.connect(people["officer"])
    limit = live.settings.max_query_depth
    nested = "parent { " * limit + "id" + " }" * limit
    deep = (
        "subscription($a: ID!) { inboxEvents(agencyId: $a) { assignment { agency { "
        f"{nested} }} }} }} }}"
    )
    agency = await agency_gid("DINKES")
    await client.subscribe("deep", deep, {"a": agency})
    await client.wait_for(lambda: client.messages["deep"], what="the depth refusal")
    (message,) = client.messages["deep"]
    assert message["type"] == "error" and "depth" in str(message["payload"]), message
    words = " kind" * (live.settings.max_query_tokens + 10)
    long = "subscription($a: ID!) { inboxEvents(agencyId: $a) {" + words + " } }"
    await client.subscribe("long", long, {"a": agency})
    closed = await client.wait_closed()
    assert closed.code == 4400 and "more than" in closed.reason and "tokens" in closed.reason
    assert client.messages["long"] == []
    await until(lambda: live.hub.subscriber_count == 0 and live.hub.connection_count == 0)
    await client.close()
