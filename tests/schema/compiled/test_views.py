"""Objects made of views (schema/made_of.py) and answers a builder writes from the views
themselves (`hints.answered_by_views`): the same answers as the objects', error for error,
with no object made when every selected field can be read from a view."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, NamedTuple

import orjson
import pytest
import strawberry

from domain.services.reading import Page
from schema.common import Node, connection
from schema.compiled.executor import comparable_answer, compiling_executor
from schema.compiled.hints import answered_by_views, page_made, view_made, views_of
from schema.compiled.plan import DEFINITION
from schema.made_of import WHOLE, made_of

AT = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


class Line(NamedTuple):
    id: int
    text: Any
    at: Any
    author: int


class Scribble(Line):
    """Not exactly a Line: a builder leaves it to the general path."""


@made_of(Line, "text", "at", author_id="author", view=WHOLE)
@strawberry.type
class Note(Node):
    text: str | None
    at: datetime
    author_id: strawberry.Private[int]
    view: strawberry.Private[Line]
    of: ClassVar[Callable[[Line], Note]]
    all_of: ClassVar[Callable[[Iterable[Line]], list[Note]]]

    @strawberry.field
    def loud(self) -> str:
        """A resolver: no view gives it, so a selection of it needs the objects."""
        return (self.text or "").upper()


NoteConnection = connection(
    Note, a_node="A note", noun="note", nouns="notes", page_of="notes", order="oldest first"
)


@dataclass
class _Context:
    # The pages the request holds, by `first`; the list of pinned notes, if held.
    pages: dict[int | None, Page[Line]] = field(default_factory=dict)
    pinned: list[Line] | None = None
    later: Page[Line] | None = None  # what a page not held loads
    later_pinned: list[Line] = field(default_factory=list)  # and a list not held
    loaders: Any = None


def _held_notes(board: Board, info: Any, first: int | None = None) -> Page[Line] | None:
    return info.context.pages.get(first)  # type: ignore[no-any-return]


def _held_pinned(board: Board, info: Any) -> list[Line] | None:
    return info.context.pinned  # type: ignore[no-any-return]


async def _loaded(page: Page[Line]) -> Any:
    return NoteConnection.of_views(page)


async def _pinned_loaded(lines: list[Line]) -> list[Note]:
    return Note.all_of(lines)


@strawberry.type
class Board:
    @strawberry.field
    @answered_by_views(_held_notes)
    def notes(self, info: strawberry.Info, first: int | None = None) -> NoteConnection:  # type: ignore[valid-type]
        held = _held_notes(self, info, first)
        if held is not None:
            return NoteConnection.of_views(held)
        return _loaded(info.context.later)  # type: ignore[return-value]

    @strawberry.field
    @answered_by_views(_held_pinned)
    def pinned(self, info: strawberry.Info) -> list[Note]:
        held = _held_pinned(self, info)
        if held is not None:
            return Note.all_of(held)
        return _pinned_loaded(info.context.later_pinned)  # type: ignore[return-value]


@strawberry.type
class Query:
    @strawberry.field
    def board(self) -> Board:
        return Board()


LINES = [Line(7, "pothole", AT, 1), Line(9, None, AT, 2)]
PAGE = Page(LINES, has_next=True, has_previous=False)
WHOLE_PAGE = """{ board {
  notes(first: 2) {
    __typename
    edges { __typename cursor node { __typename id text at } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
  pinned { id text at }
} }"""


async def _answers(query: str, context: Callable[[], _Context]) -> tuple[bytes, bytes, list[int]]:
    """The compiled answer, the generic one, and how many notes each made as objects."""
    made: list[int] = []
    answers = []
    all_of = Note.all_of
    for compiled in (True, False):
        count = [0]

        def counted(views: Iterable[Line], count: list[int] = count) -> list[Note]:
            notes = all_of(views)
            count[0] += len(notes)
            return notes

        Note.all_of = counted  # type: ignore[method-assign,assignment]
        try:
            schema = strawberry.Schema(
                query=Query, execution_context_class=compiling_executor(compiled, 4)
            )
            answers.append(comparable_answer(await schema.execute(query, context_value=context())))
        finally:
            Note.all_of = all_of  # type: ignore[method-assign]
        made.append(count[0])
    return answers[0], answers[1], made


def _data(answer: bytes) -> Any:
    return orjson.loads(answer.split(b"\n")[0])["data"]


@pytest.mark.usefixtures("unchecked_execution")
async def test_a_held_page_and_list_are_written_from_their_views_with_no_object_made() -> None:
    compiled, generic, made = await _answers(
        WHOLE_PAGE, lambda: _Context(pages={2: PAGE}, pinned=LINES)
    )
    assert compiled == generic
    assert made == [0, 4]  # the generic executor made two notes for each field
    notes = _data(compiled)["board"]["notes"]
    assert notes["__typename"] == "NoteConnection"
    assert [e["node"] for e in notes["edges"]] == [
        {"__typename": "Note", "id": Note.global_id(7), "text": "pothole", "at": AT.isoformat()},
        {"__typename": "Note", "id": Note.global_id(9), "text": None, "at": AT.isoformat()},
    ]
    assert notes["pageInfo"]["hasNextPage"] is True
    assert notes["pageInfo"]["endCursor"] == notes["edges"][-1]["cursor"]


# A search's page: its cursors carry each row's rank; the last row scanned was a hidden one.
RANKED = Page(LINES, has_next=False, has_previous=True, scanned_to=11, ranks={7: 3, 9: 2, 11: 1})


def _one(line: Line) -> _Context:
    return _Context(pages={2: Page([line], has_next=False, has_previous=False)})


@pytest.mark.usefixtures("unchecked_execution")
@pytest.mark.parametrize(
    ("case", "context"),
    [
        ("a value of another type", lambda: _one(Line(7, 5, AT, 1))),
        ("a null in a non-null field", lambda: _one(Line(7, "x", None, 1))),
        ("a view of another class", lambda: _one(Scribble(7, "x", AT, 1))),
        ("a page not held", lambda: _Context(later=PAGE)),
        ("a ranked page", lambda: _Context(pages={2: RANKED})),
        ("an empty page", lambda: _Context(pages={2: Page([], False, True, None)})),
        ("a list not held", lambda: _Context(pages={2: PAGE}, later_pinned=LINES)),
    ],
)  # fmt: skip
async def test_what_views_cannot_give_as_they_are_answers_as_the_objects_do(
    case: str, context: Callable[[], _Context]
) -> None:
    compiled, generic, _ = await _answers(WHOLE_PAGE, context)
    assert compiled == generic, case


@pytest.mark.usefixtures("unchecked_execution")
async def test_a_selection_no_view_gives_is_answered_by_the_objects() -> None:
    query = "{ board { notes(first: 2) { edges { node { id loud } } } pinned { loud } } }"
    compiled, generic, made = await _answers(query, lambda: _Context(pages={2: PAGE}, pinned=LINES))
    assert compiled == generic
    assert made == [4, 4]
    assert [e["node"]["loud"] for e in _data(compiled)["board"]["notes"]["edges"]] == [
        "POTHOLE",
        "",
    ]


@pytest.mark.usefixtures("unchecked_execution")
async def test_aliases_and_repeated_selections_are_written_from_the_views() -> None:
    query = """{ board { a: notes(first: 2) {
      e: edges { c: cursor n: node { i: id } }
      again: edges { node { text } }
      p: pageInfo { end: endCursor }
    } } }"""
    compiled, generic, made = await _answers(query, lambda: _Context(pages={2: PAGE}))
    assert compiled == generic
    assert made == [0, 2]
    page = _data(compiled)["board"]["a"]
    assert [e["n"]["i"] for e in page["e"]] == [Note.global_id(7), Note.global_id(9)]
    assert page["p"]["end"] == page["e"][-1]["c"]


def test_an_object_made_of_a_view_has_every_field_of_it() -> None:
    line = Line(7, "pothole", AT, 3)
    (note,) = Note.all_of([line])
    for made in (Note.of(line), note):
        assert (made.id, made.text, made.at, made.author_id) == (
            Note.global_id(7),
            "pothole",
            AT,
            3,
        )
        assert made.view is line
    assert view_made(Note) is not None and view_made(Board) is None
    made_pages = page_made(NoteConnection)
    assert made_pages is not None and made_pages.node is Note


@pytest.mark.parametrize(
    ("declared", "refused"),
    [
        ((("text",), {"view": WHOLE}), "fields not declared ['at', 'author_id']"),
        ((("text", "at", "author", "colour"), {"view": WHOLE}), "not fields ['author', 'colour']"),
        ((("text", "at"), {"author_id": "writer", "view": WHOLE}), "not in the view ['writer']"),
    ],
)
def test_a_declaration_that_leaves_a_field_unset_or_reads_what_the_view_lacks_is_refused(
    declared: tuple[tuple[str, ...], dict[str, Any]], refused: str
) -> None:
    copied, named = declared

    @strawberry.type
    class Sketch(Node):
        text: str | None
        at: datetime
        author_id: strawberry.Private[int]
        view: strawberry.Private[Line]

    with pytest.raises(TypeError, match=refused.replace("[", r"\[").replace("]", r"\]")):
        made_of(Line, *copied, **named)(Sketch)


def test_every_function_answering_a_field_of_the_schema_is_called_as_its_resolver_is() -> None:
    """A builder calls the function with the resolver's own object and arguments: the same
    parameters, by name, with the same defaults."""
    from schema.schema import schema

    found = []
    for graphql_type in schema._schema.type_map.values():
        definition = (getattr(graphql_type, "extensions", None) or {}).get(DEFINITION)
        for strawberry_field in getattr(definition, "fields", None) or ():
            resolver = strawberry_field.base_resolver
            views = views_of(resolver.wrapped_func) if resolver is not None else None
            if views is None:
                continue
            theirs = inspect.signature(resolver.wrapped_func).parameters
            ours = inspect.signature(views).parameters
            assert [(p.kind, p.default) for p in ours.values()] == [
                (p.kind, p.default) for p in theirs.values()
            ], strawberry_field.python_name
            assert list(ours)[1:] == list(theirs)[1:], strawberry_field.python_name
            found.append(f"{definition.name}.{strawberry_field.python_name}")
    assert sorted(found) == ["Assignment.follow_ups", "Report.assignments", "Report.timeline"]
