"""Compiled execution answers exactly as the generic executor does.

Two apps over one database, one compiling operations and one not (`compiled_execution`), are
asked the same operations as every viewer: hand-written ones that reach every type, fragment
form, directive and error path, and operations generated from the schema (hypothesis-graphql,
a fixed seed). Data and errors must be identical. Besides, every test of the suite checks its
own compiled queries against the generic executor (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from graphql import StringValueNode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import queries

from core.metrics import GRAPHQL_EXECUTIONS
from core.settings import get_settings
from schema.schema import schema as compiled_schema
from tests.app_fixtures import DEMO_VIEWERS, GQL, People, agency_gid, app_client
from tests.factories import ok, submit, verify
from tests.schema.privacy import ACCEPT, INTERIM, population

# Every demo role, another citizen, and the public.
VIEWERS = ("public", "citizen", *DEMO_VIEWERS)

REPORT_FIELDS = """
  __typename id trackingCode kind title body anonymous confidential status createdAt updatedAt
  dueAt overdue supportCount reopenCount address latitude longitude rating
  reporter { id name email roles }
  region { id code name timezone parent { name } }
  category { id name }
  suggestedAgencies { code }
  assignments {
    id status tier assignedAt dueAt overdue escalationLevel returnReason
    agency { code name region { name } parent { code } }
    suggestedAgency { code }
    followUps { id message final resolution createdAt author { name } }
  }
  timeline(first: 3) {
    edges { cursor node { id kind message at actor { name } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
"""

OPERATIONS: dict[str, str] = {
    "reports": f"{{ reports(first: 50) {{ edges {{ cursor node {{ {REPORT_FIELDS} }} }}"
    " pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }",
    "fragments and aliases": """
        query Detail($code: String!) {
          first: report(trackingCode: $code) { ...Core ... on Report { kind } }
          again: report(trackingCode: $code) { t: title, ...Core, __typename }
          missing: report(trackingCode: "LPR-0000-0000") { id }
          __typename
        }
        fragment Core on Report { id title status region { ...Place } reporter { name } }
        fragment Place on Region { name code }
    """,
    "directives": """
        query($with: Boolean!, $without: Boolean!) {
          reports(first: 20) { edges { node {
            id
            timeline(first: 2) @include(if: $with) { edges { node { kind } } }
            assignments @skip(if: $without) { status }
            ... on Report @include(if: $without) { title }
            ... @skip(if: $with) { body }
          } } }
        }
    """,
    "nodes": """
        query($id: ID!) {
          a: node(id: $id) { ...Any }
        }
        fragment Any on Node {
          __typename id
          ... on Report { trackingCode reporter { name } }
          ... on Assignment { status report { title } agency { code } }
          ... on FollowUp { message author { name } }
          ... on ReportEvent { kind actor { name } }
          ... on Region { name }
          ... on Agency { code }
          ... on Category { name }
          ... on User { name email }
        }
    """,
    "reference": """{
        regions { id code name timezone parent { name } }
        agencies { id code name region { name } parent { code } }
        categories { id name }
        me { id name email roles }
    }""",
    "inbox": """
        query($agency: ID!) {
          inbox(agencyId: $agency, status: [PENDING, ACCEPTED], first: 50) {
            edges { cursor node { id status tier assignedAt dueAt overdue escalationLevel
              report { id trackingCode title kind status createdAt dueAt overdue
                       region { name } category { name } reporter { name } }
              agency { code name } } }
            pageInfo { hasNextPage endCursor }
          }
        }
    """,
    "notifications": """{
        notifications(first: 30) { edges { node { id kind message read createdAt
          report { trackingCode title reporter { name } } } }
          pageInfo { hasNextPage endCursor } }
    }""",
    "dead deliveries": """{
        deadDeliveries(first: 10) { edges { node { id channel status recipient report { id } } } }
    }""",
    "a nested error nulls up to the nearest nullable field": """{
        reports(first: 5) { edges { node {
          id timeline(after: "not a cursor") { edges { cursor } } } } }
    }""",
    "a root error": "{ reports(first: -1) { edges { cursor } } }",
    "introspection runs on the generic executor": "{ __schema { queryType { name } } }",
}


@pytest.fixture
async def generic(people: People) -> AsyncIterator[dict[str, GQL]]:
    """The same viewers on an app that runs every operation on the generic executor."""
    settings = get_settings().model_copy(update={"compiled_execution": False})
    async with app_client(settings) as client:
        yield {who: GQL(client, viewer.token) for who, viewer in people.items()}


def _answer(body: dict[str, Any]) -> tuple[bytes, list[bytes]]:
    errors = sorted(orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in body.get("errors", ()))
    return orjson.dumps(body.get("data")), errors


async def _same(
    compiled: GQL, generic: GQL, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    first = await compiled.raw(query, variables)
    second = await generic.raw(query, variables)
    assert first.status_code == second.status_code, (query, first.text, second.text)
    body = first.json()
    assert _answer(body) == _answer(second.json()), (query, variables, first.text, second.text)
    return body  # type: ignore[no-any-return]


async def _world(people: People) -> dict[str, Any]:
    """Reports in every state (tests/schema/test_privacy.py), an answered one, and the ids the
    operations ask for."""
    await population(people)
    report = await submit(people["reporter"], anonymous=False)
    (assignment_id,) = await verify(people["coordinator"], report["id"], "DINKES")
    await ok(people["officer"], ACCEPT, id=assignment_id)
    interim = await ok(people["officer"], INTERIM, id=assignment_id)
    detail = await people["coordinator"](
        "query($c: String!) { report(trackingCode: $c) { region { id } category { id }"
        " timeline(first: 1) { edges { node { id } } } } }",
        {"c": report["trackingCode"]},
    )
    me = await people["reporter"]("{ me { id } }")
    ids = [
        report["id"],
        assignment_id,
        interim["followUps"][0]["id"],
        detail["report"]["timeline"]["edges"][0]["node"]["id"],
        detail["report"]["region"]["id"],
        await agency_gid("DINKES"),
        me["me"]["id"],
        "bm90IGFuIGlk",
    ]
    return {"code": report["trackingCode"], "ids": ids, "agency": await agency_gid("DINKES")}


async def test_every_viewer_gets_the_same_answers_from_both_executors(
    people: People, generic: dict[str, GQL]
) -> None:
    world = await _world(people)
    compiled_before = GRAPHQL_EXECUTIONS.labels("compiled")._value.get()
    for who in VIEWERS:
        compiled, other = people[who], generic[who]
        for name, query in OPERATIONS.items():
            if name == "nodes":
                for node_id in world["ids"]:
                    await _same(compiled, other, query, {"id": node_id})
                continue
            variables = {
                "code": world["code"],
                "agency": world["agency"],
                "with": who != "public",
                "without": who == "public",
            }
            used = {k: v for k, v in variables.items() if f"${k}" in query}
            await _same(compiled, other, query, used)
    ran = GRAPHQL_EXECUTIONS.labels("compiled")._value.get() - compiled_before
    # Every operation but introspection ran compiled, the node query once per id.
    assert ran == len(VIEWERS) * (len(OPERATIONS) - 2 + len(world["ids"]))


async def test_a_nested_error_nulls_up_to_a_nullable_position(people: People) -> None:
    await _world(people)
    body = (
        await people["coordinator"].raw(
            OPERATIONS["a nested error nulls up to the nearest nullable field"]
        )
    ).json()
    paths = [e["path"] for e in body["errors"]]
    assert paths and all(
        p[:3] == ["reports", "edges", p[2]] and p[3:] == ["node", "timeline"] for p in paths
    ), paths
    # `timeline`, `node`, the edges, `edges` and `reports` are all non-null: the error nulls
    # the whole response, and is told once (the first to reach it).
    assert body["data"] is None and len(paths) == 1, body


def _generated(count: int) -> list[str]:
    """`count` queries over the whole schema, the same ones every run."""
    found: list[str] = []
    strategy = queries(
        compiled_schema.as_str(),
        custom_scalars={
            "DateTime": st.sampled_from(
                ["2026-01-05T00:00:00+00:00", "2026-12-31T23:59:59+07:00"]
            ).map(lambda value: StringValueNode(value=value)),
        },
    )

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(query: str) -> None:
        found.append(query)

    collect()
    return found


async def test_generated_operations_get_the_same_answers_from_both_executors(
    people: People, generic: dict[str, GQL]
) -> None:
    await _world(people)
    operations = _generated(120)
    assert len(operations) >= 100
    for query in operations:
        for who in VIEWERS:
            await _same(people[who], generic[who], query)


def _executions() -> tuple[float, float]:
    return (
        GRAPHQL_EXECUTIONS.labels("compiled")._value.get(),
        GRAPHQL_EXECUTIONS.labels("generic")._value.get(),
    )


async def test_seen_operations_run_compiled_and_introspection_generic(
    gql: GQL, generic: dict[str, GQL]
) -> None:
    compiled_before, generic_before = _executions()
    await gql("{ regions { name } }")
    await gql("{ regions { name } }")
    await gql("{ __schema { queryType { name } } }")
    assert _executions() == (compiled_before + 2, generic_before + 1)
    # With the switch off, nothing is compiled.
    await generic["public"]("{ regions { name } }")
    assert _executions() == (compiled_before + 2, generic_before + 2)
