"""Fuzzing over the whole schema, as the public, a citizen, an officer and a coordinator:
whatever the operation and whatever the values, no answer is a 5xx or INTERNAL (and the
suite's safety net, tests/conftest.py, fails the test on any INTERNAL logged meanwhile).

Two kinds of cases: operations generated from the schema (hypothesis-graphql: valid ones,
their arguments literals, and ones with one schema violation), and every root field called
with generated values for each of its arguments, as variables, drawn mostly from the edge
values of tests/fuzzing.py (ids and cursors beyond bigint, NUL, lone text of 20,001
characters, instants out of PostgreSQL's range, Ints beyond 32 bits, lists of 101 items).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    StringValueNode,
    get_named_type,
    is_composite_type,
)
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, queries

from schema.schema import schema
from tests.app_fixtures import People
from tests.factories import in_progress
from tests.fuzzing import (
    DATE_TIMES,
    DATES,
    FLOATS,
    IDS,
    INTS,
    TEXTS,
    Timed,
    any_of,
    anything,
    check_answer,
    collect,
    examples,
)

ROLES = ("public", "reporter", "officer", "coordinator")
SDL = schema.as_str()
GRAPHQL = schema._schema


def _literal(values: list[str]) -> st.SearchStrategy[StringValueNode]:
    return st.sampled_from(values).map(lambda value: StringValueNode(value=value))


# An Upload can only come as a multipart file part: any text for one must be refused cleanly.
CUSTOM_SCALARS = {
    "DateTime": _literal(DATE_TIMES),
    "Date": _literal(DATES),
    "Upload": _literal(["", "IMG_0001.jpg", "data:image/jpeg;base64,/9j/"]),
}


def _generated(count: int) -> list[str]:
    """Operations over the whole schema: queries, mutations, and both with a violation."""
    options: dict[str, Any] = {"custom_scalars": CUSTOM_SCALARS}
    strategy = st.one_of(
        queries(SDL, **options),
        mutations(SDL, **options),
        queries(SDL, mode=Mode.NEGATIVE, **options),
        mutations(SDL, mode=Mode.NEGATIVE, **options),
    )
    return collect(strategy, count)


async def test_generated_operations_as_every_role(people: People) -> None:
    await in_progress(people)  # a report, its assignment and their lines for ids to find
    operations = _generated(examples(120))
    with Timed("graphql: generated operations") as timed:
        for operation in operations:
            for role in ROLES:
                check_answer(await people[role].raw(operation), (role, operation))
                timed.cases += 1


# ------------------------------------------------------------ values for every argument

_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "String": any_of(TEXTS, st.text(max_size=40)),
    "ID": any_of(IDS, st.text(max_size=30)),
    "Int": any_of(INTS, st.integers()),
    "Float": any_of(FLOATS, st.floats(allow_nan=False, allow_infinity=False)),
    "Boolean": st.booleans(),
    "DateTime": st.sampled_from(DATE_TIMES),
    "Date": st.sampled_from(DATES),
    "Upload": any_of(TEXTS, st.text(max_size=20)),
}


def values(type_: GraphQLInputType, loose: bool) -> st.SearchStrategy[Any]:
    """Values for an input type, at its edges mostly; `loose`: sometimes none where one is
    required, or one of another type altogether (GraphQL's coercion must refuse those)."""
    nullable = not isinstance(type_, GraphQLNonNull)
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(inner, GraphQLList):
        item = values(inner.of_type, loose)
        right: st.SearchStrategy[Any] = st.one_of(
            st.lists(item, max_size=3), item.map(lambda value: [value] * 101)
        )
    elif isinstance(inner, GraphQLInputObjectType):
        fields = inner.fields.items()
        right = st.fixed_dictionaries(
            {n: values(f.type, loose) for n, f in fields if _required(f.type)},
            optional={n: values(f.type, loose) for n, f in fields if not _required(f.type)},
        )
    elif isinstance(inner, GraphQLEnumType):
        right = st.sampled_from([*inner.values, *(["NOT_A_VALUE"] if loose else [])])
    elif isinstance(inner, GraphQLScalarType):
        right = _SCALARS[inner.name]
    else:
        raise AssertionError(f"no values for {inner}")
    if loose:
        return st.one_of(right, right, anything(), st.none())
    return st.one_of(right, st.none()) if nullable else right


def _required(type_: GraphQLInputType) -> bool:
    return isinstance(type_, GraphQLNonNull)


def _call(kind: str, name: str, field: GraphQLField) -> str:
    """An operation calling one root field with every argument a variable."""
    names = list(field.args)
    definitions = ", ".join(f"$v{i}: {field.args[n].type}" for i, n in enumerate(names))
    arguments = ", ".join(f"{n}: $v{i}" for i, n in enumerate(names))
    head = f"{kind}({definitions})" if names else kind
    call = f"{name}({arguments})" if names else name
    selection = " { __typename }" if is_composite_type(get_named_type(field.type)) else ""
    return f"{head} {{ {call}{selection} }}"


def _root_fields() -> list[tuple[str, str, GraphQLField]]:
    roots = [("query", GRAPHQL.query_type), ("mutation", GRAPHQL.mutation_type)]
    return [
        (kind, name, field)
        for kind, root in roots
        if root is not None
        for name, field in root.fields.items()
    ]


def _with_values(kind: str, name: str, field: GraphQLField) -> st.SearchStrategy[Any]:
    def variables(loose: bool) -> st.SearchStrategy[dict[str, Any]]:
        arguments = enumerate(field.args.values())
        return st.fixed_dictionaries({f"v{i}": values(a.type, loose) for i, a in arguments})

    # One case in five loose: the others reach the resolvers with values of the right types.
    chosen = st.sampled_from([False, False, False, False, True]).flatmap(variables)
    return st.tuples(st.just(_call(kind, name, field)), chosen)


def _calls(count: int) -> list[tuple[str, dict[str, Any]]]:
    strategy = st.sampled_from(_root_fields()).flatmap(lambda root: _with_values(*root))
    return collect(strategy, count)


async def test_every_argument_with_generated_and_edge_values_as_every_role(
    people: People,
) -> None:
    await in_progress(people)
    calls = _calls(examples(150))
    called = {document.split("{", 2)[1].split("(")[0].strip() for document, _ in calls}
    assert len(called) >= len(_root_fields()) * 0.8, sorted(called)
    with Timed("graphql: every argument, edge values") as timed:
        for document, variables in calls:
            for role in ROLES:
                response = await people[role].raw(document, variables)
                check_answer(response, (role, document, variables))
                timed.cases += 1
