"""Live inboxes across processes: two `lapor api` processes and a worker on PostgreSQL and
Redis. Desks subscribe over real WebSockets on one API; everything is done over HTTP on the
other; each event must arrive once, in order, within a second of the mutation's response."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from domain.services.accounts import Grant, create_user
from models import Agency, OutboxMessage, User
from models.enums import Role
from tests.app_fixtures import agency_gid, region_gid
from tests.e2e.test_stack import LOGIN, _post, running_stack
from tests.harness import RedisServer
from tests.live_client import LiveClient, refused

INBOX = """subscription($a: ID!) { inboxEvents(agencyId: $a) { kind at
  assignment { id status report { id title anonymous address reporter { name email } } } } }"""
TIMELINE = "subscription($r: ID!) { reportEvents(reportId: $r) { kind actor { name } } }"
SUBMIT = """mutation($r: ID!) { reportSubmit(input: {kind: COMPLAINT, anonymous: true,
  title: "Puskesmas tutup", body: "Tutup jam 10 pagi", regionId: $r, address: "Jl. Mawar 7"})
  { report { id } errors { code } } }"""
VERIFY = """mutation($id: ID!, $a: [ID!]!) { reportVerify(reportId: $id, agencyIds: $a) {
  report { assignments { id } } errors { code } } }"""
ACCEPT = """mutation($id: ID!) { assignmentAccept(assignmentId: $id, tier: SIMPLE) {
  assignment { id } errors { code } } }"""
FINAL = """mutation($id: ID!) { assignmentFollowUp(assignmentId: $id, message: "Sudah dibuka",
  final: true, resolution: RESOLVED) { assignment { id } errors { code } } }"""
# Who does each step.
_WHO = {SUBMIT: "reporter", VERIFY: "coordinator", ACCEPT: "officer", FINAL: "officer"}


@pytest.fixture
def two_apis(db: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[dict[str, Any]]:
    env = {"LAPOR_LIVE_MAX_CONNECTIONS_PER_USER": "300"}
    with running_stack(db, redis_server.url, tmp_path, apis=2, env=env) as processes:
        yield processes


async def _connect(url: str, token: str, seconds: float = 15) -> LiveClient:
    """A signed-in connection; retried while the process is still subscribing to Redis (1013)."""
    deadline = time.monotonic() + seconds
    while True:
        client = LiveClient(url)
        try:
            await client.open({"Authorization": f"Bearer {token}"})
            return client
        except Exception:
            await client.close()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _subscribed(client: LiveClient, sid: str, query: str, variables: dict[str, Any]) -> None:
    """Subscribe, and give the process a moment to authorise and file the subscription."""
    await client.subscribe(sid, query, variables)
    await asyncio.sleep(0.3)
    assert client.messages[sid] == [], client.messages[sid]


async def test_events_cross_processes_once_in_order_within_a_second(
    two_apis: dict[str, Any], redis_server: RedisServer
) -> None:
    async with httpx.AsyncClient(base_url=two_apis["bases"][1], timeout=10) as http:
        tokens = {
            who: (await _post(http, LOGIN, {"e": email}))["authLogin"]["token"]
            for who, email in {
                "reporter": "warga@jember.demo",
                "coordinator": "koordinator@jember.demo",
                "officer": "dinkes@jember.demo",
                "dpupr": "pupr@jember.demo",
            }.items()
        }
        ws_url = two_apis["bases"][0].replace("http://", "ws://") + "/graphql"
        dinkes = await agency_gid("DINKES")

        # Refused: no token at all, and an officer of another agency.
        assert (await refused(ws_url, {})).code == 4403
        stranger = await _connect(ws_url, tokens["dpupr"])
        await stranger.subscribe("inbox", INBOX, {"a": dinkes})
        await stranger.wait_for(lambda: stranger.messages["inbox"], what="a refusal")
        assert stranger.messages["inbox"][0]["type"] == "error"
        assert stranger.messages["inbox"][0]["payload"][0]["extensions"]["code"] == "FORBIDDEN"

        officer = await _connect(ws_url, tokens["officer"])
        await _subscribed(officer, "inbox", INBOX, {"a": dinkes})

        async def act_on_b(query: str, **variables: Any) -> tuple[dict[str, Any], float]:
            data = await _post(http, query, variables, tokens[_WHO[query]])
            payload = next(iter(data.values()))
            assert payload["errors"] == [], data
            return payload, time.monotonic()

        report = (await act_on_b(SUBMIT, r=await region_gid("35.09")))[0]["report"]["id"]
        reporter = await _connect(ws_url, tokens["reporter"])
        await _subscribed(reporter, "timeline", TIMELINE, {"r": report})

        answered: list[float] = []
        payload, at = await act_on_b(VERIFY, id=report, a=[dinkes])
        answered.append(at)
        assignment = payload["report"]["assignments"][0]["id"]
        for query in (ACCEPT, FINAL):
            await officer.wait_for(lambda n=len(answered): len(officer.data("inbox")) == n)
            answered.append((await act_on_b(query, id=assignment))[1])
        await officer.wait_for(lambda: len(officer.data("inbox")) == 3, what="three events")
        await reporter.wait_for(lambda: len(reporter.data("timeline")) == 5, what="five lines")

        # The worker fans every outbox row out; the test waits until it has.
        deadline = time.monotonic() + 30
        while await OutboxMessage.filter(dispatched_at__isnull=True).count():
            assert time.monotonic() < deadline, (two_apis["logs"] / "worker.log").read_text()
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)

    events = [d["inboxEvents"] for d in officer.data("inbox")]
    assert [e["kind"] for e in events] == [
        "assignment.created",
        "assignment.accepted",
        "assignment.final_follow_up",
    ]
    assert [e["assignment"]["status"] for e in events] == ["PENDING", "ACCEPTED", "RESPONDED"]
    delays = [
        arrived - sent
        for (arrived, _), sent in zip(officer.arrivals["inbox"], answered, strict=True)
    ]
    assert all(d < 1.0 for d in delays), delays
    assert [d["reportEvents"]["kind"] for d in reporter.data("timeline")] == [
        "report.verified",
        "assignment.created",
        "assignment.accepted",
        "assignment.final_follow_up",
        "report.responded",
    ]

    # The anonymous reporter's identity, address included, is in no inbox message.
    person = await User.get(email="warga@jember.demo")
    raw = json.dumps(officer.messages["inbox"])
    for secret in (person.name, person.email, "Jl. Mawar"):
        assert secret not in raw
    assert all(e["assignment"]["report"]["reporter"] is None for e in events)

    for client in (officer, reporter, stranger):
        await client.close()
    for api in two_apis["apis"]:
        assert api.poll() is None


async def test_many_subscribers_come_and_go_on_one_redis_subscription_per_process(
    two_apis: dict[str, Any], redis_server: RedisServer
) -> None:
    async with httpx.AsyncClient(base_url=two_apis["bases"][1], timeout=10) as http:
        token = (await _post(http, LOGIN, {"e": "dinkes@jember.demo"}))["authLogin"]["token"]
    ws_url = two_apis["bases"][0].replace("http://", "ws://") + "/graphql"
    dinkes = await agency_gid("DINKES")
    first = await _connect(ws_url, token)  # the process is subscribed to Redis
    assert first.ws is not None
    # No permessage-deflate by default (LAPOR_LIVE_COMPRESSION): zlib state per connection.
    assert "Sec-WebSocket-Extensions" not in first.ws.response.headers
    await first.close()

    async def one() -> None:
        client = LiveClient(ws_url)
        await client.open({"token": token})
        await client.subscribe("inbox", INBOX, {"a": dinkes})
        await client.close()

    for _ in range(4):
        await asyncio.gather(*(one() for _ in range(50)))
    async with aioredis.from_url(redis_server.url) as redis:
        # One per API process, and the worker's outbox relay, which wakes on every event.
        assert await redis.pubsub_numsub("lapor:events") == [(b"lapor:events", 3)]
        assert await redis.pubsub_numsub("lapor:notifications") == [(b"lapor:notifications", 2)]
        clients = (await redis.execute_command("CLIENT", "LIST")).decode()
        assert clients.count("name=lapor-live:") == 2, clients
        assert clients.count("name=lapor-relay:") == 1, clients
    for api in two_apis["apis"]:
        assert api.poll() is None


async def test_a_disabled_account_is_closed_in_every_process_within_a_second(
    two_apis: dict[str, Any], db: str
) -> None:
    """Issue 12, finding 7: each process's change feed hears the change, whoever made it (here
    psql's way: straight SQL), and closes that user's sockets with 4403 at once."""
    dinkes = await Agency.get(code="DINKES", region__code="35.09")
    email = f"sementara-{uuid.uuid4().hex[:8]}@jember.demo"
    await create_user(
        datetime.now(UTC),
        name="Petugas Sementara",
        email=email,
        password="p" * 12,
        grants=[Grant(Role.OFFICER, agency_id=dinkes.id)],
    )
    async with httpx.AsyncClient(base_url=two_apis["bases"][1], timeout=10) as http:
        login = await http.post(
            "/graphql",
            json={
                "query": 'mutation($e:String!){authLogin(email:$e,password:"pppppppppppp")'
                "{token errors{code}}}",
                "variables": {"e": email},
            },
        )
        token = login.json()["data"]["authLogin"]["token"]
    urls = [base.replace("http://", "ws://") + "/graphql" for base in two_apis["bases"]]
    clients = [await _connect(url, token) for url in urls]
    for client in clients:
        await _subscribed(client, "inbox", INBOX, {"a": await agency_gid("DINKES")})

    connection = await asyncpg.connect(db)
    try:
        await connection.execute("UPDATE app_user SET is_active = false WHERE email = $1", email)
    finally:
        await connection.close()
    changed = time.monotonic()
    closed = [await client.wait_closed(seconds=3) for client in clients]
    took = time.monotonic() - changed

    assert [(c.code, c.reason) for c in closed] == [
        (4403, "your account changed: sign in again")
    ] * 2
    assert took < 1.0, took
    for client in clients:
        await client.close()
