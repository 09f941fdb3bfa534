"""The walk that checks every argument before an operation runs (schema/inputs.py): it finds
values wherever an operation puts them, and leaves values of the wrong type to GraphQL."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLError, OperationDefinitionNode, parse

from schema.inputs import InputBounds, check_inputs

BOUNDS = InputBounds(max_page_size=100, max_text_length=50)


def _field(query: str, variables: dict[str, Any] | None = None) -> list[str] | None:
    """The field a check names, or None when the operation passes."""
    from schema.schema import schema

    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    try:
        check_inputs(schema._schema, document, operation, variables, BOUNDS)
    except GraphQLError as error:
        assert error.extensions is not None and error.extensions["code"] == "VALIDATION"
        return error.extensions["field"]  # type: ignore[no-any-return]
    return None


def test_values_within_bounds_pass() -> None:
    assert _field('{ reports(first: 100, filter: {search: "lampu"}) { __typename } }') is None


def test_a_literal_a_variable_and_a_default_are_all_checked() -> None:
    assert _field("{ reports(first: 101) { __typename } }") == ["first"]
    assert _field("query($n: Int) { reports(first: $n) { __typename } }", {"n": 101}) == ["first"]
    assert _field("query($n: Int = 101) { reports(first: $n) { __typename } }") == ["first"]


def test_nested_fields_fragments_and_inline_fragments_are_checked() -> None:
    nested = "{ reports { edges { node { timeline(first: 500) { __typename } } } } }"
    assert _field(nested) == ["first"]
    spread = '{ ...F } fragment F on Query { inbox(agencyId: "x", after: "!") { __typename } }'
    assert _field(spread) == ["after"]
    inline = '{ ... on Query { reports(filter: {search: "a\\u0000"}) { __typename } } }'
    assert _field(inline) == ["filter", "search"]


def test_inputs_lists_and_their_items_are_checked() -> None:
    long = "x" * 51
    query = "mutation($i: ReportSubmitInput!) { reportSubmit(input: $i) { __typename } }"
    assert _field(query, {"i": {"title": "ok", "address": long}}) == ["input", "address"]
    ids = "mutation($i: [ID!]) { notificationsMarkRead(ids: $i) }"
    assert _field(ids, {"i": ["a"] * 101}) == ["ids"]
    assert _field(ids, {"i": ["a", long]}) == ["ids"]
    assert _field(ids, {"i": long}) == ["ids"]  # one value stands for a list of one


@pytest.mark.parametrize(
    "variables",
    [
        {"n": "seven"},  # not an Int: GraphQL's coercion refuses it
        {"n": 1.5},
        {"n": None},
        {},
    ],
)
def test_values_of_another_type_are_left_to_graphql(variables: dict[str, Any]) -> None:
    assert _field("query($n: Int) { reports(first: $n) { __typename } }", variables) is None
