"""Generated builders write the common case and leave every other object to the general path,
so that compiled answers stay the generic executor's, error for error."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from operator import attrgetter
from typing import Any

import orjson
import pytest
import strawberry
from graphql import OperationType
from strawberry.schema.types.base_scalars import DateTimeDefinition

from schema.compiled.builders import _key, builder_of
from schema.compiled.executor import comparable_answer, compiling_executor
from schema.compiled.hints import output_as_is, prefetched_by, refers_to
from schema.compiled.plan import ListOf, Obj
from schema.compiled.run import CompiledInfo
from schema.scalars import datetime_output


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Item:
    name: str
    count: int
    colour: Colour
    note: str | None
    at: datetime

    @strawberry.field
    def doubled(self) -> int:
        if self.count == 13:
            raise ValueError("unlucky")
        return self.count * 2

    @strawberry.field
    async def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    def scaled(self, by: int) -> int:
        return self.count * by


AT = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


def _item(**changes: Any) -> Item:
    fields: dict[str, Any] = {
        "name": "lamp",
        "count": 2,
        "colour": Colour.RED,
        "note": None,
        "at": AT,
    }
    return Item(**(fields | changes))


# Each of these but the first two needs the general path, for one field.
ITEMS = [
    _item(),
    _item(name="pole", colour=Colour.BLUE, note="leaning"),
    _item(name=None),  # null in a non-null field: the item is null, with an error
    _item(count=2**40),  # beyond GraphQL's Int
    _item(count=13),  # its (non-null) resolver raises
    _item(note=5),  # not a string: String's own coercion gives "5"
    _item(at="yesterday"),  # not a datetime: DateTime's serializer refuses it
    _item(colour="red"),  # the enum's value, not its member
]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return ITEMS


@dataclass
class _Context:
    loaders: Any = None


QUERY = """query($by: Int!) { items {
  __typename name count colour note at doubled shout scaled(by: 3) again: scaled(by: $by)
} }"""


# The first item's answer.
LAMP = {
    "__typename": "Item",
    "name": "lamp",
    "count": 2,
    "colour": "RED",
    "note": None,
    "at": AT.isoformat(),
    "doubled": 4,
    "shout": "LAMP",
    "scaled": 6,
    "again": 20,
}


def _schema(compiled: bool) -> strawberry.Schema:
    return strawberry.Schema(query=Query, execution_context_class=compiling_executor(compiled, 4))


async def _answer(compiled: bool) -> bytes:
    return comparable_answer(
        await _schema(compiled).execute(QUERY, variable_values={"by": 10}, context_value=_Context())
    )


@pytest.mark.usefixtures("unchecked_execution")
async def test_compiled_answers_equal_generic_ones_whichever_path_each_object_took() -> None:
    compiled, generic = await _answer(True), await _answer(False)
    assert compiled == generic
    data = orjson.loads(compiled.split(b"\n")[0])["data"]["items"]
    assert data[0] == LAMP
    # A failed non-null field nulls its item (items are nullable), with the error.
    assert [i for i, item in enumerate(data) if item is None] == [2, 3, 4, 6]
    assert data[5]["note"] == "5" and data[7]["colour"] == "RED"


async def test_a_builder_writes_leaves_in_selection_order_and_leaves_the_rest() -> None:
    schema = _schema(True)
    await schema.execute(QUERY, variable_values={"by": 10}, context_value=_Context())
    (entry,) = schema.execution_context_class.plans._entries.values()  # type: ignore[attr-defined]
    (plan,) = entry.plans.values()
    assert plan is not None and plan.operation.operation is OperationType.QUERY
    items = plan.root.fields[0].out
    assert isinstance(items, ListOf) and isinstance(items.item, Obj)
    obj = items.item
    assert obj.builder is not None
    # The asynchronous resolver and the field reading a variable are the general path's.
    assert [f.key for f in obj.builder.rest] == ["shout", "again"]
    built = obj.builder.build(ITEMS, CompiledInfo(_Context()))
    assert list(built[0] or {}) == [f.key for f in obj.fields]  # keys in selection order
    assert built[0] == LAMP | {"shout": None, "again": None}  # those are left to fill in
    assert built[1] is not None and built[1]["note"] == "leaning"
    assert built[2:] == [None] * (len(ITEMS) - 2)


def test_an_object_with_no_leaf_to_build_has_no_builder() -> None:
    schema = _schema(True)
    graphql_schema = schema._schema
    item = graphql_schema.type_map["Item"]
    assert builder_of(Obj(item, True, [])) is None  # type: ignore[arg-type]


# A tree built whole: each box's builder calls its parts' builder, in one call per box.


@strawberry.type
class Part:
    name: str
    weight: int


class Bolt(Part):
    """Not exactly a Part: left to the general path, which checks it as Strawberry does."""


@strawberry.type
class Box:
    label: str
    parts: list[Part]
    spare: Part | None

    @strawberry.field
    def heaviest(self) -> Part | None:
        return max(self.parts, key=lambda part: part.weight, default=None)


BOXES = [
    Box(label="a", parts=[Part(name="nut", weight=1), Part(name="rod", weight=9)], spare=None),
    Box(label="b", parts=[], spare=Part(name="pin", weight=2)),
    Box(label="c", parts=[Part(name="big", weight=2**40)], spare=None),  # beyond Int, deep down
    Box(label="d", parts=[Bolt(name="bolt", weight=3)], spare=Bolt(name="spare", weight=4)),
    Box(label="e", parts=[Part(name="nut", weight=1)], spare=Part(name=None, weight=1)),  # type: ignore[arg-type]
]


@strawberry.type
class Store:
    @strawberry.field
    def boxes(self) -> list[Box | None]:
        return BOXES


BOX_QUERY = "{ boxes { label parts { name weight } spare { name } heaviest { weight } } }"
# The first two boxes' answers: every object of them in the common case.
BOX_A = {
    "label": "a",
    "parts": [{"name": "nut", "weight": 1}, {"name": "rod", "weight": 9}],
    "spare": None,
    "heaviest": {"weight": 9},
}
BOX_B = {"label": "b", "parts": [], "spare": {"name": "pin"}, "heaviest": None}


def _box_schema(compiled: bool) -> strawberry.Schema:
    return strawberry.Schema(query=Store, execution_context_class=compiling_executor(compiled, 4))


async def _box_answer(compiled: bool) -> bytes:
    schema = _box_schema(compiled)
    return comparable_answer(await schema.execute(BOX_QUERY, context_value=_Context()))


@pytest.mark.usefixtures("unchecked_execution")
async def test_a_tree_built_whole_answers_as_the_generic_one_even_failing_deep_down() -> None:
    compiled, generic = await _box_answer(True), await _box_answer(False)
    assert compiled == generic
    data = orjson.loads(compiled.split(b"\n")[0])["data"]["boxes"]
    assert data[:2] == [BOX_A, BOX_B]
    assert data[2] is None  # a part's weight beyond Int nulls the (non-null) parts: the box
    assert data[3]["parts"] == [{"name": "bolt", "weight": 3}]  # a subclass, the general path's
    assert data[4]["spare"] is None  # its spare's name is null: the (nullable) spare is


async def test_an_object_whose_fields_are_all_built_is_built_inside_its_parent() -> None:
    schema = _box_schema(True)
    await schema.execute(BOX_QUERY, context_value=_Context())
    (entry,) = schema.execution_context_class.plans._entries.values()  # type: ignore[attr-defined]
    (plan,) = entry.plans.values()
    assert plan is not None
    boxes = plan.root.fields[0].out
    assert isinstance(boxes, ListOf) and isinstance(boxes.item, Obj)
    box = boxes.item.builder
    assert box is not None and box.rest == []  # parts, spare and heaviest are built in it
    built = box.build(BOXES, CompiledInfo(_Context()))
    assert built[:2] == [BOX_A, BOX_B]
    assert built[2:] == [None, None, None]  # deep failures and a subclass: the general path's


# A field whose resolver reads what is fetched for its whole level first.


@dataclass
class _Owners:
    loaders: Any = None
    fetches: list[list[str]] = field(default_factory=list)
    owners: dict[str, str] = field(default_factory=dict)


async def _fetch_owners(context: _Owners, crates: Any) -> None:
    context.fetches.append([c.label for c in crates])
    context.owners.update({c.label: f"owner of {c.label}" for c in crates if c.label != "c"})


@strawberry.type
class Crate:
    label: str

    @strawberry.field
    @prefetched_by(_fetch_owners)
    def owner(self, info: strawberry.Info[_Owners, None]) -> str | None:
        return info.context.owners.get(self.label)


@strawberry.type
class Shelf:
    name: str
    crates: list[Crate]


@strawberry.type
class Warehouse:
    @strawberry.field
    def shelves(self) -> list[Shelf]:
        return [
            Shelf(name="top", crates=[Crate(label="a"), Crate(label="b")]),
            Shelf(name="low", crates=[Crate(label="c")]),
        ]


# The generic executor leaves such fetches to loaders (hints.py): this schema has none.
@pytest.mark.usefixtures("unchecked_execution")
async def test_a_field_fetched_for_its_level_is_built_after_one_fetch_for_the_level() -> None:
    schema = strawberry.Schema(query=Warehouse, execution_context_class=compiling_executor(True, 4))
    context = _Owners()
    result = await schema.execute(
        "{ shelves { name crates { label owner } } }", context_value=context
    )
    assert result.errors is None
    assert result.data == {
        "shelves": [
            {
                "name": "top",
                "crates": [
                    {"label": "a", "owner": "owner of a"},
                    {"label": "b", "owner": "owner of b"},
                ],
            },
            {"name": "low", "crates": [{"label": "c", "owner": None}]},
        ]
    }
    assert context.fetches == [["a", "b", "c"]]  # once, for every crate of the level
    (entry,) = schema.execution_context_class.plans._entries.values()  # type: ignore[attr-defined,union-attr]
    (plan,) = entry.plans.values()
    assert plan is not None
    shelves = plan.root.fields[0].out
    assert isinstance(shelves, ListOf) and isinstance(shelves.item, Obj)
    shelf = shelves.item
    assert shelf.builder is not None
    # The crates are built inside their shelf: their level's fetch is made before the shelves
    # are built, for the crates of every shelf (`crates` reads an attribute).
    assert shelf.builder.rest == []
    (hoisted,) = shelf.builder.hoisted
    assert [f.key for f in hoisted.path] == ["crates"] and hoisted.kind is Crate
    assert [f.key for f in hoisted.fields] == ["owner"]
    crates = shelf.fields[1].out
    assert isinstance(crates, ListOf) and isinstance(crates.item, Obj)
    crate = crates.item.builder
    assert crate is not None and crate.rest == []
    assert [f.key for f in crate.prefetched] == ["owner"]


@strawberry.type
class Aisle:
    @strawberry.field
    def shelf(self) -> Shelf:
        return Shelf(name="mid", crates=[Crate(label="d"), _OddCrate(label="e")])


class _OddCrate(Crate):
    """A crate of a subclass: never built inside a builder (the general path's)."""


@strawberry.type
class Depot:
    @strawberry.field
    def aisles(self) -> list[Aisle]:
        return [Aisle(), Aisle()]

    @strawberry.field
    def shelves(self) -> list[Shelf]:
        return Warehouse().shelves()


@pytest.mark.usefixtures("unchecked_execution")
async def test_a_hoisted_fetch_reaches_only_what_the_builder_builds_inside() -> None:
    schema = strawberry.Schema(query=Depot, execution_context_class=compiling_executor(True, 4))
    context = _Owners()
    result = await schema.execute(
        "{ aisles { shelf { name crates { label owner } } } shelves { crates { owner } } }",
        context_value=context,
    )
    assert result.errors is None
    mid = {
        "name": "mid",
        "crates": [{"label": "d", "owner": "owner of d"}, {"label": "e", "owner": "owner of e"}],
    }
    assert result.data == {
        "aisles": [{"shelf": mid}, {"shelf": mid}],
        "shelves": [
            {"crates": [{"owner": "owner of a"}, {"owner": "owner of b"}]},
            {"crates": [{"owner": None}]},
        ],
    }
    # `shelf` is a resolver: the shelves are built on their own level, with one fetch for the
    # crates that would be built inside them, never the subclass's. A shelf holding one goes
    # the general path, whose crates' level fetches for all its crates. The warehouse's
    # shelves come from a resolver too: one fetch for all their crates.
    assert context.fetches == [["d", "d"], ["d", "e", "d", "e"], ["a", "b", "c"]]


# References: a field marked `refers_to` is looked for among the nodes the request made, and
# looked up only when there is none (schema/reference.py's fields, here a toy's).


@strawberry.type
class Rack:
    name: str


LOOKED_UP: list[tuple[type, Any]] = []
RACKS = {1: "north", 2: "south"}


def _look_up(info: Any, kind: type, pk: int | None) -> Any:
    """As `reference_of` answers: a node made already, else made and kept; None for no id or
    no such rack."""
    LOOKED_UP.append((kind, pk))
    made = info.context.loaders.made
    if pk is None or pk not in RACKS:
        return None
    if (kind, pk) not in made:
        made[kind, pk] = Rack(name=RACKS[pk])
    return made[kind, pk]


def _rack_of(self: Any, info: strawberry.Info) -> Rack | None:
    return _look_up(info, Rack, self.rack_id)  # type: ignore[no-any-return]


@strawberry.type
class Book:
    title: str
    rack_id: strawberry.Private[int | None]
    rack: Rack | None = strawberry.field(
        resolver=refers_to(Rack, attrgetter("rack_id"), _look_up)(_rack_of)
    )


@strawberry.type
class Library:
    @strawberry.field
    def books(self) -> list[Book]:
        racks = [1, 2, 1, 1, None, 7, 2]  # 7: no such rack
        return [Book(title=f"b{i}", rack_id=s) for i, s in enumerate(racks)]


@dataclass
class _Made:
    made: dict[Any, Any] = field(default_factory=dict)


@pytest.mark.usefixtures("unchecked_execution")
async def test_a_reference_is_looked_up_once_and_read_from_what_the_request_made() -> None:
    answers = []
    for compiled in (True, False):
        LOOKED_UP.clear()
        schema = strawberry.Schema(
            query=Library, execution_context_class=compiling_executor(compiled, 4)
        )
        context = _Context(loaders=_Made())
        result = await schema.execute("{ books { title rack { name } } }", context_value=context)
        answers.append(comparable_answer(result))
        looked_up = sorted(LOOKED_UP, key=str)
        if compiled:
            # Each rack once; no id and a missing rack, each time: no node to find.
            assert looked_up == sorted([(Rack, 1), (Rack, 2), (Rack, None), (Rack, 7)], key=str)
        else:
            assert len(looked_up) == 7  # the generic executor calls each book's resolver
    assert answers[0] == answers[1]
    books = orjson.loads(answers[0].split(b"\n")[0])["data"]["books"]
    assert [b["rack"] and b["rack"]["name"] for b in books] == [
        "north", "south", "north", "north", None, None, "south"
    ]  # fmt: skip


# A scalar whose serializer gives a UTC datetime as it is (the product's DateTime), counting
# the values it is given.
SERIALIZED: list[Any] = []


@output_as_is(datetime, tzinfo=UTC)
def _counted_datetime_output(value: Any) -> Any:
    SERIALIZED.append(value)
    return datetime_output(value)


class _Subclassed(datetime):
    pass


@strawberry.type
class Visit:
    at: datetime
    left: datetime | None


VISITS = [
    Visit(at=AT, left=None),
    Visit(at=AT, left=AT),
    Visit(at=AT.astimezone(timezone(timedelta(hours=7))), left=None),  # another zone
    Visit(at=_Subclassed(2026, 11, 30, 7, 0, tzinfo=UTC), left=None),  # not exactly a datetime
    Visit(at=AT, left=AT.replace(tzinfo=None)),  # naive
]


@strawberry.type
class Ward:
    @strawberry.field
    def visits(self) -> list[Visit]:
        return VISITS


@pytest.mark.usefixtures("unchecked_execution")
async def test_a_value_its_serializer_gives_as_it_is_is_written_without_calling_it() -> None:
    scalar = dataclasses.replace(
        DateTimeDefinition, serialize=_counted_datetime_output, implementation=None
    )
    answers, given = [], []
    for compiled in (True, False):
        SERIALIZED.clear()
        schema = strawberry.Schema(
            query=Ward,
            execution_context_class=compiling_executor(compiled, 4),
            scalar_overrides={datetime: scalar},
        )
        result = await schema.execute("{ visits { at left } }", context_value=_Context())
        answers.append(comparable_answer(result))
        given.append(list(SERIALIZED))
    assert answers[0] == answers[1]
    visits = orjson.loads(answers[0].split(b"\n")[0])["data"]["visits"]
    assert [v["at"] for v in visits] == [v.at.isoformat() for v in VISITS]
    assert [v["left"] for v in visits] == [v.left and v.left.isoformat() for v in VISITS]
    # The generic executor serializes every datetime; the builder writes the first two visits'
    # UTC datetimes as they are, and each of the others goes down the general path whole.
    assert len(given[1]) == 7
    assert given[0] == [VISITS[2].at, VISITS[3].at, VISITS[4].at, VISITS[4].left]


def test_only_a_graphql_name_is_written_into_a_builder_as_a_key() -> None:
    namespace: dict[str, Any] = {}
    assert _key("dueAt", "3", namespace) == "'dueAt'" and not namespace
    assert _key("__typename", "4", namespace) == "'__typename'" and not namespace
    for n, odd in enumerate(["a'b", "x\n__import__('os')", "1st", "é", ""]):
        assert _key(odd, f"9_{n}", namespace) == f"k9_{n}"
        assert namespace[f"k9_{n}"] == odd
