"""Hostile or broken requests over HTTP: refused with a clear, coded answer, never a 500,
never a stack trace, and a refused mutation stores nothing."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from core.settings import get_settings
from domain.auth import issue_token
from models import Report, User
from schema.ids import to_global_id
from tests.app_fixtures import GQL, JEMBER, region_gid

TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/', '.py", line ')


# ---------------------------------------------------------------------------- helpers


def _no_traceback(response: httpx.Response) -> None:
    for marker in TRACEBACK_MARKERS:
        assert marker not in response.text, f"stack trace leaked: {response.text[:2000]}"


def _graphql_errors(response: httpx.Response, *, allow_400: bool = False) -> list[dict[str, Any]]:
    """The `errors` of a refused GraphQL request, checking the transport around them."""
    allowed = {200, 400} if allow_400 else {200}
    assert response.status_code in allowed, (response.status_code, response.text[:2000])
    _no_traceback(response)
    body = response.json()
    errors = body.get("errors")
    assert errors, f"expected GraphQL errors, got {body}"
    assert body.get("data") is None, body
    return errors  # type: ignore[no-any-return]


def _messages(errors: list[dict[str, Any]]) -> str:
    return " | ".join(str(e.get("message", "")) for e in errors)


def _codes(errors: list[dict[str, Any]]) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in errors]


def _submit(selection: str = "report { id } errors { code message field }") -> str:
    return (
        "mutation($input: ReportSubmitInput!) { reportSubmit(input: $input) { " + selection + " } }"
    )


async def _submit_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "kind": "COMPLAINT",
        "title": "Lampu jalan mati",
        "body": "Lampu jalan di Jalan Kalimantan mati sejak seminggu.",
        "regionId": await region_gid(JEMBER),
    }
    return {"input": {**values, **overrides}}


async def _nothing_stored() -> None:
    assert await Report.all().count() == 0, "a refused request stored a report"


# ------------------------------------------------------------------- malformed input


async def test_a_syntax_error_is_a_graphql_error_not_a_crash(gql: GQL) -> None:
    response = await gql.raw("{ regions { id ")
    errors = _graphql_errors(response, allow_400=True)
    assert "Syntax Error" in _messages(errors)


async def test_a_mutation_with_a_syntax_error_stores_nothing(gql: GQL) -> None:
    citizen = await gql.sign_in("warga@jember.demo")
    query = _submit().replace("reportSubmit(input: $input)", "reportSubmit(input: $input")
    response = await citizen.raw(query, await _submit_input())
    errors = _graphql_errors(response, allow_400=True)
    assert "Syntax Error" in _messages(errors)
    await _nothing_stored()


async def test_a_body_that_is_not_json_is_a_400(gql: GQL) -> None:
    response = await gql.client.post(
        "/graphql",
        content=b"{ this is not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    _no_traceback(response)


async def test_a_json_body_without_a_query_is_a_400(gql: GQL) -> None:
    response = await gql.client.post("/graphql", json={"variables": {}})
    assert response.status_code == 400, response.text
    _no_traceback(response)


async def test_an_unknown_field_is_a_validation_error(gql: GQL) -> None:
    errors = _graphql_errors(await gql.raw("{ regions { id doesNotExist } }"))
    assert "Cannot query field 'doesNotExist'" in _messages(errors)


async def test_a_mutation_asking_an_unknown_field_stores_nothing(gql: GQL) -> None:
    citizen = await gql.sign_in("warga@jember.demo")
    response = await citizen.raw(
        _submit("report { id secretField } errors { code }"), await _submit_input()
    )
    errors = _graphql_errors(response)
    assert "secretField" in _messages(errors)
    await _nothing_stored()


async def test_a_mutation_with_an_unknown_input_field_stores_nothing(gql: GQL) -> None:
    citizen = await gql.sign_in("warga@jember.demo")
    response = await citizen.raw(_submit(), await _submit_input(priority="URGENT"))
    errors = _graphql_errors(response)
    assert "priority" in _messages(errors)
    await _nothing_stored()


async def test_an_input_the_domain_refuses_comes_back_in_the_payload(gql: GQL) -> None:
    citizen = await gql.sign_in("warga@jember.demo")
    too_long = "x" * (get_settings().title_max_length + 1)
    data = await citizen(_submit(), await _submit_input(title=too_long))
    payload = data["reportSubmit"]
    assert payload["report"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", ["title"])]
    await _nothing_stored()


# ------------------------------------------------------------------------ the limits


def _deep_agencies(depth: int) -> str:
    # agencies(1) + `parent` (depth - 1 times) + id: `depth` levels of selection
    return "{ agencies { " + "parent { " * (depth - 1) + "id" + " }" * (depth - 1) + " } }"


async def test_a_query_nested_20_deep_is_refused_for_its_depth(gql: GQL) -> None:
    for _ in range(2):  # the second time through the parser and validation caches
        errors = _graphql_errors(await gql.raw(_deep_agencies(20)))
        assert "depth" in _messages(errors).lower(), errors


async def test_the_depth_limit_is_exactly_the_setting(gql: GQL) -> None:
    limit = get_settings().max_query_depth
    data = await gql(_deep_agencies(limit))
    assert data["agencies"], data
    errors = _graphql_errors(await gql.raw(_deep_agencies(limit + 1)))
    assert "depth" in _messages(errors).lower(), errors


async def test_a_deep_report_assignment_cycle_is_refused(gql: GQL) -> None:
    coordinator = await gql.sign_in("koordinator@jember.demo")
    cycle = "{ reports { edges { node { " + "assignments { report { " * 9 + "id" + " } }" * 9
    cycle += " } } } }"
    errors = _graphql_errors(await coordinator.raw(cycle))
    assert "depth" in _messages(errors).lower(), errors


async def test_a_deep_mutation_is_refused_and_stores_nothing(gql: GQL) -> None:
    citizen = await gql.sign_in("warga@jember.demo")
    selection = "report { " + "assignments { report { " * 9 + "id" + " } }" * 9 + " }"
    response = await citizen.raw(_submit(selection), await _submit_input())
    errors = _graphql_errors(response)
    assert "depth" in _messages(errors).lower(), errors
    await _nothing_stored()


async def test_fifty_aliases_are_refused(gql: GQL) -> None:
    query = "{ " + " ".join(f"r{i}: regions {{ id }}" for i in range(50)) + " }"
    for _ in range(2):
        errors = _graphql_errors(await gql.raw(query))
        assert "aliases" in _messages(errors).lower(), errors


async def test_a_mutation_with_fifty_aliases_is_refused_and_stores_nothing(gql: GQL) -> None:
    citizen = await gql.sign_in("warga@jember.demo")
    fields = " ".join(f"s{i}: reportSubmit(input: $input) {{ report {{ id }} }}" for i in range(50))
    query = "mutation($input: ReportSubmitInput!) { " + fields + " }"
    errors = _graphql_errors(await citizen.raw(query, await _submit_input()))
    assert "aliases" in _messages(errors).lower(), errors
    await _nothing_stored()


async def test_a_query_over_the_token_limit_is_refused(gql: GQL) -> None:
    tokens = get_settings().max_query_tokens
    query = "{ regions { " + " id" * (tokens + 100) + " } }"
    for _ in range(2):
        errors = _graphql_errors(await gql.raw(query), allow_400=True)
        assert "tokens" in _messages(errors).lower(), errors


async def test_a_mutation_over_the_token_limit_is_refused_and_stores_nothing(gql: GQL) -> None:
    citizen = await gql.sign_in("warga@jember.demo")
    selection = "report { " + " id" * (get_settings().max_query_tokens + 100) + " }"
    response = await citizen.raw(_submit(selection), await _submit_input())
    errors = _graphql_errors(response, allow_400=True)
    assert "tokens" in _messages(errors).lower(), errors
    await _nothing_stored()


async def test_a_mutation_over_get_is_refused_and_stores_nothing(gql: GQL) -> None:
    citizen = await gql.sign_in("warga@jember.demo")
    response = await gql.client.get(
        "/graphql",
        params={
            "query": _submit(),
            "variables": json.dumps(await _submit_input()),
        },
        headers={"Authorization": f"Bearer {citizen.token}"},
    )
    assert response.status_code in {400, 405, 406}, (response.status_code, response.text)
    _no_traceback(response)
    await _nothing_stored()


# ---------------------------------------------------------------- pagination and ids


@pytest.mark.parametrize("first", [-1, 1000])
async def test_a_page_size_out_of_bounds_is_a_validation_error(gql: GQL, first: int) -> None:
    coordinator = await gql.sign_in("koordinator@jember.demo")
    response = await coordinator.raw(
        "query($first: Int) { reports(first: $first) { edges { cursor } } }", {"first": first}
    )
    errors = _graphql_errors(response)
    assert _codes(errors) == ["VALIDATION"], errors
    assert errors[0]["extensions"].get("field") == ["first"]


@pytest.mark.parametrize("cursor", ["garbage", "!!!", to_global_id("Report", 1), "azo"])
async def test_a_bad_cursor_is_a_validation_error(gql: GQL, cursor: str) -> None:
    coordinator = await gql.sign_in("koordinator@jember.demo")
    response = await coordinator.raw(
        "query($after: String) { reports(after: $after) { edges { cursor } } }",
        {"after": cursor},
    )
    errors = _graphql_errors(response)
    assert _codes(errors) == ["VALIDATION"], errors
    assert errors[0]["extensions"].get("field") == ["after"]


@pytest.mark.parametrize("node_id", ["garbage", "", "UmVwb3J0OmFiYw", to_global_id("Report", 999)])
async def test_node_with_a_garbage_id_is_null(gql: GQL, node_id: str) -> None:
    data = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": node_id})
    assert data == {"node": None}


# ----------------------------------------------------------------------------- tokens


async def _expired_token() -> str:
    user = await User.get(email="warga@jember.demo")
    now = datetime.now(UTC)
    return issue_token(user.id, get_settings().secret_key, now - timedelta(days=30), 60)


async def _assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, (response.status_code, response.text)
    _no_traceback(response)
    text = response.text.lower()
    assert "token" in text and ("expired" in text or "invalid" in text), response.text


async def test_an_expired_token_is_a_401_with_a_clear_message(gql: GQL) -> None:
    expired = GQL(gql.client, await _expired_token())
    await _assert_401(await expired.raw("{ me { id } }"))


async def test_a_forged_token_is_a_401(gql: GQL) -> None:
    user = await User.get(email="warga@jember.demo")
    forged = issue_token(user.id, "not-the-secret-" * 4, datetime.now(UTC), 3600)
    await _assert_401(await GQL(gql.client, forged).raw("{ me { id } }"))
    await _assert_401(await GQL(gql.client, "not.a.token").raw("{ me { id } }"))


async def test_a_mutation_with_an_expired_token_is_a_401_and_stores_nothing(gql: GQL) -> None:
    expired = GQL(gql.client, await _expired_token())
    await _assert_401(await expired.raw(_submit(), await _submit_input()))
    await _nothing_stored()


# ---------------------------------------------------------------------------- masking


@pytest.mark.provokes_internal
async def test_an_unexpected_exception_is_masked(gql: GQL, monkeypatch: pytest.MonkeyPatch) -> None:
    from domain.services import reference

    async def broken() -> list[Any]:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(reference, "all_categories", broken)
    response = await gql.raw("{ categories { id name } regions { code } }")
    assert response.status_code == 200, response.text
    _no_traceback(response)
    assert "secret detail" not in response.text
    assert "RuntimeError" not in response.text
    body = response.json()
    errors = body["errors"]
    assert [e["message"] for e in errors] == ["Unexpected error."], errors
    assert _codes(errors) == ["INTERNAL"], errors
    assert errors[0].get("path") == ["categories"]


@pytest.mark.provokes_internal
async def test_an_exception_escaping_a_route_is_a_coded_500_with_the_request_id(
    gql: GQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    from domain.services import reference

    async def broken() -> list[Any]:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(reference, "all_categories", broken)
    response = await gql.client.get("/open311/v2/services.json", headers={"X-Request-Id": "r-13"})
    assert response.status_code == 500, response.text
    assert response.headers["x-request-id"] == "r-13"
    assert response.headers["content-type"] == "application/json"
    _no_traceback(response)
    assert "secret detail" not in response.text
    assert _codes(response.json()["errors"]) == ["INTERNAL"]


async def test_a_repeated_operation_is_parsed_and_validated_once(
    gql: GQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    from strawberry.extensions.parser_cache import _get_parse_cache

    import schema.documents

    validations: list[object] = []
    validate = schema.documents.validate_document

    def counted(*args: Any) -> Any:
        validations.append(args[1])
        return validate(*args)

    monkeypatch.setattr(schema.documents, "validate_document", counted)
    size = get_settings().parser_cache_size
    query = "{ regions { id code } agencies { id } }"
    await gql(query)
    parsed, validated = _get_parse_cache(size).cache_info(), len(validations)
    for _ in range(3):
        await gql(query)
    # The repeats are not parsed again (a query's lane keeps its document: schema/prepared.py)
    # nor validated again.
    assert _get_parse_cache(size).cache_info().misses == parsed.misses
    assert len(validations) == validated
    await gql(f"{{ r{uuid.uuid4().hex}: regions {{ id }} }}")  # a new document is
    assert len(validations) == validated + 1
    # Limits still apply to a cached document.
    for _ in range(2):
        errors = _graphql_errors(await gql.raw(_deep_agencies(20)))
        assert "depth" in _messages(errors).lower(), errors


# ----------------------------------------------------- issue 13: values out of bounds
# Each row of the issue's table: an INTERNAL or a bare 500 before; a coded refusal naming the
# argument now (HTTP 400 where the protocol has statuses), with the request id.

BIGINT_OVERFLOW = (2**63, 10**30, -(2**63) - 1)
STRICT = {"Accept": "application/graphql-response+json"}


def _cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"k:{key}".encode()).decode().rstrip("=")


def _refused(response: httpx.Response, code: str, field: list[str]) -> None:
    """A request error (nothing ran) with `code` naming `field`, answered as JSON."""
    assert response.status_code == 400, (response.status_code, response.text[:500])
    assert response.headers.get("x-request-id"), response.headers
    _no_traceback(response)
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == code, error
    assert error["extensions"].get("field") == field, error


async def _post(client: GQL, query: str, variables: dict[str, Any]) -> httpx.Response:
    headers = {**STRICT, **({"Authorization": f"Bearer {client.token}"} if client.token else {})}
    return await client.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )


@pytest.mark.parametrize("first", [2**63, 2**70, -(2**63), 2**31])
async def test_a_page_size_beyond_any_integer_is_a_validation_error(gql: GQL, first: int) -> None:
    coordinator = await gql.sign_in("koordinator@jember.demo")
    query = "query($n: Int) { reports(first: $n) { edges { cursor } } }"
    _refused(await _post(coordinator, query, {"n": first}), "VALIDATION", ["first"])


async def test_pages_of_pages_of_the_largest_int_are_refused_for_their_cost(gql: GQL) -> None:
    # Each `first` a valid Int; their products overflow any JSON encoder's integers.
    most = 2**31 - 1
    inner = f"timeline(first: {most}) {{ edges {{ cursor }} }}"
    page = f"reports(first: {most}) {{ edges {{ node {{ {inner} }} }} }}"
    query = "{ " + " ".join(f"a{i}: {page}" for i in range(20)) + " }"
    response = await _post(gql, query, {})
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    assert error["extensions"]["cost"] == 2**53 - 1


@pytest.mark.parametrize("key", BIGINT_OVERFLOW)
@pytest.mark.parametrize(
    ("who", "query"),
    [
        (
            "koordinator@jember.demo",
            "query($a: String) { reports(after: $a) { edges { cursor } } }",
        ),
        (
            "koordinator@jember.demo",
            "query($a: String) { notifications(after: $a) { __typename } }",
        ),
        ("admin@lapor.demo", "query($a: String) { deadDeliveries(after: $a) { __typename } }"),
        (
            "dinkes@jember.demo",
            "query($a: String, $d: ID!) { inbox(agencyId: $d, after: $a) { __typename } }",
        ),
    ],
)
async def test_a_cursor_whose_key_is_beyond_bigint_is_a_validation_error(
    gql: GQL, who: str, query: str, key: int
) -> None:
    """Already so before issue 13 (domain/ids.py bounds the keys of cursors): the connection
    field parses its cursor, a field error naming `after`; the operation ran (200)."""
    viewer = await gql.sign_in(who)
    variables = {"a": _cursor(key), "d": to_global_id("Agency", 1)}
    response = await _post(viewer, query, variables)
    assert response.status_code == 200, response.text
    assert response.headers.get("x-request-id")
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "VALIDATION", "field": ["after"]}, error


LOGIN = 'mutation($e: String!) { authLogin(email: $e, password: "x") { errors { code field } } }'


@pytest.mark.parametrize("email", ["a" * 500_000 + "@example.org", "warga\x00@jember.demo"])
async def test_an_email_no_column_can_hold_is_a_validation_error(gql: GQL, email: str) -> None:
    _refused(await _post(gql, LOGIN, {"e": email}), "VALIDATION", ["email"])


async def test_an_email_too_long_for_an_account_is_refused_in_the_payload(gql: GQL) -> None:
    # Within what any argument may carry, longer than any address: the use case says so.
    data = await gql(LOGIN, {"e": "a" * 300 + "@example.org"})
    assert data["authLogin"]["errors"] == [{"code": "VALIDATION", "field": ["email"]}]


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": str(2**63), "exp": 2**31},
        {"sub": str(10**30), "exp": 2**31},
        {"sub": "1", "exp": 2**63},
        {"sub": "1", "exp": 10**30},
        {"sub": "1", "exp": 2**40},  # year 36812: no clock holds it
        {"sub": "-1", "exp": 2**31},
    ],
)
async def test_a_token_whose_claims_are_out_of_bounds_is_a_401(
    gql: GQL, claims: dict[str, object]
) -> None:
    token = jwt.encode(claims, get_settings().secret_key, algorithm="HS256")
    response = await GQL(gql.client, token).raw("{ me { id } }")
    await _assert_401(response)
    assert response.headers.get("x-request-id")


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
@pytest.mark.parametrize(
    ("query", "field"),
    [
        (
            "query($t: DateTime) { reports(filter: {updatedAfter: $t}) { __typename } }",
            ["filter", "updatedAfter"],
        ),
        (
            "query($t: DateTime, $d: ID!) { inbox(agencyId: $d, updatedAfter: $t) { __typename } }",
            ["updatedAfter"],
        ),
    ],
)
async def test_an_instant_out_of_postgresqls_range_is_a_validation_error(
    gql: GQL, query: str, field: list[str], moment: str
) -> None:
    coordinator = await gql.sign_in("koordinator@jember.demo")
    variables = {"t": moment, "d": to_global_id("Agency", 1)}
    _refused(await _post(coordinator, query, variables), "VALIDATION", field)


async def test_an_instant_without_a_time_zone_is_a_validation_error(gql: GQL) -> None:
    query = '{ reports(filter: {updatedAfter: "2026-01-05T00:00:00"}) { __typename } }'
    _refused(await _post(gql, query, {}), "VALIDATION", ["filter", "updatedAfter"])


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        ("query($s: String) { reports(filter: {search: $s}) { __typename } }", {"s": "a\x00"},
         ["filter", "search"]),
        ("query($c: String!) { report(trackingCode: $c) { id } }", {"c": "x" * 20_001},
         ["trackingCode"]),
        ("query($i: ID!) { node(id: $i) { id } }", {"i": "UmVwb3J0OjE\x00"}, ["id"]),
        ("mutation($i: [ID!]) { notificationsMarkRead(ids: $i) }", {"i": ["x"] * 101}, ["ids"]),
    ],
)  # fmt: skip
async def test_every_string_and_list_argument_is_bounded_before_it_runs(
    gql: GQL, query: str, variables: dict[str, Any], field: list[str]
) -> None:
    citizen = await gql.sign_in("warga@jember.demo")
    _refused(await _post(citizen, query, variables), "VALIDATION", field)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"body": "Air\x00 setinggi lutut"}, ["input", "body"]),
        ({"title": "x" * 100_000}, ["input", "title"]),  # 100 kB: longer than any text stored
    ],
)
async def test_a_value_out_of_bounds_in_a_mutation_stores_nothing(
    gql: GQL, values: dict[str, str], field: list[str]
) -> None:
    citizen = await gql.sign_in("warga@jember.demo")
    response = await _post(citizen, _submit(), await _submit_input(**values))
    _refused(response, "VALIDATION", field)
    await _nothing_stored()


@pytest.mark.parametrize(
    "body",
    [
        rb'{"query": "query($i: ID!) { node(id: $i) { id } }", "variables": {"i": "\ud800"}}',
        rb'{"query": "{ node(id: \"\\ud800\") { id } }"}',
    ],
)
async def test_a_lone_surrogate_is_refused_before_it_runs(gql: GQL, body: bytes) -> None:
    response = await gql.client.post(
        "/graphql", content=body, headers={**STRICT, "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    _no_traceback(response)
    assert response.json()["errors"][0]["extensions"]["code"] in {
        "BAD_REQUEST",
        "GRAPHQL_PARSE_FAILED",
        "VALIDATION",
    }
