"""bench/read_path.py times Lapor's pages against floors that must answer the same bytes: on a
small fill, each floor answers each page as Lapor does, refuses the inbox to whom Lapor refuses
it, and the pages hold what makes the masking and the nulls matter."""

from __future__ import annotations

import argparse
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
async def floor_app(db: str) -> AsyncIterator[Starlette]:
    floors = Floors(get_settings().model_copy(update={"database_url": db}))
    await floors.open()
    yield Starlette(routes=floors.routes())
    await floors.close()


@pytest.fixture
async def floor(floor_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=floor_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://floor.test") as client:
        yield client


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


async def test_the_cpu_bench_times_each_page_only_when_both_answer_it_alike(
    filled: read_path.Filled, people: People, floor_app: Starlette
) -> None:
    """bench/request_cpu.py calls both apps in process: every page is the same bytes from both,
    and is timed turn by turn; a page the floor answers otherwise is not timed."""
    from api.app import create_app
    from bench import request_cpu

    lapor = request_cpu.asgi_caller(create_app(get_settings()))
    floor = request_cpu.asgi_caller(floor_app)
    token = people["officer"].token
    assert token is not None
    turns = argparse.Namespace(turns=2, requests=2)
    for scenario in read_path.SCENARIOS:
        found = await request_cpu.page(scenario, filled, lapor, floor, token, turns)
        assert found is not None, scenario.name
        size, floor_cpu, lapor_cpu = found
        assert size > 0 and len(floor_cpu) == len(lapor_cpu) == 2
        assert all(seconds > 0 for seconds in (*floor_cpu, *lapor_cpu))

    async def another_page(
        body: bytes, path: str, headers: dict[bytes, bytes]
    ) -> tuple[int, bytes]:
        status, answer = await floor(body, path, headers)
        return status, answer + b"\n"

    report = next(s for s in read_path.SCENARIOS if s.name == "report")
    assert await request_cpu.page(report, filled, lapor, another_page, token, turns) is None


async def test_the_bytecode_bench_counts_what_each_request_runs_by_function(
    filled: read_path.Filled, floor_app: Starlette
) -> None:
    """bench/bytecodes.py hears every bytecode and every frame entered of the requests it
    counts, and only of those: twice the requests run twice the bytecodes and enter twice the
    frames, Lapor's in its own functions."""
    from api.app import create_app
    from bench import bytecodes, request_cpu

    lapor = request_cpu.asgi_caller(create_app(get_settings()))
    scenario = next(s for s in read_path.SCENARIOS if s.name == "report")
    body = orjson.dumps(
        {"query": scenario.document, "variables": read_path.variables(scenario, filled)}
    )
    once = await bytecodes._counted(lapor, (body, {}, "/graphql"), 1)
    twice = await bytecodes._counted(lapor, (body, {}, "/graphql"), 2)
    # A plain function, not a coroutine: a coroutine runs a few more bytecodes and is entered
    # again each time it is resumed, and how often it waits depends on when the database's
    # answer arrives (`answer` once ran 171 for one request and 336 for two).
    respond = next(
        key for key in once.counts if key[1] == "_respond" and key[0].endswith("api/http.py")
    )
    assert twice.counts[respond] == 2 * once.counts[respond] > 0
    assert twice.entered[respond] == 2 * once.entered[respond] == 2
    assert 1.8 < sum(twice.counts.values()) / sum(once.counts.values()) < 2.2
    assert 1.8 < sum(twice.entered.values()) / sum(once.entered.values()) < 2.2
    assert bytecodes._where(respond[0]) == "api/http.py"
