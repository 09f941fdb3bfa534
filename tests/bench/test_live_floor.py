"""bench/subscriptions.py times Lapor's live inbox against a floor that must send the same
frames (bench/live_floor.py): here both serve real WebSockets in this event loop on the session's
database and Redis, both hear the same events, and the floor's `next` frames are Lapor's byte
for byte, for every viewer of the inbox, whether they read the report or keep only its record;
it refuses whom Lapor refuses, with the same message."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette

from bench.live_floor import AGENCY_VARIABLE, INBOX, LiveFloor
from bench.subscriptions import first_frames, frame_differences
from core.settings import get_settings
from tests.api.live_server import Live, live_settings, serving, submitted, until, verified
from tests.app_fixtures import People, agency_gid
from tests.factories import RETURN, ok, report_input, submit
from tests.harness import free_port
from tests.live_client import LiveClient, refused


@dataclass
class Floor:
    url: str
    floor: LiveFloor


@pytest.fixture
async def servers(db: str, redis_url: str) -> AsyncIterator[tuple[Live, Floor]]:
    """Lapor and the floor, each on a free port of this loop, on the same database, Redis and
    secret."""
    floor = LiveFloor(
        get_settings().model_copy(update={"database_url": db, "redis_url": redis_url})
    )
    await floor.open()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=floor.routes()),
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        async with serving(live_settings(redis_url)) as lapor:
            while not server.started:
                assert not task.done(), task
                await asyncio.sleep(0.02)
            assert await _connected(floor), "the floor never subscribed to Redis"
            yield lapor, Floor(f"ws://127.0.0.1:{port}/graphql", floor)
    finally:
        server.should_exit = True
        await task
        await floor.close()


async def _connected(floor: LiveFloor) -> bool:
    try:
        async with asyncio.timeout(10):
            await floor.connected.wait()
    except TimeoutError:
        return False
    return True


async def test_the_bench_s_check_finds_the_floor_s_frame_equal_to_lapor_s(
    servers: tuple[Live, Floor], people: People
) -> None:
    lapor, floor = servers

    async def event() -> tuple[float, float]:
        report = await submitted(lapor, people)
        sent = time.monotonic()
        await verified(lapor, people, report, "DINKES")
        return sent, time.monotonic()

    token = people["officer"].token
    assert token is not None
    expected, answered = await first_frames(
        lapor.url, floor.url, token, await agency_gid("DINKES"), event
    )
    assert frame_differences(expected, answered) == []
    assert answered == expected
    data = orjson.loads(expected)["payload"]["data"]["inboxEvents"]
    assert data["kind"] == "assignment.created" and data["assignment"]["report"]["title"]
    assert frame_differences(expected, expected.replace('"PENDING"', '"ACCEPTED"')) == [
        '$.payload.data.inboxEvents.assignment.status: "PENDING" (Lapor) != "ACCEPTED" (floor)'
    ]


async def test_each_viewer_gets_lapor_s_frames_the_desk_that_let_go_only_the_record(
    servers: tuple[Live, Floor], people: People
) -> None:
    """A confidential report verified to DINKES, which returns it: its officer no longer reads
    the report and keeps only its record (an empty title); the region's coordinator reads it."""
    lapor, floor = servers
    dinkes = await agency_gid("DINKES")
    watching: dict[tuple[str, str], LiveClient] = {}
    for side, url in (("Lapor", lapor.url), ("floor", floor.url)):
        for who in ("officer", "coordinator"):
            client = LiveClient(url, keep_frames=True)
            await client.open({"token": people[who].token})
            await client.subscribe("inbox", INBOX, {AGENCY_VARIABLE: dinkes})
            watching[side, who] = client
    try:
        await until(lambda: lapor.hub.subscriber_count == 2 and floor.floor.subscriber_count == 2)
        report = await submit(lapor.as_(people["reporter"]), confidential=True)
        (assignment,) = await verified(lapor, people, str(report["id"]), "DINKES")
        # Each event carries the assignment as it is when the server reads it: both answer the
        # first before it is returned, or a slower side would show it returned already.
        for client in watching.values():
            await client.wait_for(lambda c=client: len(c.frames["inbox"]) == 1, what="1 event")
        await ok(lapor.as_(people["officer"]), RETURN, id=assignment)
        for client in watching.values():
            await client.wait_for(lambda c=client: len(c.frames["inbox"]) == 2, what="2 events")

        for who in ("officer", "coordinator"):
            expected = watching["Lapor", who].frames["inbox"]
            answered = watching["floor", who].frames["inbox"]
            assert answered == expected, [
                (who, frame_differences(a, b)) for a, b in zip(expected, answered, strict=True)
            ]
        titles = {
            who: [
                orjson.loads(f)["payload"]["data"]["inboxEvents"]["assignment"]["report"]["title"]
                for f in watching["Lapor", who].frames["inbox"]
            ]
            for who in ("officer", "coordinator")
        }
        title = report_input("")["title"]  # what `submit` sends
        assert titles["officer"] == [title, ""]
        assert titles["coordinator"] == [title, title]
    finally:
        for client in watching.values():
            await client.close()


async def test_the_floor_refuses_whom_lapor_refuses(
    servers: tuple[Live, Floor], people: People
) -> None:
    lapor, floor = servers
    dinkes = await agency_gid("DINKES")
    refusals = []
    for url in (lapor.url, floor.url):
        assert (await refused(url, {"token": "not-a-token"})).code == 4403
        client = LiveClient(url)
        await client.open({"token": people["dpupr"].token})
        try:
            await client.subscribe("inbox", INBOX, {AGENCY_VARIABLE: dinkes})
            await client.subscribe("bad", INBOX, {AGENCY_VARIABLE: "not-an-id"})
            await client.wait_for(lambda c=client: c.messages["inbox"] and c.messages["bad"])
            refusals.append([client.messages["inbox"], client.messages["bad"]])
        finally:
            await client.close()
    assert refusals[1] == refusals[0]
    codes = [m[0]["payload"][0]["extensions"]["code"] for m in refusals[0]]
    assert codes == ["FORBIDDEN", "VALIDATION"]
    assert floor.floor.subscriber_count == 0
