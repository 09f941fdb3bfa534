"""GraphQL over HTTP as the spec says: methods, media types and status codes; CORS, the body
limit and request ids, over real HTTP (in-process ASGI)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from api.http import GRAPHQL_RESPONSE, negotiate
from core.settings import get_settings
from models import OutboxMessage, Report
from tests.app_fixtures import GQL, JEMBER, app_client, region_gid
from tests.asgi import http_scope

NEW = GRAPHQL_RESPONSE  # the spec's media type
OLD = "application/json"  # what older clients accept
SUBMIT = (
    'mutation($r: ID!) { reportSubmit(input: {kind: COMPLAINT, title: "Lampu mati", '
    'body: "Lampu jalan mati sejak seminggu.", regionId: $r}) { report { id } errors { code } } }'
)


async def _post(
    client: httpx.AsyncClient, body: object, accept: str | None, **headers: str
) -> httpx.Response:
    if accept is not None:
        headers["accept"] = accept
    headers["content-type"] = "application/json"
    return await client.post("/graphql", content=json.dumps(body), headers=headers)


def _media(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


def _codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json()["errors"]]


# --------------------------------------------------------------------- methods


async def test_a_query_runs_by_get_and_by_post(gql: GQL) -> None:
    by_get = await gql.client.get("/graphql", params={"query": "{ regions { code } }"})
    by_post = await _post(gql.client, {"query": "{ regions { code } }"}, OLD)
    assert by_get.status_code == by_post.status_code == 200
    assert by_get.json() == by_post.json()
    assert JEMBER in {r["code"] for r in by_get.json()["data"]["regions"]}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_another_method_is_a_coded_405(gql: GQL, method: str) -> None:
    response = await gql.client.request(method, "/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert _codes(response) == ["METHOD_NOT_ALLOWED"]


@pytest.mark.parametrize("accept", [NEW, OLD])
async def test_a_mutation_by_get_is_a_405_and_stores_nothing(gql: GQL, accept: str) -> None:
    citizen = await gql.sign_in("warga@jember.demo")
    response = await gql.client.get(
        "/graphql",
        params={"query": SUBMIT, "variables": json.dumps({"r": await region_gid(JEMBER)})},
        headers={"Authorization": f"Bearer {citizen.token}", "accept": accept},
    )
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST"
    assert _codes(response) == ["METHOD_NOT_ALLOWED"]
    assert "POST" in response.json()["errors"][0]["message"]
    assert "data" not in response.json()
    assert await Report.all().count() == 0


async def test_the_same_mutation_by_post_runs(gql: GQL) -> None:
    citizen = await gql.sign_in("warga@jember.demo")
    data = await citizen(SUBMIT, {"r": await region_gid(JEMBER)})
    assert data["reportSubmit"]["errors"] == []


async def test_a_subscription_over_http_is_refused_with_the_way_to_subscribe(gql: GQL) -> None:
    response = await _post(gql.client, {"query": "subscription { notificationAdded { id } }"}, NEW)
    assert response.status_code == 400
    assert "WebSocket" in response.json()["errors"][0]["message"]


# ------------------------------------------------------------------- media types


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, NEW),
        ("", NEW),
        (NEW, NEW),
        (OLD, OLD),
        ("*/*", OLD),
        ("application/*", OLD),
        (" application/json ", OLD),
        ("APPLICATION/JSON", OLD),
        (f"{NEW};q=0.5", NEW),
        ("application/json, multipart/mixed", OLD),
        (f"{NEW}, {OLD};q=0.9", NEW),
        (f"{OLD}, {NEW}", OLD),
        (f"{OLD};q=0.5, {NEW}", NEW),
        (f"*/*, {NEW}", NEW),
        (f"{NEW};q=0", None),
        ("text/html", None),
    ],
)
def test_the_accept_header_chooses_the_media_type(accept: str | None, expected: str) -> None:
    assert negotiate(accept) == expected


async def test_without_an_accept_header_the_answer_is_graphql_response_json(gql: GQL) -> None:
    request = gql.client.build_request(
        "POST", "/graphql", json={"query": "{ __typename }"}, headers={"content-type": OLD}
    )
    del request.headers["accept"]
    response = await gql.client.send(request)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{NEW}; charset=utf-8"
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_client_accepting_neither_media_type_gets_a_406(gql: GQL) -> None:
    response = await _post(gql.client, {"query": "{ __typename }"}, "text/plain")
    assert response.status_code == 406
    assert _codes(response) == ["NOT_ACCEPTABLE"]


# --------------------------------------------------------------- status codes


REQUEST_ERRORS = {
    "document parsing failure": ({"query": "{ regions { id "}, "GRAPHQL_PARSE_FAILED"),
    "document validation failure": (
        {"query": "{ regions { id doesNotExist } }"},
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "operation cannot be determined": (
        {"query": "query A { __typename } query B { __typename }"},
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "unknown operation name": (
        {"query": "query A { __typename }", "operationName": "B"},
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "variable coercion failure": (
        {
            "query": "query($n: Int) { reports(first: $n) { edges { cursor } } }",
            "variables": {"n": "many"},
        },
        "GRAPHQL_VALIDATION_FAILED",
    ),
}


@pytest.mark.parametrize("case", sorted(REQUEST_ERRORS))
async def test_request_errors_are_400_without_data_in_graphql_response_json(
    gql: GQL, case: str
) -> None:
    body, code = REQUEST_ERRORS[case]
    response = await _post(gql.client, body, NEW)
    assert response.status_code == 400, response.text
    assert _media(response) == NEW
    assert "data" not in response.json()
    assert _codes(response) == [code]


@pytest.mark.parametrize("case", sorted(REQUEST_ERRORS))
async def test_request_errors_are_200_without_data_in_application_json(gql: GQL, case: str) -> None:
    body, code = REQUEST_ERRORS[case]
    response = await _post(gql.client, body, OLD)
    assert response.status_code == 200, response.text
    assert _media(response) == OLD
    assert "data" not in response.json()
    assert _codes(response) == [code]


@pytest.mark.parametrize("accept", [NEW, OLD])
async def test_a_field_error_is_a_partial_response_with_200(gql: GQL, accept: str) -> None:
    coordinator = await gql.sign_in("koordinator@jember.demo")
    response = await _post(
        gql.client,
        {"query": "{ regions { code } reports(first: 1000) { edges { cursor } } }"},
        accept,
        Authorization=f"Bearer {coordinator.token}",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None  # `reports` is non-null: its error nulls the whole answer
    assert _codes(response) == ["VALIDATION"]
    assert body["errors"][0]["path"] == ["reports"]


NOT_WELL_FORMED = {
    "body that is not JSON": (b"{ not json", "application/json"),
    "JSON that is not an object": (b'"{ __typename }"', "application/json"),
    "no query": (b'{"variables": {}}', "application/json"),
    "a query that is a number": (b'{"query": 7}', "application/json"),
    "variables that are a list": (
        b'{"query": "{ __typename }", "variables": [7]}',
        "application/json",
    ),
    "an operationName that is a number": (
        b'{"query": "{ __typename }", "operationName": 1}',
        "application/json",
    ),
    "extensions that are a string": (
        b'{"query": "{ __typename }", "extensions": "x"}',
        "application/json",
    ),
    "a batch": (b'[{"query": "{ __typename }"}]', "application/json"),
}


@pytest.mark.parametrize("accept", [NEW, OLD])
@pytest.mark.parametrize("case", sorted(NOT_WELL_FORMED))
async def test_a_request_that_is_not_well_formed_is_a_400_in_both(
    gql: GQL, case: str, accept: str
) -> None:
    content, content_type = NOT_WELL_FORMED[case]
    response = await gql.client.post(
        "/graphql", content=content, headers={"content-type": content_type, "accept": accept}
    )
    assert response.status_code == 400, response.text
    assert _media(response) == accept
    assert _codes(response) == ["BAD_REQUEST"]
    assert "Traceback" not in response.text


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_a_post_that_is_not_json_is_a_415(gql: GQL, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await gql.client.post("/graphql", content=b"query=%7B__typename%7D", headers=headers)
    assert response.status_code == 415
    assert _codes(response) == ["UNSUPPORTED_MEDIA_TYPE"]


@pytest.mark.parametrize("accept", [NEW, OLD])
async def test_a_bad_token_is_a_401_with_a_coded_body(gql: GQL, accept: str) -> None:
    response = await _post(
        gql.client, {"query": "{ me { id } }"}, accept, Authorization="Bearer not.a.token"
    )
    assert response.status_code == 401
    assert _codes(response) == ["UNAUTHENTICATED"]
    assert response.headers["www-authenticate"].startswith("Bearer")


# ---------------------------------------------------------------------- CORS


@pytest.fixture
async def cors(db: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = get_settings().model_copy(update={"cors_origins": ["https://app.lapor.example"]})
    async with app_client(settings) as client:
        yield client


async def test_an_allowed_origin_passes_the_preflight(cors: httpx.AsyncClient) -> None:
    response = await cors.options(
        "/graphql",
        headers={
            "Origin": "https://app.lapor.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.lapor.example"
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


async def test_another_origin_is_refused_at_the_preflight(cors: httpx.AsyncClient) -> None:
    response = await cors.options(
        "/graphql",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_an_allowed_origin_may_read_the_answer_and_its_request_id(
    cors: httpx.AsyncClient,
) -> None:
    allowed = await cors.get(
        "/graphql",
        params={"query": "{ __typename }"},
        headers={"Origin": "https://app.lapor.example"},
    )
    assert allowed.headers["access-control-allow-origin"] == "https://app.lapor.example"
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
    other = await cors.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers


# ---------------------------------------------------------------- body limit


@pytest.fixture
async def small_bodies(db: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = get_settings().model_copy(update={"max_body_bytes": 2048})
    async with app_client(settings) as client:
        yield client


def _padded(size: int) -> bytes:
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * size}}).encode()
    return body


async def test_a_body_within_the_limit_runs(small_bodies: httpx.AsyncClient) -> None:
    response = await small_bodies.post(
        "/graphql", content=_padded(1000), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200


async def test_a_body_over_the_limit_is_a_413(small_bodies: httpx.AsyncClient) -> None:
    response = await small_bodies.post(
        "/graphql", content=_padded(5000), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert _codes(response) == ["PAYLOAD_TOO_LARGE"]
    assert "2,048 bytes" in response.json()["errors"][0]["message"]


async def _post_streamed(client: httpx.AsyncClient, size: int, chunk: int) -> httpx.Response:
    """A body padded to about `size` bytes, sent in chunks of `chunk` without a length."""

    async def chunks() -> AsyncIterator[bytes]:
        body = _padded(size)
        for start in range(0, len(body), chunk):
            yield body[start : start + chunk]

    response = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    return response


async def test_a_streamed_body_over_the_limit_is_a_413(small_bodies: httpx.AsyncClient) -> None:
    response = await _post_streamed(small_bodies, 5000, 512)
    assert response.status_code == 413


async def test_a_streamed_body_within_the_limit_runs(small_bodies: httpx.AsyncClient) -> None:
    response = await _post_streamed(small_bodies, 1000, 256)
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


_MULTIPART = b"multipart/form-data; boundary=lapor"
_UPLOAD = (
    b'--lapor\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
    + json.dumps({"query": "{ __typename }"}).encode()
    + b'\r\n--lapor\r\nContent-Disposition: form-data; name="0"; filename="a.jpg"\r\n'
    + b"Content-Type: image/jpeg\r\n\r\n"
    + b"\xff" * 2000
)


@pytest.mark.parametrize(
    ("media", "declared"),
    [(b"application/json", True), (b"application/json", False), (_MULTIPART, True)],
)
async def test_a_client_gone_before_its_body_arrived_gets_no_answer_and_no_alarm(
    db: str, caplog: pytest.LogCaptureFixture, media: bytes, declared: bool
) -> None:
    """A client that hangs up halfway through its body (a phone losing signal mid-upload) is
    not a failure of ours: nothing is sent, nothing logged as internal (the suite's safety net
    would fail the test), and its access line says 499, as proxies log a client that left."""
    from api.app import create_app

    body = _UPLOAD if media == _MULTIPART else _padded(1000)
    messages = [
        {"type": "http.request", "body": body[:300], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return messages.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    headers = [(b"content-type", media), (b"accept", b"application/json")]
    if declared:
        headers.append((b"content-length", str(len(body)).encode()))
    with caplog.at_level(logging.INFO, logger="lapor.access"):
        await create_app(get_settings())(http_scope("/graphql", headers), receive, send)
    assert sent == []
    assert messages == []
    (line,) = [r for r in caplog.records if r.name == "lapor.access"]
    assert getattr(line, "status", None) == 499


# ---------------------------------------------------------------- request ids


async def test_every_answer_carries_a_request_id(gql: GQL) -> None:
    first = await gql.client.get("/healthz")
    second = await gql.client.get("/healthz")
    assert len(first.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("frontend-7f3a.42", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("two words", False),
        ("line\\nbreak", False),
        ("", False),
    ],
)
async def test_a_sane_incoming_request_id_is_kept(gql: GQL, incoming: str, kept: bool) -> None:
    response = await gql.client.get("/healthz", headers={"X-Request-Id": incoming})
    echoed = response.headers["x-request-id"]
    assert (echoed == incoming) is kept
    if not kept:
        assert len(echoed) == 32


async def test_the_request_id_follows_a_change_into_its_outbox_rows(gql: GQL) -> None:
    citizen = await gql.sign_in("warga@jember.demo")
    response = await gql.client.post(
        "/graphql",
        json={"query": SUBMIT, "variables": {"r": await region_gid(JEMBER)}},
        headers={"Authorization": f"Bearer {citizen.token}", "X-Request-Id": "req-submit-1"},
    )
    assert response.json()["data"]["reportSubmit"]["errors"] == []
    rows = await OutboxMessage.all()
    assert rows
    assert {row.payload.get("request_id") for row in rows} == {"req-submit-1"}
