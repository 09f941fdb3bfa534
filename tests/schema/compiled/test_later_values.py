"""A synchronous resolver may answer some objects at once and others with an awaitable (reference
data not cached yet, schema/reference.py): the compiled executor awaits those as graphql-core
does, every key of the level in one batch, with errors where the generic executor puts them."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field

import orjson
import pytest
import strawberry
from strawberry.dataloader import DataLoader

from schema.compiled.executor import comparable_answer, compiling_executor


@dataclass
class _Context:
    batches: list[list[int]] = field(default_factory=list)
    loader: DataLoader[int, str] | None = None

    def __post_init__(self) -> None:
        async def names(keys: list[int]) -> list[str | Exception]:
            self.batches.append(list(keys))
            return [ValueError("no such name") if key == 7 else f"name {key}" for key in keys]

        self.loader = DataLoader(load_fn=names)


async def _named(context: _Context, key: int) -> str:
    assert context.loader is not None
    return await context.loader.load(key)


@strawberry.type
class Item:
    key: int

    @strawberry.field
    def name(self, info: strawberry.Info[_Context, None]) -> str | None:
        # Even keys are known at once; the others are loaded.
        if self.key % 2 == 0:
            return f"known {self.key}"
        later: Awaitable[str] = _named(info.context, self.key)
        return later  # type: ignore[return-value]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(key=k) for k in (1, 2, 3, 4, 5, 7)]


async def _answer(compiled: bool) -> tuple[bytes, list[list[int]]]:
    schema = strawberry.Schema(query=Query, execution_context_class=compiling_executor(compiled, 4))
    context = _Context()
    result = await schema.execute("{ items { key name } }", context_value=context)
    return comparable_answer(result), context.batches


@pytest.mark.usefixtures("unchecked_execution")
async def test_later_values_are_awaited_in_one_batch_as_the_generic_executor_does() -> None:
    (compiled, batches), (generic, _) = await _answer(True), await _answer(False)
    assert compiled == generic
    assert batches == [[1, 3, 5, 7]]
    data = orjson.loads(compiled.split(b"\n")[0])["data"]["items"]
    assert [item["name"] for item in data] == [
        "name 1",
        "known 2",
        "name 3",
        "known 4",
        "name 5",
        None,  # its load failed: null, with the error at its path
    ]
    assert b'"path":["items",5,"name"]' in compiled
