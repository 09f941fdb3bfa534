"""Validation is remembered per parsed document and its rules, and gives Strawberry's answers."""

from __future__ import annotations

import tracemalloc

import pytest
import strawberry
from graphql import ASTValidationRule

from schema.documents import ParsedDocuments, ValidatedDocuments, json_key
from schema.schema import limit_rules


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "halo"

    @strawberry.field
    def child(self) -> Query:
        return Query()


def _schema(depth_rules: list[type[ASTValidationRule]], cached: bool) -> strawberry.Schema:
    extensions = [lambda: ParsedDocuments(16, 200, depth_rules)]
    if cached:
        extensions.append(lambda: ValidatedDocuments(2))
    return strawberry.Schema(query=Query, extensions=extensions)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    ValidatedDocuments._seen.clear()


async def test_answers_are_strawberrys_and_each_document_is_validated_once() -> None:
    rules = limit_rules(3, 5)
    cached, plain = _schema(rules, True), _schema(rules, False)
    for query in (
        "{ hello }",
        "{ nope }",
        "{ child { child { child { child { hello } } } } }",
        "{ a: hello b: hello c: hello d: hello e: hello f: hello }",
    ):
        first = await cached.execute(query)
        again = await cached.execute(query)
        expected = await plain.execute(query)
        assert first.data == again.data == expected.data
        formatted = [e.formatted for e in expected.errors or ()]
        assert [e.formatted for e in first.errors or ()] == formatted
        assert [e.formatted for e in again.errors or ()] == formatted
    # Two remembered at most: the last two documents.
    assert len(ValidatedDocuments._seen) == 2


async def test_one_schemas_answer_is_not_anothers() -> None:
    strict = _schema(limit_rules(2, 5), True)
    lenient = _schema(limit_rules(10, 5), True)
    query = "{ child { child { child { hello } } } }"
    assert (await lenient.execute(query)).errors is None
    refused = await strict.execute(query)
    assert refused.errors and "depth" in refused.errors[0].message
    assert (await lenient.execute(query)).errors is None


def test_a_json_key_is_text_with_sorted_keys_holding_no_spare_buffer() -> None:
    assert json_key({"b": [1, "x"], "a": None}) == json_key({"a": None, "b": [1, "x"]})
    assert json_key({"b": 1, "a": 2}) == '{"a":2,"b":1}'
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        keys = [json_key({"agencyId": f"QWdlbmN5OjE{i}"}) for i in range(1000)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(keys) == 1000
    assert held < 200 * 1000  # orjson's bytes would hold 4 KiB each
