"""Fuzzing the HTTP side: Open311's parameters, and requests to every route with generated
methods, content types, bodies, encodings, sizes, batches and headers. Whatever comes, no
answer is a 5xx or INTERNAL, and every answer carries its request id (tests/fuzzing.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from hypothesis import strategies as st

from core.settings import get_settings
from tests.app_fixtures import GQL, People
from tests.factories import in_progress
from tests.fuzzing import (
    DATE_TIMES,
    INTS,
    TEXTS,
    Timed,
    any_of,
    check_answer,
    collect,
    examples,
)

# ------------------------------------------------------------------------------ Open311

OPEN311 = "/open311/v2"
PARAMETERS = (
    "jurisdiction_id",
    "service_request_id",
    "service_code",
    "start_date",
    "end_date",
    "status",
    "page_size",
    "after",
    "api_key",
)
_PARAMETER_VALUES = st.one_of(
    any_of(TEXTS, st.text(max_size=30)),
    st.sampled_from(DATE_TIMES),
    st.sampled_from([str(n) for n in INTS] + ["\u00b2", "1e3", "٣", "-0", "open,closed,"]),
    st.lists(st.sampled_from(["35.09", "LPR-AAAA-AAAA", "open", "KES", ""]), max_size=60).map(
        ",".join
    ),
)
_OPEN311_PATHS = st.one_of(
    st.sampled_from(["discovery", "services", "requests"]).flatmap(
        lambda name: st.sampled_from(["json", "xml", "JSON", ""]).map(lambda f: f"{name}.{f}")
    ),
    any_of(TEXTS, st.text(max_size=20)).map(lambda code: f"requests/{quote(code, safe='')}.json"),
)


def _open311_cases(count: int) -> list[tuple[str, dict[str, str]]]:
    parameters = st.dictionaries(
        st.one_of(st.sampled_from(PARAMETERS), st.text(max_size=8)), _PARAMETER_VALUES, max_size=5
    )
    return collect(st.tuples(_OPEN311_PATHS, parameters), count)


async def test_open311_with_generated_parameters(people: People) -> None:
    await in_progress(people)  # a public report to find
    with Timed("open311: parameters") as timed:
        for path, params in _open311_cases(examples(300)):
            # Texts a URL cannot carry raw (NUL, a 20,001-character value) go percent-encoded.
            response = await people["public"].client.get(f"{OPEN311}/{path}", params=params)
            check_answer(response, (path, params))
            timed.cases += 1


# --------------------------------------------------------------------------- HTTP layer

OPERATION = {"query": "{ regions { code } }"}
SUBMIT = {
    "query": "mutation($i: ReportSubmitInput!) { reportSubmit(input: $i) { errors { code } } }",
    "variables": {"i": {"kind": "COMPLAINT", "title": "Banjir", "body": "Air", "regionId": "x"}},
}
# Not /readyz: its 503 is its answer when this in-process app has no Redis.
ROUTES = ["/graphql", "/graphql/", "/console/session", "/healthz", "/metrics",
          f"{OPEN311}/requests.json", "/nowhere"]  # fmt: skip
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/graphql",
    "application/graphql-response+json",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "",
    "garbage/\x7f",
]
ACCEPTS = [
    "application/graphql-response+json",
    "application/json",
    "*/*",
    "text/html",
    "application/json;q=0",
    "application/json;q=nan",
    "application/graphql-response+json;q=inf, */*;q=-1",
    "",
]
MAX_BODY = get_settings().max_body_bytes


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


BODIES: list[bytes] = [
    b"",
    orjson.dumps(OPERATION),
    orjson.dumps([OPERATION, OPERATION]),  # a batch
    orjson.dumps([SUBMIT] * 3),
    orjson.dumps({"query": 7}),
    orjson.dumps({"query": "{ regions { code } }", "variables": [1]}),
    orjson.dumps({"query": "{ regions { code } }", "extensions": {"persistedQuery": 1}}),
    orjson.dumps({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}}),
    orjson.dumps(SUBMIT),
    b"{ regions { code } }",
    b'{"query": "{ regions { code } }"',  # cut short
    b'{"query": "\xff\xfe{ regions }"}',  # not UTF-8
    '{"query": "{ regions { code } }"}'.encode("utf-16"),
    b'{"query": "{ node(id: \\"\\\\u0000\\") { id } }"}',
    b'{"query": "query($v: ID!) { node(id: $v) { id } }", "variables": {"v": "\\ud800"}}',
    _deep(5_000),
    b'{"query": "' + b"{ regions " * 3_000 + b'"}',
    b"x" * (MAX_BODY + 1),
    b'{"email": "warga@jember.demo", "password": "lapor-demo"}',
    b'{"email": "\\u0000", "password": 7}',
]
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Authorization": st.sampled_from(
            ["Bearer ", "Bearer x.y.z", "Basic abc", "bearer " + "a" * 5000, "Bearer \x01"]
        ),
        "X-Request-Id": any_of(["ok-1", "bad id", "x" * 500, "\x7f"], st.text(max_size=10)),
        "Idempotency-Key": st.sampled_from(["k-1", "", "a b", "x" * 300, "\t"]),
        "Content-Encoding": st.sampled_from(["gzip", "br", "identity"]),
        "Origin": st.sampled_from(["https://evil.example", "null"]),
        "Transfer-Encoding": st.just("identity"),
    },
)


def _http_cases(count: int) -> list[dict[str, Any]]:
    return collect(
        st.fixed_dictionaries(
            {
                "method": st.sampled_from(METHODS),
                "path": st.sampled_from(ROUTES),
                "content_type": st.sampled_from(CONTENT_TYPES),
                "accept": st.sampled_from(ACCEPTS),
                "body": st.sampled_from(BODIES),
                "headers": HEADERS,
                "params": st.dictionaries(
                    st.sampled_from(["query", "variables", "extensions", "operationName", "x"]),
                    st.sampled_from(
                        ["{ regions { code } }", "{", "[1]", '{"a": 1}', "null", "\x00", ""]
                    ),
                    max_size=3,
                ),
            }
        ),
        count,
    )


async def test_every_route_with_generated_requests(gql: GQL) -> None:
    with Timed("http: methods, types, bodies, headers") as timed:
        for case in _http_cases(examples(300)):
            headers = {k: v.encode("latin-1", "replace") for k, v in case["headers"].items()}
            headers["content-type"] = case["content_type"].encode("latin-1")
            headers["accept"] = case["accept"].encode()
            response = await gql.client.request(
                case["method"],
                case["path"],
                params=case["params"],
                content=case["body"] if case["method"] not in ("GET", "HEAD") else None,
                headers=headers,
            )
            check_answer(response, {**case, "body": case["body"][:200]})
            timed.cases += 1
