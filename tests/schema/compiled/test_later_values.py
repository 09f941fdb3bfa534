"""A synchronous resolver may answer some objects at once and others with an awaitable (reference
data not cached yet, schema/reference.py): the compiled executor awaits those as graphql-core
does, each field's keys of the level in one batch, with errors where the generic executor puts
them; a builder that meets one lets it go unstarted, never leaving it unawaited."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime

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
class Tag:
    text: str


async def _tagged(context: _Context, key: int) -> Tag:
    return Tag(text=await _named(context, key))


async def _dated(context: _Context, key: int) -> datetime:
    await _named(context, key)
    return datetime(2026, 12, key, tzinfo=UTC)


# Which items' values of each field are loaded (the others are known at once): each field's
# value is tested differently by a builder (a string, an object, a value for a serializer), and
# each is first to be loaded for some item, so that the builder meets the awaitable there.
LATER = {"name": {1, 7}, "tag": {3}, "at": {5}}


@strawberry.type
class Item:
    key: int

    @strawberry.field
    def name(self, info: strawberry.Info[_Context, None]) -> str | None:
        if self.key not in LATER["name"]:
            return f"known {self.key}"
        later: Awaitable[str] = _named(info.context, self.key)
        return later  # type: ignore[return-value]

    @strawberry.field
    def tag(self, info: strawberry.Info[_Context, None]) -> Tag | None:
        if self.key not in LATER["tag"]:
            return Tag(text=f"known {self.key}")
        later: Awaitable[Tag] = _tagged(info.context, self.key)
        return later  # type: ignore[return-value]

    @strawberry.field
    def at(self, info: strawberry.Info[_Context, None]) -> datetime | None:
        if self.key not in LATER["at"]:
            return datetime(2026, 12, self.key, tzinfo=UTC)
        later: Awaitable[datetime] = _dated(info.context, self.key)
        return later  # type: ignore[return-value]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(key=k) for k in (1, 2, 3, 4, 5, 7)]


async def _answer(compiled: bool) -> tuple[bytes, list[list[int]]]:
    schema = strawberry.Schema(query=Query, execution_context_class=compiling_executor(compiled, 4))
    context = _Context()
    result = await schema.execute("{ items { key name tag { text } at } }", context_value=context)
    return comparable_answer(result), context.batches


@pytest.mark.usefixtures("unchecked_execution")
async def test_later_values_are_awaited_in_one_batch_as_the_generic_executor_does() -> None:
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        (compiled, batches), (generic, _) = await _answer(True), await _answer(False)
        gc.collect()
    # The builder let each coroutine go unstarted, closed: none was left never awaited.
    assert not [w for w in warned if "never awaited" in str(w.message)]
    assert compiled == generic
    # One batch for each field's keys (the generic executor batches the level's fields
    # together: the same answers, in more batches).
    assert sorted(sorted(batch) for batch in batches) == [[1, 7], [3], [5]]
    data = orjson.loads(compiled.split(b"\n")[0])["data"]["items"]
    assert [item["name"] for item in data] == [
        "name 1",
        "known 2",
        "known 3",
        "known 4",
        "known 5",
        None,  # its load failed: null, with the error at its path
    ]
    assert [item["tag"]["text"] for item in data if item["key"] == 3] == ["name 3"]
    assert [item["at"] for item in data if item["key"] == 5] == ["2026-12-05T00:00:00+00:00"]
    assert b'"path":["items",5,"name"]' in compiled
