"""`lapor api` stopped under load (SIGTERM, what a deploy or `lapor run` sends): requests in
flight finish and are answered, WebSocket clients are told to reconnect (1012), nothing is
half-written, and the process exits cleanly."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tortoise import connections

from core.settings import Settings
from models import Report
from tests.app_fixtures import agency_gid, region_gid
from tests.e2e.processes import access_lines
from tests.e2e.test_stack import LOGIN, running_stack
from tests.harness import RedisServer
from tests.live_client import LiveClient

SUBMIT = """mutation($r: ID!) { reportSubmit(input: {kind: COMPLAINT, title: "Banjir",
  body: "Air setinggi lutut.", regionId: $r}) { report { trackingCode } errors { code } } }"""
INBOX = "subscription($a: ID!) { inboxEvents(agencyId: $a) { kind } }"
CLIENTS = 16
# Answers before the SIGTERM: the load is well under way.
UNDER_WAY = 50
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack(db: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with running_stack(db, redis_server.url, tmp_path) as processes:
        yield processes


async def _token(client: httpx.AsyncClient, email: str) -> str:
    answer = await client.post("/graphql", json={"query": LOGIN, "variables": {"e": email}})
    return str(answer.json()["data"]["authLogin"]["token"])


async def _submitting(
    base: str, token: str, region: str, answers: list[Any], under_way: asyncio.Event
) -> None:
    """Submit reports one after another until the server is gone; record every answer."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as client:
        while True:
            try:
                response = await client.post(
                    "/graphql", json={"query": SUBMIT, "variables": {"r": region}}
                )
            except httpx.TransportError:  # refused, or closed before the request was read
                return
            answers.append((response.status_code, response.json()))
            if len(answers) >= UNDER_WAY:
                under_way.set()


async def test_sigterm_under_load_finishes_what_is_in_flight(stack: dict[str, Any]) -> None:
    base, api = stack["base"], stack["api"]
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        citizen = await _token(client, "warga@jember.demo")
        officer = await _token(client, "dinkes@jember.demo")
    live = LiveClient(base.replace("http", "ws") + "/graphql")
    await live.open({"Authorization": f"Bearer {officer}"}, seconds=15)
    await live.subscribe("inbox", INBOX, {"a": await agency_gid("DINKES")})

    answers: list[Any] = []
    region = await region_gid("35.09")
    under_way = asyncio.Event()
    load = [
        asyncio.create_task(_submitting(base, citizen, region, answers, under_way))
        for _ in range(CLIENTS)
    ]
    async with asyncio.timeout(60):
        await under_way.wait()
    api.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    async with asyncio.timeout(60):
        await asyncio.gather(*load)
    closed = await live.wait_closed(seconds=30)
    exit_code = await asyncio.to_thread(api.wait, 60)

    assert closed.code == 1012, closed  # "service restart": reconnect, then catch up
    # uvicorn stops gracefully, then dies of the signal it caught, as a process should.
    assert exit_code in (0, -signal.SIGTERM)
    assert "Finished server process" in (stack["logs"] / "api.log").read_text()
    # No access line was left unwritten (they wait a moment to go out together): one for each
    # answer, and for the two sign-ins.
    access = access_lines(stack["logs"] / "api.log", lambda lines: True, timeout=0)
    assert len([line for line in access if line["status"] == 200]) == len(answers) + 2
    assert time.monotonic() - stopped_at < 30
    # Every request the server took was answered, and answered well.
    assert [a for a in answers if a[0] != 200 or a[1].get("errors")] == []
    told = {a[1]["data"]["reportSubmit"]["report"]["trackingCode"] for a in answers}
    stored = set(await Report.all().values_list("tracking_code", flat=True))
    assert told == stored, (len(told), len(stored))
    # Nothing half-written: each report has its timeline line and its outbox row.
    _, rows = await connections.get("default").execute_query(
        "SELECT count(*) AS n FROM report r WHERE NOT EXISTS (SELECT 1 FROM report_event e "
        "JOIN outbox_message o ON o.event_id = e.id WHERE e.report_id = r.id)"
    )
    assert rows[0]["n"] == 0


def test_docker_compose_lets_the_api_drain_before_it_kills_it() -> None:
    """Docker sends SIGKILL after the service's stop grace (10 s unless set): it must outlast
    the API's own grace for requests in flight, or a deploy cuts them off."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grace = compose["services"]["api"].get("stop_grace_period", "10s")
    assert grace.endswith("s"), grace
    assert int(grace[:-1]) > Settings.model_fields["api_shutdown_grace_seconds"].default
