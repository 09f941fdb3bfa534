"""Arguments that read variables are converted once for the same variable values, and each
execution still gets values of its own; a query's plain root field is called as any other; an
ask for what a selection reads next gets its arguments, written or from variables."""

from __future__ import annotations

from enum import Enum
from typing import Any

import pytest
import strawberry

import schema.compiled.executor as executor_module
from schema.compiled.executor import compiling_executor
from schema.compiled.hints import reads_ahead
from schema.compiled.plan import How
from schema.documents import ParsedDocuments


@strawberry.enum
class Tint(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.input
class Box:
    label: str


SEEN: list[Any] = []


@strawberry.type
class Query:
    @strawberry.field
    def tints(self, tints: list[Tint], size: int = 2) -> list[str]:
        SEEN.append(tints)
        answer = [t.value for t in tints][:size]
        tints.append(Tint.BLUE)  # a resolver that changes what it was given
        return answer

    @strawberry.field
    def label(self, box: Box) -> str:
        SEEN.append(box)
        box.label += "!"
        return box.label


TINTS = "query($t: [Tint!]!, $n: Int) { tints(tints: $t, size: $n) }"
LABEL = "query($b: Box!) { label(box: $b) }"


def _schema() -> strawberry.Schema:
    # Parsed once per document, as the service does: one operation, one plan.
    return strawberry.Schema(
        query=Query,
        extensions=[lambda: ParsedDocuments(8, 1000, [])],
        execution_context_class=compiling_executor(True, 4),
    )


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the fields whose arguments were converted, one entry per conversion."""
    converted: list[str] = []
    convert = executor_module._argument_converter

    def counting(schema: Any) -> Any:
        inner = convert(schema)

        def count(field: Any, raw: dict[str, Any]) -> dict[str, Any]:
            converted.append(field.python_name)
            return inner(field, raw)

        return count

    monkeypatch.setattr(executor_module, "_argument_converter", counting)
    return converted


@pytest.mark.usefixtures("unchecked_execution")
async def test_the_same_variable_values_are_converted_once_and_each_run_gets_its_own_list(
    conversions: list[str],
) -> None:
    schema = _schema()
    SEEN.clear()
    answers = [
        (await schema.execute(TINTS, variable_values={"t": ["RED", "BLUE"], "n": 2})).data
        for _ in range(3)
    ]
    # The resolver appended to its list each time: the next run still got the two values.
    assert answers == [{"tints": ["red", "blue"]}] * 3
    assert conversions == ["tints"]
    assert len({id(tints) for tints in SEEN}) == 3
    other = await schema.execute(TINTS, variable_values={"t": ["BLUE"], "n": 1})
    assert other.data == {"tints": ["blue"]}
    missing = await schema.execute(TINTS, variable_values={"t": ["BLUE", "RED"]})
    assert missing.data == {"tints": ["blue", "red"]}  # size's default, not a kept null
    assert conversions == ["tints"] * 3


@pytest.mark.usefixtures("unchecked_execution")
async def test_input_objects_are_converted_for_each_execution(conversions: list[str]) -> None:
    schema = _schema()
    SEEN.clear()
    for _ in range(2):
        result = await schema.execute(LABEL, variable_values={"b": {"label": "tools"}})
        assert result.data == {"label": "tools!"}
    assert conversions == ["label", "label"]
    assert SEEN[0] is not SEEN[1]


async def test_a_plain_root_field_of_a_query_is_called_without_strawberry_s_wrapper() -> None:
    schema = _schema()
    await schema.execute(TINTS, variable_values={"t": ["RED"], "n": 1})
    (entry,) = schema.execution_context_class.plans._entries.values()  # type: ignore[attr-defined,union-attr]
    (plan,) = entry.plans.values()
    assert plan is not None
    (root_field,) = plan.root.fields
    assert root_field.how is How.CALL and root_field.variables == ("t", "n")


ASKED: list[tuple[dict[str, Any] | None, ...]] = []


@strawberry.type
class Shelf:
    @strawberry.field
    def items(self, first: int = 5) -> list[int]:
        return list(range(first))


@strawberry.type
class AskingQuery:
    @strawberry.field
    @reads_ahead("items", lambda _, arguments: ASKED.append(arguments))
    def shelf(self) -> Shelf:
        return Shelf()


@pytest.mark.parametrize(
    ("document", "variables", "first"),
    [
        ("{ shelf { items(first: 3) } }", None, 3),
        ("query($n: Int!) { shelf { items(first: $n) } }", {"n": 3}, 3),
        ("{ shelf { items } }", None, 5),
        ("{ shelf { items(first: -1) } }", None, -1),
    ],
    ids=["written", "a variable", "the default", "another"],
)
@pytest.mark.usefixtures("unchecked_execution")  # (the generic executor asks nothing)
async def test_an_ask_is_given_its_selections_arguments_written_or_by_variables(
    document: str, variables: dict[str, Any] | None, first: int
) -> None:
    """`reads_ahead`'s ask gets each selection's arguments as the field will: those written in
    the document planned once, those read from variables on each run."""
    schema = strawberry.Schema(
        query=AskingQuery, execution_context_class=compiling_executor(True, 4)
    )
    ASKED.clear()
    for _ in range(2):
        result = await schema.execute(document, variable_values=variables)
        assert result.data == {"shelf": {"items": list(range(first))}}
    assert ASKED == [({"first": first},)] * 2
