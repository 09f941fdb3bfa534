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


BEYOND_INT = 2**31


def test_values_within_bounds_pass() -> None:
    # A page of 500 is the connection's to refuse (a field error), not the walk's.
    assert _field('{ reports(first: 500, filter: {search: "lampu"}) { __typename } }') is None


def test_a_variable_and_its_default_are_both_checked() -> None:
    query = "query($n: Int) { reports(first: $n) { __typename } }"
    assert _field(query, {"n": BEYOND_INT}) == ["first"]
    assert _field(query, {"n": float(2**70)}) == ["first"]  # how JSON parsers hand it over
    defaulted = f'query($s: String = "{"x" * 51}") {{ reports(filter: {{search: $s}}) {{ id }} }}'
    assert _field(defaulted) == ["filter", "search"]


def test_nested_fields_fragments_and_inline_fragments_are_checked() -> None:
    nested = "query($n: Int) { reports { edges { node { timeline(first: $n) { __typename } } } } }"
    assert _field(nested, {"n": BEYOND_INT}) == ["first"]
    spread = '{ ...F } fragment F on Query { inbox(agencyId: "x\\u0000") { __typename } }'
    assert _field(spread) == ["agencyId"]
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
        {"n": 101},  # an Int: the connection's to refuse
        {"n": None},
        {},
    ],
)
def test_values_of_another_type_are_left_to_graphql(variables: dict[str, Any]) -> None:
    assert _field("query($n: Int) { reports(first: $n) { __typename } }", variables) is None
