"""A root field's object built at once (`run._at_once`) and a single object's async resolver
awaited as it is (`run._step_all`): the same answers as the generic executor's, error for
error, and no level's completion for the common case."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import strawberry

from schema.compiled import run
from schema.compiled.executor import comparable_answer, compiling_executor


@strawberry.type
class Spot:
    name: str
    note: str | None


class Pothole(Spot):
    """A subclass: it passes Strawberry's type check, but is not the class the builder builds."""


@strawberry.type
class Sign:
    text: str

    @strawberry.field
    async def later(self) -> str | None:
        """Async: left to the general path, on the one object of its level."""
        await asyncio.sleep(0)
        if self.text == "fails":
            raise ValueError("no sign here")
        return self.text.upper()


class LookAlike:
    """Not a Spot, though it has a Spot's attributes: Strawberry's type check refuses it."""

    name = "bridge"
    note = None


# What `spot` and `required` answer, by their `kind` (`_raising` raises).
def _raising() -> Spot:
    raise ValueError("no spot here")


SPOTS: dict[str, Callable[[], Any]] = {
    "plain": lambda: Spot(name="bridge", note=None),
    "subclass": lambda: Pothole(name="pothole", note="deep"),
    "a look-alike of another class": LookAlike,
    "null in a non-null field": lambda: Spot(name=None, note="x"),  # type: ignore[arg-type]
    "a value of another type": lambda: Spot(name=5, note="x"),  # type: ignore[arg-type]
    "none": lambda: None,
    "an error": _raising,
}


@strawberry.type
class Query:
    @strawberry.field
    async def spot(self, kind: str) -> Spot | None:
        await asyncio.sleep(0)
        return SPOTS[kind]()  # type: ignore[no-any-return]

    @strawberry.field
    async def required(self, kind: str) -> Spot:
        return SPOTS[kind]()  # type: ignore[no-any-return]

    @strawberry.field
    def sign(self, text: str) -> Sign:
        return Sign(text=text)


async def _answers(query: str) -> tuple[bytes, bytes, int]:
    """The compiled answer, the generic one, and how many times the compiled run completed a
    level of objects (`PlanRun._complete` entered)."""
    completed = [0]
    complete = run.PlanRun._complete

    async def counted(self: run.PlanRun, *args: Any) -> list[Any]:
        completed[0] += 1
        return await complete(self, *args)

    answers = []
    for compiled in (True, False):
        run.PlanRun._complete = counted  # type: ignore[method-assign]
        try:
            schema = strawberry.Schema(
                query=Query, execution_context_class=compiling_executor(compiled, 4)
            )
            answers.append(comparable_answer(await schema.execute(query)))
        finally:
            run.PlanRun._complete = complete  # type: ignore[method-assign]
    return answers[0], answers[1], completed[0]


def _data(answer: bytes) -> Any:
    return orjson.loads(answer.split(b"\n")[0])["data"]


@pytest.mark.usefixtures("unchecked_execution")
async def test_a_root_object_its_builder_builds_whole_is_written_at_once() -> None:
    compiled, generic, completed = await _answers(
        '{ a: spot(kind: "plain") { name note } b: required(kind: "plain") { __typename name } }'
    )
    assert compiled == generic
    assert completed == 0
    assert _data(compiled) == {
        "a": {"name": "bridge", "note": None},
        "b": {"__typename": "Spot", "name": "bridge"},
    }


@pytest.mark.usefixtures("unchecked_execution")
@pytest.mark.parametrize("kind", [kind for kind in SPOTS if kind != "plain"])
@pytest.mark.parametrize("field", ["spot", "required"])
async def test_what_a_builder_cannot_write_at_once_is_completed_as_before(
    field: str, kind: str
) -> None:
    compiled, generic, completed = await _answers(
        f'{{ {field}(kind: "{kind}") {{ name note }} other: spot(kind: "plain") {{ name }} }}'
    )
    assert compiled == generic, (field, kind)
    assert completed == 1  # this field's level, as before; `other` written at once beside it


@pytest.mark.usefixtures("unchecked_execution")
async def test_a_single_objects_async_resolver_answers_and_fails_as_the_generic_one() -> None:
    compiled, generic, _ = await _answers(
        '{ a: sign(text: "stop") { text later } b: sign(text: "fails") { later } }'
    )
    assert compiled == generic
    assert _data(compiled) == {"a": {"text": "stop", "later": "STOP"}, "b": {"later": None}}
    assert b"no sign here" in compiled
