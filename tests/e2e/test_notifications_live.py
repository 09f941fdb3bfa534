"""End to end: a change made over HTTP reaches a signed-in person's `notificationAdded`
through the worker's fan-out, and the request's id follows it into the worker's job log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.app_fixtures import region_gid
from tests.e2e.test_live_stack import _connect, _subscribed
from tests.e2e.test_stack import LOGIN, _post, running_stack
from tests.harness import RedisServer

NOTIFIED = "subscription { notificationAdded { kind message read report { trackingCode } } }"
SUBMIT = """mutation($r: ID!) { reportSubmit(input: {kind: COMPLAINT, title: "Banjir di gang",
  body: "Air setinggi lutut", regionId: $r}) { report { trackingCode } errors { code } } }"""


@pytest.fixture
def stack(db: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with running_stack(db, redis_server.url, tmp_path) as processes:
        yield processes


async def test_a_submitted_report_reaches_the_coordinators_live_notifications(
    stack: dict[str, Any],
) -> None:
    request_id = f"e2e-{uuid.uuid4().hex[:12]}"
    async with httpx.AsyncClient(base_url=stack["base"], timeout=10) as http:
        citizen = (await _post(http, LOGIN, {"e": "warga@jember.demo"}))["authLogin"]["token"]
        desk = (await _post(http, LOGIN, {"e": "koordinator@jember.demo"}))["authLogin"]["token"]
        live = await _connect(stack["base"].replace("http://", "ws://") + "/graphql", desk)
        await _subscribed(live, "mine", NOTIFIED, {})
        response = await http.post(
            "/graphql",
            json={"query": SUBMIT, "variables": {"r": await region_gid("35.09")}},
            headers={"Authorization": f"Bearer {citizen}", "X-Request-Id": request_id},
        )
        assert response.headers["x-request-id"] == request_id
        code = response.json()["data"]["reportSubmit"]["report"]["trackingCode"]

        await live.wait_for(lambda: live.data("mine"), seconds=10, what="a notification")
        note = live.data("mine")[0]["notificationAdded"]
        assert note["kind"] == "report.submitted" and note["read"] is False
        assert note["report"]["trackingCode"] == code and code in note["message"]
        await live.close()

    worker_lines = [
        json.loads(line)
        for line in (stack["logs"] / "worker.log").read_text().splitlines()
        if line.startswith("{")
    ]
    # The row is fanned out once, by its own job or by the drain, whichever claims it first;
    # either way its line carries the request's id.
    fan_outs = [
        line
        for line in worker_lines
        if "in_app" in line or isinstance(line.get("result"), dict)  # a row that was fanned out
    ]
    assert [line.get("request_id") for line in fan_outs] == [request_id], worker_lines
