"""What a field's resolver reads, told to the compiled executor ahead of running it.

A resolver that reads something a loader does not fetch by itself (the people a request's
loaders hold, see schema/loaders.py) names, with `prefetched_by`, a function that fetches it
for many objects at once. The compiled executor calls it once per level before running the
resolver on each object; the generic executor ignores it (its loaders fetch people eagerly).

A resolver whose load can read, in the same statement, what a field of its selection will
read next (an assignment's follow-ups with the assignments) names that field with
`reads_ahead` (a path of fields: `assignments.followUps`), and a function that asks its loader
to. The compiled executor calls it before running the resolver when its plan selects that
field, and only then: nothing is read that is not selected. The function is given the
arguments of each selection of the field, as the field will get them (None for one whose
arguments are invalid: the field reports that itself). The generic executor ignores it (the
field reads for itself, one level down).

A type whose fields are the only ones to show some columns of a table (the shown-only columns
of models/rows.py, which no rule decides by) names them with `shows_columns`. A compiled query
that selects none of a column's fields does not read that column (reads made to show rows
select a NULL for it, and the rows hold NOT_READ, which refuses to be shown); the generic
executor reads every column.

A resolver that answers a reference (a report's region) through a function that first answers
the node the request made for it already says so with `refers_to`: a generated builder looks
for that node itself, and calls the function only when there is none (builders.py).

A scalar's serializer that gives some values as they are (a UTC datetime, for orjson to write)
says which with `output_as_is`: a generated builder writes such a value without calling it.

A type whose objects are made of a view, field for field, says how with `made_of_view`
(through schema/made_of.py, `made_of`, which writes its `of` from the same declaration); a
connection made of a page of such views, with `made_of_pages` (schema/common.py,
`connection`). A resolver whose answer is made of views it holds names the function giving
them with `answered_by_views`: a generated builder then writes the answer from the views
themselves, with no objects made for them (builders.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
Prefetch = Callable[[Any, Sequence[Any]], Awaitable[None]]

# ask(context, the arguments of each selection of the field: None where they are invalid)
Ahead = Callable[[Any, tuple[dict[str, Any] | None, ...]], None]

_ATTRIBUTE = "__lapor_prefetch__"
_AHEAD = "__lapor_ahead__"
_SHOWS = "__lapor_shows__"
_REFERS = "__lapor_refers__"
_AS_IS = "__lapor_as_is__"
_VIEW = "__lapor_view__"
_PAGES = "__lapor_pages__"
_VIEWS = "__lapor_views__"
T = TypeVar("T", bound=type)

# Every shown-only column some type shows ("report.body"): those a query may leave out.
declared_columns: set[str] = set()


def prefetched_by(fetch: Prefetch) -> Callable[[F], F]:
    """Mark a resolver: `fetch(context, objects)` loads what it reads for all `objects`."""

    def mark(resolver: F) -> F:
        setattr(resolver, _ATTRIBUTE, fetch)
        return resolver

    return mark


def prefetch_of(resolver: Callable[..., Any]) -> Prefetch | None:
    """The fetch a resolver was marked with, if any."""
    found: Prefetch | None = getattr(resolver, _ATTRIBUTE, None)
    return found


Refers = tuple[type, Callable[[Any], Any], Callable[[Any, type, Any], Any]]


def refers_to(
    kind: type, get: Callable[[Any], Any], look_up: Callable[[Any, type, Any], Any]
) -> Callable[[F], F]:
    """Mark a resolver that answers `look_up(info, kind, get(self))`, which answers the node
    the request made for that reference already when there is one (`info.context.loaders.made`;
    schema/reference.py, `reference_field`): a builder looks there itself, and calls `look_up`
    only when there is none."""

    def mark(resolver: F) -> F:
        setattr(resolver, _REFERS, (kind, get, look_up))
        return resolver

    return mark


def referred_by(resolver: Callable[..., Any]) -> Refers | None:
    """The (kind, get, look_up) a resolver was marked with by `refers_to`, if any."""
    found: Refers | None = getattr(resolver, _REFERS, None)
    return found


# A serializer's values given as they are: of exactly this type, with these attributes (each
# this very object).
AsIs = tuple[type, tuple[tuple[str, Any], ...]]


def output_as_is(kind: type, **attributes: Any) -> Callable[[F], F]:
    """Mark a scalar's serializer that gives a value of exactly `kind` whose named attributes
    are these objects (`is`) as it is, unchanged."""

    def mark(serialize: F) -> F:
        setattr(serialize, _AS_IS, (kind, tuple(attributes.items())))
        return serialize

    return mark


def as_is_of(serialize: Callable[..., Any]) -> AsIs | None:
    """The values a serializer was marked to give as they are (`output_as_is`), if any."""
    found: AsIs | None = getattr(serialize, _AS_IS, None)
    return found


def reads_ahead(child: str, ask: Ahead) -> Callable[[F], F]:
    """Mark a resolver: `ask(context, arguments)` before it runs, when its selection has the
    field `child` (a path of fields, dotted, from the resolver's own selection). The arguments
    may be shared by every run of a plan: an ask reads them and never changes them."""

    def mark(resolver: F) -> F:
        setattr(resolver, _AHEAD, (*ahead_of(resolver), (child, ask)))
        return resolver

    return mark


def ahead_of(resolver: Callable[..., Any]) -> tuple[tuple[str, Ahead], ...]:
    """The (field, ask) pairs a resolver was marked with."""
    found: tuple[tuple[str, Ahead], ...] = getattr(resolver, _AHEAD, ())
    return found


def shows_columns(table: str, **shown_by: tuple[str, ...]) -> Callable[[T], T]:
    """Mark a Strawberry type: each named column of `table` is shown by these of its fields
    (Python names), and by nothing else of the type."""

    def mark(cls: T) -> T:
        names = {f.python_name for f in cls.__strawberry_definition__.fields}  # type: ignore[attr-defined]
        unknown = {f for fields in shown_by.values() for f in fields} - names
        if unknown:
            raise TypeError(f"{cls.__name__} has no fields {sorted(unknown)}")
        shows = {f"{table}.{column}": frozenset(fields) for column, fields in shown_by.items()}
        setattr(cls, _SHOWS, {**getattr(cls, _SHOWS, {}), **shows})
        declared_columns.update(shows)
        return cls

    return mark


def columns_shown_by(cls: Any) -> dict[str, frozenset[str]]:
    """The columns a type was marked to show, each with the fields (Python names) showing it."""
    found: dict[str, frozenset[str]] = getattr(cls, _SHOWS, {})
    return found


@dataclass(frozen=True, slots=True)
class ViewMade:
    """How a type's objects are made of a view of exactly the class `view`: the field `id` is
    `global_id` of the view's `id`, each field of `copies` (Python names) the view's attribute
    it names, and each of `whole` the view itself (no GraphQL field shows it)."""

    view: type
    global_id: Callable[[int], str]
    copies: dict[str, str]
    whole: tuple[str, ...]


def made_of_view(cls: T, made: ViewMade) -> T:
    """Mark a Strawberry type whose objects are made of views as `made` says."""
    setattr(cls, _VIEW, made)
    return cls


def view_made(cls: Any) -> ViewMade | None:
    """How a type's objects are made of a view (`made_of_view`), if they are."""
    found: ViewMade | None = _own(cls, _VIEW)
    return found


def _own(cls: Any, mark: str) -> Any:
    """What a class itself (not a class it derives from) was marked with; None for anything
    else: a subclass is made otherwise, or not of views."""
    return cls.__dict__.get(mark) if isinstance(cls, type) else None


@dataclass(frozen=True, slots=True)
class PageMade:
    """How a connection is made of a page of views (of `node`, a type made of views): an edge
    for each of the page's items, in order, its node made of the item and its cursor
    `cursor(page, item)`; its page info `page_info(page)`."""

    node: type
    cursor: Callable[[Any, Any], str]
    page_info: Callable[[Any], Any]


def made_of_pages(cls: T, made: PageMade) -> T:
    """Mark a connection type made of pages of views as `made` says."""
    setattr(cls, _PAGES, made)
    return cls


def page_made(cls: Any) -> PageMade | None:
    """How a connection is made of a page of views (`made_of_pages`), if it is."""
    found: PageMade | None = _own(cls, _PAGES)
    return found


def answered_by_views(views: Callable[..., Any]) -> Callable[[F], F]:
    """Mark a resolver whose answer, whenever `views` (called as the resolver is, with the same
    object and arguments) gives anything but None, is made of that: a list of objects of a list
    of views (the type's `of` for each), or a connection of a page of them (`made_of_pages`)."""

    def mark(resolver: F) -> F:
        setattr(resolver, _VIEWS, views)
        return resolver

    return mark


def views_of(resolver: Callable[..., Any]) -> Callable[..., Any] | None:
    """The function a resolver was marked to be answered by (`answered_by_views`), if any."""
    found: Callable[..., Any] | None = getattr(resolver, _VIEWS, None)
    return found
