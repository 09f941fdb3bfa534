"""What an operation may ask before it runs: its cost (a connection counts `first` times) and,
in production, introspection only for console users."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from graphql import parse
from tortoise import connections

from api.http import GRAPHQL_RESPONSE
from bench.read_path import INBOX
from core.settings import get_settings
from schema.limits import COST_LIMIT_EXCEEDED, operation_weight
from tests.app_fixtures import GQL, app_client

DEEP = """query Deep($n: Int) {
  notifications(first: $n) { edges { node { report {
    timeline(first: 10000) { edges { node { kind actor { name } } } }
  } } } }
  reports(first: 10000) { edges { node { timeline(first: 10000) { edges { node { kind } } } } } }
}"""


def _weight(query: str, variables: dict[str, object] | None = None) -> int:
    from schema.schema import schema

    return operation_weight(schema._schema, parse(query), None, variables, 100).cost


# ------------------------------------------------------------------- the cost model


def test_every_field_costs_one_and_edges_count_first_times() -> None:
    assert _weight("{ regions { code name } }") == 3
    # reports 1, edges 1 + 10 x (node 1 + id 1), pageInfo 1 + hasNextPage 1
    assert (
        _weight("{ reports(first: 10) { edges { node { id } } pageInfo { hasNextPage } } }") == 24
    )
    assert _weight("query($n: Int) { reports(first: $n) { edges { cursor } } }", {"n": 7}) == 9
    assert _weight("query($n: Int = 3) { reports(first: $n) { edges { cursor } } }") == 5
    # no `first`: a full page (100), whatever the default page size
    assert _weight("{ reports { edges { cursor } } }") == 102


def test_nested_connections_multiply() -> None:
    inner = "timeline(first: 10) { edges { node { kind } } }"
    query = "{ reports(first: 10) { edges { node { " + inner + " } } } }"
    # reports 1 + edges 1 + 10 x (node 1 + timeline 1 + edges 1 + 10 x (node 1 + kind 1))
    assert _weight(query) == 2 + 10 * (3 + 10 * 2)


def test_a_list_asked_by_size_counts_its_items_first_times() -> None:
    inner = "similar(first: 5) { score report { id } }"
    query = "{ reports(first: 10) { edges { node { " + inner + " } } } }"
    # reports 1 + edges 1 + 10 x (node 1 + similar 1 + 5 x (score 1 + report 1 + id 1))
    assert _weight(query) == 2 + 10 * (2 + 5 * 3)
    # no `first`: counted as a full page (100), whatever the default size
    assert _weight('{ similarPublicReports(title: "x", regionId: "r") { id } }') == 1 + 100


def test_fragments_count_where_they_are_spread_and_cannot_blow_up_the_walk() -> None:
    spread = "query { reports(first: 5) { ...Page } } fragment Page on ReportConnection"
    assert _weight(spread + " { edges { node { id title } } }") == 1 + 1 + 5 * 3
    # 2^40 expansions if each spread were walked anew: the walk must stay instant.
    names = [f"F{i}" for i in range(41)]
    fragments = " ".join(
        f"fragment {a} on Query {{ ...{b} ...{b} }}" for a, b in itertools.pairwise(names)
    )
    bomb = f"query {{ ...F0 }} {fragments} fragment F40 on Query {{ __typename }}"
    started = time.perf_counter()
    assert _weight(bomb) == 2**40
    # Not a speed target: walked anew, 2^40 spreads would take days. A generous bound keeps a
    # loaded machine (it took 0.54 s once beside spawning processes) from failing it.
    assert time.perf_counter() - started < 5


def test_the_benchmark_page_is_well_within_the_default_limit() -> None:
    assert _weight(INBOX, {"first": 100}) < get_settings().max_query_cost / 10


# --------------------------------------------------------------- refused before it runs


class _Statements:
    """Counts the SQL statements the default connection runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        conn = connections.get("default")
        for name in ("execute_query", "execute_query_dict", "execute_insert", "execute_script"):
            original = getattr(conn, name)

            async def counted(*args: object, _original: object = original, **kw: object) -> object:
                self.count += 1
                return await _original(*args, **kw)  # type: ignore[operator]

            monkeypatch.setattr(conn, name, counted)


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, "application/json"])
async def test_first_10000_nested_three_deep_is_refused_before_execution(
    people: dict[str, GQL], accept: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    officer = people["officer"]
    statements = _Statements(monkeypatch)
    response = await officer.client.post(
        "/graphql",
        json={"query": DEEP, "variables": {"n": 10000}},
        headers={"Authorization": f"Bearer {officer.token}", "accept": accept},
    )
    assert response.status_code == (400 if accept == GRAPHQL_RESPONSE else 200), response.text
    body = response.json()
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == COST_LIMIT_EXCEEDED
    assert error["extensions"]["limit"] == get_settings().max_query_cost
    assert error["extensions"]["cost"] > 10**8
    assert "first" in error["message"]
    # Only the sign-in's own lookups of the actor ran: nothing of the operation.
    assert statements.count <= 2


async def test_an_operation_just_within_a_limit_runs_and_just_over_it_is_refused(
    db: str,
) -> None:
    query = "query($n: Int) { reports(first: $n) { edges { cursor } } }"  # costs n + 2
    settings = get_settings().model_copy(update={"max_query_cost": 12})
    async with app_client(settings) as client:
        within = await client.post("/graphql", json={"query": query, "variables": {"n": 10}})
        over = await client.post("/graphql", json={"query": query, "variables": {"n": 11}})
    assert within.status_code == over.status_code == 200
    assert "errors" not in within.json()
    assert over.json()["errors"][0]["extensions"]["code"] == COST_LIMIT_EXCEEDED


# ---------------------------------------------------------------------- introspection

INTROSPECT = "{ __schema { queryType { name } } }"
PRODUCTION_SECRET = "production-secret-" * 3


@pytest.fixture
async def production(db: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = get_settings().model_copy(
        update={"env": "production", "secret_key": PRODUCTION_SECRET}
    )
    async with app_client(settings) as client:
        yield client


async def _ask(client: httpx.AsyncClient, query: str, token: str | None = None) -> httpx.Response:
    headers = {"accept": GRAPHQL_RESPONSE}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return await client.post("/graphql", json={"query": query}, headers=headers)


async def test_introspection_is_refused_to_the_public_in_production(
    production: httpx.AsyncClient,
) -> None:
    for query in (INTROSPECT, '{ __type(name: "Report") { fields { name } } }'):
        response = await _ask(production, query)
        assert response.status_code == 403, response.text
        assert "data" not in response.json()
        assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Naming a result's type is not introspection: clients rely on it.
    named = await _ask(production, "{ __typename regions { __typename code } }")
    assert named.status_code == 200
    assert named.json()["data"]["__typename"] == "Query"


async def test_introspection_in_production_is_for_superadmins_and_coordinators(
    production: httpx.AsyncClient, people: dict[str, GQL]
) -> None:
    for who, allowed in [
        ("admin", True),
        ("coordinator", True),
        ("officer", False),
        ("reporter", False),
        ("ombudsman", False),
    ]:
        response = await _ask(production, INTROSPECT, people[who].token)
        assert (response.status_code == 200) is allowed, (who, response.text)
        if allowed:
            assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_introspection_is_open_outside_production(gql: GQL) -> None:
    assert (await gql(INTROSPECT))["__schema"]["queryType"]["name"] == "Query"
