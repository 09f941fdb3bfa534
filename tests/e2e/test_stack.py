"""End to end on the real stack: `lapor api` (uvicorn) and `lapor worker` (arq) as processes,
on PostgreSQL and Redis, driven over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from models import OutboxMessage
from tests.e2e.processes import spawn, stop, wait_healthy
from tests.files import image_size, leaked, phone_jpeg
from tests.harness import RedisServer, free_port


@contextlib.contextmanager
def running_stack(
    db: str, redis_url: str, logs: Path, *, apis: int = 1, env: dict[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """`apis` API processes and a worker process on the session database and the given Redis;
    "base" and "api" are the first API's, "bases" and "apis" all of them."""
    ports = [free_port() for _ in range(apis)]
    common = {
        **os.environ,
        "LAPOR_ENV": "test",
        "LAPOR_DATABASE_URL": db,
        "LAPOR_REDIS_URL": redis_url,
        **(env or {}),
    }
    procs = [
        spawn(["api", "--port", str(port)], {**common, "LAPOR_PORT": str(port)}, _api_log(logs, i))
        for i, port in enumerate(ports)
    ]
    worker = spawn(["worker"], common, logs / "worker.log")
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for i, (api, base) in enumerate(zip(procs, bases, strict=True)):
            wait_healthy(base, api, _api_log(logs, i))
        yield {
            "base": bases[0],
            "api": procs[0],
            "bases": bases,
            "apis": procs,
            "worker": worker,
            "logs": logs,
        }
    finally:
        for api in procs:
            stop(api)
        stop(worker)


def _api_log(logs: Path, i: int) -> Path:
    return logs / ("api.log" if i == 0 else f"api{i + 1}.log")


@pytest.fixture
def stack(db: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with running_stack(db, redis_server.url, tmp_path) as processes:
        yield processes


@pytest.fixture
def stack_started_without_redis(
    db: str, redis_server: RedisServer, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    redis_server.stop()
    try:
        with running_stack(db, redis_server.url, tmp_path) as processes:
            yield processes
    finally:
        redis_server.start()


async def _post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


LOGIN = 'mutation($e:String!){authLogin(email:$e,password:"lapor-demo"){token}}'
SUBMIT = (
    "mutation($r:ID!,$t:String!){reportSubmit(input:{kind:COMPLAINT,title:$t,"
    'body:"Jalan berlubang di depan pasar",regionId:$r}){report{id trackingCode} '
    "errors{code}}}"
)


class EventTap:
    """A subscriber on the relay's Redis channel."""

    def __init__(self, url: str) -> None:
        self.client = aioredis.from_url(url)
        self.pubsub = self.client.pubsub()

    async def __aenter__(self) -> EventTap:
        await self.pubsub.subscribe("lapor:events")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pubsub.aclose()
        await self.client.aclose()

    async def wait_for(self, kind: str, report_id: int, seconds: float) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:
                event = json.loads(message["data"])
                if event.get("kind") == kind and event.get("report_id") == report_id:
                    return event
        raise AssertionError(f"no {kind} event for report {report_id} within {seconds} s")


async def test_submit_is_relayed_and_survives_a_redis_outage(
    stack: dict[str, Any], redis_server: RedisServer
) -> None:
    async with httpx.AsyncClient(base_url=stack["base"], timeout=10) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["database"] is True and ready.json()["redis"] is True
        token = (await _post(client, LOGIN, {"e": "warga@jember.demo"}))["authLogin"]["token"]
        regions = await _post(client, "{regions{id code}}", {})
        jember = next(r["id"] for r in regions["regions"] if r["code"] == "35.09")

        async with EventTap(redis_server.url) as tap:
            first = await _post(client, SUBMIT, {"r": jember, "t": "Jalan rusak 1"}, token)
            report_id = await _report_pk(first["reportSubmit"]["report"]["trackingCode"])
            await tap.wait_for("report.submitted", report_id, 10)
        await _all_relayed(stack, 10)

        redis_server.stop()
        try:
            down = await client.get("/readyz")
            assert down.status_code == 503 and down.json()["redis"] is False
            second = await _post(client, SUBMIT, {"r": jember, "t": "Jalan rusak 2"}, token)
            assert second["reportSubmit"]["errors"] == []
            assert await OutboxMessage.filter(dispatched_at__isnull=True).count() == 1
        finally:
            redis_server.start()
        # Pub/sub is at most once and the relay may publish before we could subscribe again:
        # the outbox row being marked relayed is the guarantee.
        await _all_relayed(stack, 30)
        assert stack["worker"].poll() is None, (stack["logs"] / "worker.log").read_text()
        # The live relay subscribed again too, and readiness says so.
        deadline = time.monotonic() + 30
        while not (await client.get("/readyz")).json()["live"]:
            assert time.monotonic() < deadline, "the live relay never resubscribed"
            await asyncio.sleep(0.2)
    assert stack["api"].poll() is None, (stack["logs"] / "api.log").read_text()


async def _all_relayed(stack: dict[str, Any], seconds: float) -> None:
    """Wait until every outbox row is marked relayed (the relay commits after publishing)."""
    deadline = time.monotonic() + seconds
    while await OutboxMessage.filter(dispatched_at__isnull=True).count():
        assert time.monotonic() < deadline, (stack["logs"] / "worker.log").read_text()
        await asyncio.sleep(0.2)


async def _report_pk(tracking_code: str) -> int:
    from models import Report

    return (await Report.get(tracking_code=tracking_code)).id


async def test_an_api_started_without_redis_connects_once_redis_is_up(
    stack_started_without_redis: dict[str, Any], redis_server: RedisServer
) -> None:
    stack = stack_started_without_redis
    async with httpx.AsyncClient(base_url=stack["base"], timeout=10) as client:
        assert (await client.get("/readyz")).status_code == 503
        token = (await _post(client, LOGIN, {"e": "warga@jember.demo"}))["authLogin"]["token"]
        regions = await _post(client, "{regions{id code}}", {})
        jember = next(r["id"] for r in regions["regions"] if r["code"] == "35.09")
        stored = await _post(client, SUBMIT, {"r": jember, "t": "Tanpa Redis"}, token)
        assert stored["reportSubmit"]["errors"] == []
        # Longer than arq's own five retries: the worker must still be waiting, not gone.
        await asyncio.sleep(7)
        assert stack["worker"].poll() is None, (stack["logs"] / "worker.log").read_text()
        redis_server.start()
        deadline = time.monotonic() + 15
        while (await client.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, "the API never reconnected to Redis"
            await asyncio.sleep(0.5)
        await _all_relayed(stack, 30)
    assert stack["api"].poll() is None, (stack["logs"] / "api.log").read_text()
    assert stack["worker"].poll() is None, (stack["logs"] / "worker.log").read_text()


async def test_an_uploaded_photo_gets_its_thumbnail_from_the_worker(stack: dict[str, Any]) -> None:
    """Over real HTTP: a photo sent with a report is served clean, and the worker's job makes
    its thumbnail within seconds (the job the API enqueued after the commit)."""
    query = (
        "mutation($input: ReportSubmitInput!) { reportSubmit(input: $input) {"
        " report { id attachments { url thumbnailUrl } } errors { code } } }"
    )
    read = "query($id: ID!) { node(id: $id) { ... on Report { attachments { thumbnailUrl } } } }"
    async with httpx.AsyncClient(base_url=stack["base"], timeout=10) as client:
        token = (await _post(client, LOGIN, {"e": "warga@jember.demo"}))["authLogin"]["token"]
        regions = await _post(client, "{regions{id code}}", {})
        jember = next(r["id"] for r in regions["regions"] if r["code"] == "35.09")
        variables = {
            "input": {
                "kind": "COMPLAINT",
                "title": "Jembatan retak",
                "body": "Retakan makin lebar sejak hujan.",
                "regionId": jember,
                "attachments": [None],
            }
        }
        sent = await client.post(
            "/graphql",
            data={"operations": json.dumps({"query": query, "variables": variables}),
                  "map": json.dumps({"0": ["variables.input.attachments.0"]})},
            files={"0": ("IMG_0001.jpg", phone_jpeg((1200, 800)), "image/jpeg")},
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
        assert sent.status_code == 200, sent.text
        report = sent.json()["data"]["reportSubmit"]["report"]
        photo = await client.get(report["attachments"][0]["url"])
        assert photo.status_code == 200 and leaked(photo.content) == []

        deadline = time.monotonic() + 20
        while True:
            found = await _post(client, read, {"id": report["id"]}, token)
            thumbnail_url = found["node"]["attachments"][0]["thumbnailUrl"]
            if thumbnail_url is not None:
                break
            assert time.monotonic() < deadline, (stack["logs"] / "worker.log").read_text()
            await asyncio.sleep(0.2)
        thumbnail = await client.get(thumbnail_url)
        assert thumbnail.status_code == 200 and leaked(thumbnail.content) == []
        assert max(image_size(thumbnail.content)) == 320
