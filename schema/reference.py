"""Reference data in GraphQL: regions, agencies and categories, read by anyone."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import strawberry
from strawberry.dataloader import DataLoader

from domain.errors import DomainError
from domain.services import reference
from domain.services.views import AgencyRecord, CategoryRecord, RegionRecord
from schema.common import Ctx, Node, arg, described, fetchable
from schema.compiled.hints import refers_to
from schema.errors import as_graphql_error
from schema.ids import expect_id

if TYPE_CHECKING:
    from schema.loaders import Loaders


@fetchable
@strawberry.type(description="A province, regency or city, with its time zone.")
class Region(Node):
    code: str = described("Official region code (Kemendagri), e.g. 35.09.")
    name: str = described("e.g. Kabupaten Jember.")
    timezone: str = strawberry.field(description="IANA time zone: WIB, WITA or WIT.")
    parent_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, r: RegionRecord) -> Region:
        return cls(
            id=cls.global_id(r.id),
            code=r.code,
            name=r.name,
            timezone=r.timezone,
            parent_id=r.parent_id,
        )

    @classmethod
    async def load(cls, info: Ctx, pk: int) -> Region | None:
        return await loaded(info, cls, pk)

    @strawberry.field(description="The province of a regency or city.")
    def parent(self, info: Ctx) -> Region | None:
        return reference_of(info, Region, self.parent_id)


@fetchable
@strawberry.type(
    description="A body that acts on reports: an OPD of a regency or a national agency."
)
class Agency(Node):
    code: str = described("Short code, unique within its region, e.g. DINKES.")
    name: str = described("e.g. Dinas Kesehatan Kabupaten Jember.")
    region_id: strawberry.Private[int | None]
    parent_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, a: AgencyRecord) -> Agency:
        return cls(
            id=cls.global_id(a.id),
            code=a.code,
            name=a.name,
            region_id=a.region_id,
            parent_id=a.parent_id,
        )

    @classmethod
    async def load(cls, info: Ctx, pk: int) -> Agency | None:
        return await loaded(info, cls, pk)

    @strawberry.field(description="The region it serves; null for a national agency.")
    def region(self, info: Ctx) -> Region | None:
        return reference_of(info, Region, self.region_id)

    @strawberry.field(description="The agency this one is a unit of (a Puskesmas's Dinas).")
    def parent(self, info: Ctx) -> Agency | None:
        return reference_of(info, Agency, self.parent_id)


@fetchable
@strawberry.type(description="A subject of reports.")
class Category(Node):
    code: str = described("Short stable code, e.g. HEALTH.")
    name: str = described("Name shown to people.")

    @classmethod
    def of(cls, c: CategoryRecord) -> Category:
        return cls(id=cls.global_id(c.id), code=c.code, name=c.name)

    @classmethod
    async def load(cls, info: Ctx, pk: int) -> Category | None:
        return await loaded(info, cls, pk)


R = TypeVar("R", Region, Agency, Category)

# Each kind's records: the process's cache of them (domain/services/reference.py), and the
# request's loader that fetches in one batch what the cache cannot answer (schema/loaders.py).
_SOURCES: dict[type, tuple[Any, Callable[[Loaders], DataLoader[int, Any]]]] = {
    Region: (reference.REGIONS, lambda loaders: loaders.region),
    Agency: (reference.AGENCIES, lambda loaders: loaders.agency),
    Category: (reference.CATEGORIES, lambda loaders: loaders.category),
}


# Each record's node, made once for the record object the process holds: reference data looks
# the same to every viewer and nothing changes a node once made, so requests share it (a
# detail page names five, each a dataclass and a global id to make). A record the cache
# replaces (a renamed agency) is a new object, and gets a new node.
_NODES: dict[tuple[type, int], tuple[object, object]] = {}


def _node_of(cls: type[R], record: Any) -> R:
    key = (cls, record.id)
    kept = _NODES.get(key)
    if kept is None or kept[0] is not record:
        kept = _NODES[key] = (record, cls.of(record))
    return kept[1]  # type: ignore[return-value]


def reference_of(info: Ctx, cls: type[R], pk: int | None) -> R | None:
    """The region, agency or category `pk` (None for None) that an object names: at once when
    this request has it already or the process's cache holds it, else an awaitable of it,
    which both executors await (it is typed as what it gives). Fifty reports of a page name a
    few regions: no coroutine each."""
    if pk is None:
        return None
    made = info.context.loaders.made
    key = (cls, pk)
    if key not in made:
        record = _SOURCES[cls][0].peek(pk)
        if record is None:
            return cast(R, _fetched(info, cls, pk))
        made[key] = _node_of(cls, record)
    return made[key]  # type: ignore[return-value]


def reference_field(cls: type[R], path: str, description: str, *, nullable: bool = False) -> Any:
    """A field of type `cls` answering `reference_of` for the id at `path` (attributes, dotted)
    of its object. A builder looks in the request's made nodes itself first, and calls
    `reference_of` only when they hold nothing (schema/compiled/hints.py, `refers_to`): a page
    of fifty reports names a hundred."""
    get = attrgetter(path)

    def resolve(self: Any, info: Ctx) -> Any:
        return reference_of(info, cls, get(self))

    resolve.__annotations__ = {"info": Ctx, "return": cls | None if nullable else cls}
    marked = refers_to(cls, get, reference_of)(resolve)
    return strawberry.field(resolver=marked, description=description)


async def loaded(info: Ctx, cls: type[R], pk: int) -> R | None:
    """`reference_of`, awaited when it has to be."""
    found: Any = reference_of(info, cls, pk)
    return await found if inspect.isawaitable(found) else found  # type: ignore[no-any-return]


async def _fetched(info: Ctx, cls: type[R], pk: int) -> R | None:
    loaders = info.context.loaders
    record = await _SOURCES[cls][1](loaders).load(pk)
    node = loaders.made[(cls, pk)] = _node_of(cls, record) if record else None
    return node


@strawberry.type
class ReferenceQuery:
    @strawberry.field(description="All regions.")
    async def regions(self) -> list[Region]:
        return [Region.of(r) for r in await reference.all_regions()]

    @strawberry.field(description="Agencies serving a region (with the national ones), or all.")
    async def agencies(
        self,
        region_id: Annotated[
            strawberry.ID | None, arg("A region: its agencies and the national ones.")
        ] = None,
    ) -> list[Agency]:
        try:
            rid = expect_id(region_id, "Region", "regionId") if region_id else None
            found = await reference.agencies_in(rid)
        except DomainError as e:
            raise as_graphql_error(e) from None
        return [Agency.of(a) for a in found]

    @strawberry.field(description="All categories.")
    async def categories(self) -> list[Category]:
        return [Category.of(c) for c in await reference.all_categories()]
