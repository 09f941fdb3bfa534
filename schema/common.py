"""What every subject of the schema uses: the resolver context's type, described fields and
arguments, the Node interface and its registry, coded refusals, and Relay connections (one
factory for every one of them).

No `from __future__ import annotations` here: the connection factory builds classes whose
annotations must be the node types themselves, not their names.
"""

from collections.abc import Callable, Iterable
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar

import strawberry
from strawberry.types import Info

from domain import enums
from domain.errors import DomainError, ErrorCode
from domain.services.reading import Page, PageRequest
from schema.compiled.hints import PageMade, made_of_pages, page_made, view_made
from schema.context import Context
from schema.ids import keyset_position, to_cursor, to_global_id

Ctx = Info[Context, None]
T = TypeVar("T")

# The domain's enums, registered as GraphQL enums (strawberry.enum marks the class itself).
ReportKind = enums.ReportKind
ReportStatus = enums.ReportStatus
AssignmentStatus = enums.AssignmentStatus
ResolutionTier = enums.ResolutionTier
ResolutionCode = enums.ResolutionCode
Role = enums.Role
AttachmentSource = enums.AttachmentSource
strawberry.enum(ReportKind, description="What a citizen sends.")
strawberry.enum(ReportStatus, description="Where a report is in its life.")
strawberry.enum(AssignmentStatus, description="Where one agency's work on a report is.")
strawberry.enum(ResolutionTier, description="How much work a report needs: sets its deadline.")
strawberry.enum(ResolutionCode, description="How a final follow-up resolved its assignment.")
strawberry.enum(Role, description="What a user may do, scoped to a region or an agency.")
strawberry.enum(AttachmentSource, description="Whose file it is: the reporter's, or an agency's.")

# Arguments that recur, described once.
First = Annotated[
    int | None,
    strawberry.argument(description="How many items (at most 100; 20 when omitted)."),
]
After = Annotated[
    str | None,
    strawberry.argument(description="Continue after this cursor: the previous page's endCursor."),
]


def described(description: str) -> Any:
    """A plain attribute field with its description (no resolver: no per-field work)."""
    return strawberry.field(description=description)


def arg(description: str) -> Any:
    """An argument's description."""
    return strawberry.argument(description=description)


def page_request(info: Ctx, first: int | None, after: str | None) -> PageRequest:
    """What a connection field was asked for, within the service's page sizes."""
    s = info.context.settings
    pk, rank = keyset_position(after)
    return PageRequest(first, pk, s.default_page_size, s.max_page_size, rank)


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    ID_DESCRIPTION: ClassVar[str] = "Global id: stable, opaque; `node(id:)` fetches the object."
    id: strawberry.ID = described(ID_DESCRIPTION)

    # The types `node(id:)` can fetch, by name; each loads its own ids as its viewer may see.
    registry: ClassVar[dict[str, type["Node"]]] = {}

    @classmethod
    async def load(cls, info: Ctx, pk: int) -> "Node | None":
        """The object with this database id, if the viewer may see it."""
        raise NotImplementedError

    # The global id of the type's object with this database id: `to_global_id` with the type's
    # name bound, set for each type (a partial, called in C where a classmethod is a Python call
    # more for each of a page's hundred ids).
    global_id: ClassVar[Callable[[int], strawberry.ID]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # (An ID is a str: mypy cannot see that a partial of to_global_id gives one.)
        cls.global_id = partial(to_global_id, cls.__name__)  # type: ignore[assignment]


N = TypeVar("N", bound=type[Node])
Made = TypeVar("Made")


if TYPE_CHECKING:

    def bare(cls: type[Made]) -> Made:
        """An object of a Strawberry type made without its dataclass `__init__`, whose keyword
        binding is most of what making one costs (a report's: 0.74 µs against 0.14 for setting
        its eighteen fields; a page makes a hundred objects): the caller sets every field
        itself, which tests/schema/test_bare_objects.py checks for every type's `of`."""
        ...

else:
    # `object.__new__` itself, not a function calling it: a Python call less for each object.
    bare = object.__new__


def fetchable(cls: N) -> N:
    """Register a Node type for `node(id:)`."""
    Node.registry[cls.__name__] = cls
    return cls


@strawberry.type(description="Relay pagination state of a connection.")
class PageInfo:
    has_next_page: bool = described("More items follow: ask again with after: endCursor.")
    has_previous_page: bool = described("This page was asked for with `after`.")
    start_cursor: str | None = described("Cursor of the first item; null on an empty page.")
    end_cursor: str | None = described("Pass as `after` to get the next page.")


def cursor_in(page: Page[Any], pk: int) -> str:
    """The cursor of the row with this id on a keyset page (with its rank on a ranked one)."""
    return to_cursor(pk, page.rank_of(pk))


def page_info(page: Page[Any], first: int | None, last: int | None) -> PageInfo:
    """PageInfo of a keyset page whose first and last items have these ids (None: it has none)."""
    end = page.scanned_to if page.scanned_to is not None else last
    return PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=None if first is None else cursor_in(page, first),
        end_cursor=None if end is None else cursor_in(page, end),
    )


@strawberry.type(
    description="Why a mutation was refused; `code` is stable, `field` names the input."
)
class UserError:
    code: str = described(
        "Stable code to switch on: " + ", ".join(code.value for code in ErrorCode) + "."
    )
    message: str = described("A sentence for people; may change, do not parse it.")
    field: list[str] | None = strawberry.field(
        default=None, description='Path of the input at fault, e.g. ["title"]; null if none.'
    )
    retry_after: int | None = strawberry.field(
        default=None,
        description="RATE_LIMITED: the seconds to wait before trying again; null otherwise.",
    )

    @classmethod
    def of(cls, error: DomainError) -> "UserError":
        return cls(
            code=error.code.value,
            message=error.message,
            field=error.field,
            retry_after=error.retry_after,
        )


def refused(info: Ctx, error: DomainError) -> UserError:
    """A mutation's refusal, for its payload. A RATE_LIMITED one also gives the HTTP answer its
    Retry-After (and, under application/graphql-response+json, the status 429)."""
    if error.retry_after is not None:
        info.context.retry_after = max(info.context.retry_after or 0, error.retry_after)
    return UserError.of(error)


def _edge_cursor(self: Any) -> str:
    """An edge's cursor, from its position (a resolver of the edge, as a method would be)."""
    return to_cursor(*self.position)


class _Connection:
    """What every connection type does: be made from a keyset page of items."""

    edge: ClassVar[type]

    @classmethod
    def of(
        cls, page: Page[T], node: Callable[[T], Any], key: Callable[[T], int] = attrgetter("id")
    ) -> Any:
        """The connection of a page of items, each made a node by `node`, `key` its id (by
        default its `id`, read without a Python call)."""
        return cls.of_nodes(page, [node(item) for item in page.items], key)

    @classmethod
    def of_nodes(
        cls, page: Page[T], nodes: list[Any], key: Callable[[T], int] = attrgetter("id")
    ) -> Any:
        """The connection of a page of items whose nodes are `nodes`, in the items' order (made
        in one loop by the caller: a timeline's twenty lines)."""
        # (A page by id alone asks no item its rank: a call less for each.)
        rank_of = page.rank_of if page.ranks is not None else None
        edge_type = cls.edge
        edges = []
        for item, node in zip(page.items, nodes, strict=True):
            # Both its fields are set here (tests/schema/test_bare_objects.py).
            edge: Any = bare(edge_type)
            pk = key(item)
            edge.position = (pk, None if rank_of is None else rank_of(pk))
            edge.node = node
            edges.append(edge)
        first, last = (edges[0].position[0], edges[-1].position[0]) if edges else (None, None)
        return cls(edges=edges, page_info=page_info(page, first, last))  # type: ignore[call-arg]

    @classmethod
    def of_views(cls, page: Page[Any]) -> Any:
        """The connection of a page of views its node type is made of (schema/made_of.py)."""
        made = page_made(cls)
        assert made is not None, f"{cls.__name__} is not made of pages of views"
        return cls.of_nodes(page, made.node.all_of(page.items))  # type: ignore[attr-defined]


def _cursor_of_view(page: Page[Any], view: Any) -> str:
    """An edge's cursor, of a page of views (as `_edge_cursor` of the edge made of it)."""
    return cursor_in(page, view.id)


def _page_info_of_views(page: Page[Any]) -> PageInfo:
    """A connection's PageInfo, of a page of views (as `of_nodes` makes it of their edges)."""
    items = page.items
    return page_info(page, items[0].id, items[-1].id) if items else page_info(page, None, None)


def connection(
    node: type,
    *,
    a_node: str,
    noun: str,
    nouns: str,
    page_of: str,
    order: str,
    texts: dict[str, str] | None = None,
) -> type[Any]:
    """A Relay connection of `node` (named after it: ReportConnection, with ReportEdge), its
    descriptions worded for its items; `texts` replaces any of them ("edge", "cursor",
    "node", "connection", "edges", "page_info")."""
    words = {
        "edge": f"{a_node} and its cursor.",
        "cursor": f"Opaque position of this {noun}, for `after`.",
        "node": f"The {noun}.",
        "connection": f"A page of {page_of}, {order}.",
        "edges": f"The {nouns} of this page.",
        "page_info": "Where this page is.",
        **(texts or {}),
    }
    name = node.__name__

    class Edge:
        # Where the item is in its list (its id, and its rank on a ranked page): the cursor is
        # encoded only when it is selected (the detail page's timeline shows none of them).
        position: strawberry.Private[tuple[int, int | None]]
        cursor: str = strawberry.field(resolver=_edge_cursor, description=words["cursor"])
        node: Any = described(words["node"])

    Edge.__annotations__["node"] = node
    edge = strawberry.type(Edge, name=f"{name}Edge", description=words["edge"])

    class Connection(_Connection):
        edges: Any = described(words["edges"])
        page_info: PageInfo = described(words["page_info"])

    Connection.__annotations__["edges"] = list[edge]  # type: ignore[valid-type]
    Connection.edge = edge
    made = strawberry.type(Connection, name=f"{name}Connection", description=words["connection"])
    if view_made(node) is not None:
        made_of_pages(made, PageMade(node, _cursor_of_view, _page_info_of_views))
    return made


def merged(name: str, description: str, parts: Iterable[type]) -> type:
    """One root type (Query, Mutation) made of the subjects' parts, their fields in that order."""
    return strawberry.type(type(name, tuple(parts), {}), name=name, description=description)
