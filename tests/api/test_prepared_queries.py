"""A query runs through the lane for queries (schema/prepared.py), not Strawberry's pipeline, and
every request answers as the pipeline answers it: the service with compilation off (which turns
the lane off) is asked the same requests, by POST and GET, twice each (the second time from the
lane's and the caches' memory)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from core.settings import get_settings
from schema.schema import LaporSchema
from tests.app_fixtures import GQL, app_client

# (name, body): requests refused before execution, or answered with errors, or plain.
REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("plain", {"query": "query Places { regions { code name } }"}),
    ("unnamed", {"query": "{ regions { code } categories { name } }"}),
    (
        "named among several",
        {
            "query": "query A { regions { code } } query B { categories { name } }",
            "operationName": "B",
        },
    ),
    ("several unnamed", {"query": "query A { regions { code } } query B { categories { name } }"}),
    ("unknown name", {"query": "query A { regions { code } }", "operationName": "C"}),
    ("syntax", {"query": "{ regions { code }"}),
    ("unknown field", {"query": "{ regions { nope } }"}),
    (
        "variable of the wrong type",
        {
            "query": "query($n: Int) { reports(first: $n) { edges { cursor } } }",
            "variables": {"n": "many"},
        },
    ),
    (
        "missing variable",
        {
            "query": "query($c: String!) { report(trackingCode: $c) { id } }",
            "variables": {},
        },
    ),
    ("out of bounds", {"query": "{ reports(first: 100000) { edges { cursor } } }"}),
    (
        "over the cost",
        {
            "query": "{ reports(first: 100) { edges { node { timeline(first: 100) {"
            " edges { node { id kind message at } } } } } } }"
        },
    ),
    ("a field's refusal", {"query": "{ reports(first: -1) { edges { cursor } } }"}),
    (
        "a mutation",
        {
            "query": 'mutation { authLogin(email: "nobody@example.org", password: "x") '
            "{ token errors { code } } }"
        },
    ),
    ("a subscription", {"query": "subscription { notificationAdded { id } }"}),
    ("typename", {"query": "{ __typename }"}),
    (
        "fragments, a list and a default",
        {
            "query": "query($s: [ReportStatus!], $n: Int = 2, $t: Boolean!) {"
            " reports(first: $n, filter: {status: $s}) { ...Page } }"
            " fragment Page on ReportConnection { edges { cursor node {"
            " ... on Report { status title @include(if: $t) } } } }",
            "variables": {"s": ["IN_PROGRESS", "CLOSED"], "t": True},
        },
    ),
    (
        "a list of one that is not a list",
        {
            "query": "query($s: [ReportStatus!]) { reports(filter: {status: $s}) {"
            " edges { cursor } } }",
            "variables": {"s": "CLOSED"},
        },
    ),
    (
        "an enum it does not know",
        {
            "query": "query($s: [ReportStatus!]) { reports(filter: {status: $s}) {"
            " edges { cursor } } }",
            "variables": {"s": ["NOPE"]},
        },
    ),
]


@pytest.fixture
async def pipeline(db: str) -> AsyncIterator[httpx.AsyncClient]:
    """The same service without compilation, so without the lane."""
    settings = get_settings().model_copy(update={"compiled_execution": False})
    async with app_client(settings) as client:
        yield client


async def _send(client: httpx.AsyncClient, method: str, body: dict[str, Any]) -> httpx.Response:
    if method == "POST":
        return await client.post("/graphql", json=body)
    params = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in body.items()}
    return await client.get("/graphql", params=params, headers={"accept": "application/json"})


def _answer(response: httpx.Response) -> tuple[int, Any, list[str]]:
    body = response.json()
    errors = sorted(json.dumps(e, sort_keys=True) for e in body.get("errors", ()))
    return response.status_code, body.get("data", "(none)"), errors


async def test_every_request_answers_as_through_strawberrys_pipeline(
    gql: GQL, pipeline: httpx.AsyncClient
) -> None:
    for name, body in REQUESTS:
        for method in ("POST", "GET"):
            for _ in range(2):
                lane = _answer(await _send(gql.client, method, body))
                plain = _answer(await _send(pipeline, method, body))
                assert lane == plain, (name, method, lane, plain)


async def test_a_query_does_not_go_through_strawberrys_pipeline(
    gql: GQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    through: list[str | None] = []
    execute = LaporSchema.execute

    async def counted(self: LaporSchema, query: str | None, *args: Any, **kwargs: Any) -> Any:
        through.append(query)
        return await execute(self, query, *args, **kwargs)

    monkeypatch.setattr(LaporSchema, "execute", counted)
    for name in ("plain", "unnamed", "named among several", "typename"):
        response = await gql.client.post("/graphql", json=dict(REQUESTS)[name])
        assert response.status_code == 200 and "errors" not in response.json(), response.text
    assert through == []
    # What is not a clean query goes the pipeline's way, and is answered there.
    refused = ("several unnamed", "syntax", "unknown field", "over the cost", "a mutation")
    for name in refused:
        await gql.client.post("/graphql", json=dict(REQUESTS)[name])
    assert through == [dict(REQUESTS)[name]["query"] for name in refused]


async def test_each_execution_gets_its_own_variables(gql: GQL) -> None:
    """Variables coerced once for the same values (schema/prepared.py) are each execution's
    own: a resolver that changed its list would not change the next request's."""
    from schema.schema import build_schema

    prepared = build_schema(get_settings()).prepared
    assert prepared is not None
    query = dict(REQUESTS)["fragments, a list and a default"]["query"]
    found = prepared._document(query, None)
    assert found is not None
    _, ready = found
    raw = {"s": ["IN_PROGRESS", "CLOSED"], "t": True}
    first, second = prepared._variables(ready, raw), prepared._variables(ready, dict(raw))
    assert first is not None and second is not None
    assert len(ready.coerced) == 1  # the second from memory
    assert first.coerced == second.coerced and first.coerced["n"] == 2
    assert first.coerced["s"] is not second.coerced["s"]
    assert first.sources["s"].value is not second.sources["s"].value
    first.coerced["s"].append("changed")
    third = prepared._variables(ready, dict(raw))
    assert third is not None and third.coerced == second.coerced
    # Refused values are the pipeline's to answer.
    assert prepared._variables(ready, {"s": ["NOPE"], "t": True}) is None
