"""bench/read_path.py times Lapor's pages against floors that must answer the same bytes: on a
small fill, each floor answers each page as Lapor does, refuses the inbox to whom Lapor refuses
it, and the pages hold what makes the masking and the nulls matter."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from tortoise import connections

from bench import read_path
from bench.floors import Floors
from core.settings import get_settings
from tests.app_fixtures import CHURN_TABLES, GQL, People


@pytest.fixture
async def filled(db: str) -> AsyncIterator[read_path.Filled]:
    """600 reports, 40 open and 10 closed assignments of DINKES; its citizens removed after."""
    yield await read_path.fill(db, 600, dinkes_open=40, dinkes_closed=10)
    await connections.get("default").execute_script(
        f"TRUNCATE {', '.join(CHURN_TABLES)} RESTART IDENTITY CASCADE;"
        "DELETE FROM role_grant WHERE user_id IN "
        "(SELECT id FROM app_user WHERE email LIKE '%@bench.lapor');"
        "DELETE FROM app_user WHERE email LIKE '%@bench.lapor';"
    )


@pytest.fixture
async def floor(db: str) -> AsyncIterator[httpx.AsyncClient]:
    floors = Floors(get_settings().model_copy(update={"database_url": db}))
    await floors.open()
    transport = httpx.ASGITransport(app=Starlette(routes=floors.routes()))
    async with httpx.AsyncClient(transport=transport, base_url="http://floor.test") as client:
        yield client
    await floors.close()


async def _pages(
    scenario: read_path.Scenario,
    filled: read_path.Filled,
    viewer: GQL,
    floor: httpx.AsyncClient,
) -> tuple[bytes, bytes]:
    body = orjson.dumps(
        {"query": scenario.document, "variables": read_path.variables(scenario, filled)}
    )
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if viewer.token:
        headers["Authorization"] = f"Bearer {viewer.token}"
    lapor = await viewer.client.post("/graphql", content=body, headers=headers)
    answer = await floor.post(scenario.floor_path, content=body, headers=headers)
    assert (lapor.status_code, answer.status_code) == (200, 200)
    return lapor.content, answer.content


async def test_each_floor_answers_lapor_s_page_byte_for_byte(
    filled: read_path.Filled, people: People, floor: httpx.AsyncClient
) -> None:
    pages = {}
    for scenario in read_path.SCENARIOS:
        viewer = people["officer" if scenario.signed_in else "public"]
        lapor, answer = await _pages(scenario, filled, viewer, floor)
        assert b'"errors"' not in lapor, lapor[:300]
        assert answer == lapor, scenario.name
        pages[scenario.name] = orjson.loads(lapor)["data"]

    inbox = [e["node"] for e in pages["inbox50"]["inbox"]["edges"]]
    assert len(inbox) == 40 and not pages["inbox50"]["inbox"]["pageInfo"]["hasNextPage"]
    assert {n["status"] for n in inbox} == {"PENDING", "ACCEPTED"}
    assert {n["tier"] is None for n in inbox} == {True, False}
    assert {n["overdue"] for n in inbox} == {True, False}
    assert pages["inbox10"]["inbox"]["pageInfo"]["hasNextPage"]
    public = [e["node"] for e in pages["reports50"]["reports"]["edges"]]
    assert {n["reporter"] is None for n in public} == {True, False}  # anonymous ones masked
    assert {n["category"] is None for n in public} == {True, False}
    assert {n["overdue"] for n in public} == {True, False}
    report = pages["report"]["report"]
    assert len(report["timeline"]["edges"]) == 20 and report["timeline"]["pageInfo"]["hasNextPage"]
    assert [len(a["followUps"]) for a in report["assignments"]] == [0, 2, 1]
    assert pages["ping"] == {"__typename": "Query"}


async def test_the_inbox_floor_refuses_whom_lapor_refuses_and_serves_the_coordinator(
    filled: read_path.Filled, people: People, floor: httpx.AsyncClient
) -> None:
    inbox = read_path.SCENARIOS[0]
    lapor, answer = await _pages(inbox, filled, people["dpupr"], floor)
    codes = [
        [e["extensions"]["code"] for e in orjson.loads(page)["errors"]] for page in (lapor, answer)
    ]
    assert codes == [["FORBIDDEN"], ["FORBIDDEN"]]
    lapor, answer = await _pages(inbox, filled, people["coordinator"], floor)
    assert b'"errors"' not in lapor and answer == lapor
