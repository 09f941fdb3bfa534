"""Reference data in GraphQL: regions, agencies and categories, read by anyone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar, cast

import strawberry

from domain.errors import DomainError
from domain.services import reference
from domain.services.views import AgencyRecord, CategoryRecord, RegionRecord
from schema.common import Ctx, Node, arg, described, fetchable
from schema.errors import as_graphql_error
from schema.ids import expect_id


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
        return await _reference(info, cls, pk, info.context.loaders.region_of)

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
        return await _reference(info, cls, pk, info.context.loaders.agency_of)

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
        return await _reference(info, cls, pk, info.context.loaders.category_of)


R = TypeVar("R", Region, Agency, Category)

_NOT_MADE = object()
# The process's cache of each kind's records (domain/services/reference.py), as the loaders read
# them (schema/loaders.py, `region_of` and the others).
_CACHES: dict[type, Any] = {
    Region: reference.REGIONS,
    Agency: reference.AGENCIES,
    Category: reference.CATEGORIES,
}


def reference_of(info: Ctx, cls: type[R], pk: int | None) -> R | None:
    """The region, agency or category `pk` (None for None) that an object names: at once when
    this request made it already or the process's reference cache holds it, else an awaitable
    of it, which both executors await (it is typed as what it gives). Fifty reports of a page
    name a few regions: no coroutine each."""
    if pk is None:
        return None
    made = info.context.loaders.made
    key = (cls, pk)
    found = made.get(key, _NOT_MADE)
    if found is not _NOT_MADE:
        return found  # type: ignore[return-value]
    record = _CACHES[cls].peek(pk)
    if record is None:
        return cast(R, cls.load(info, pk))
    node = made[key] = cls.of(record)
    return node


async def _reference(
    info: Ctx, cls: type[R], pk: int, fetch: Callable[[int], Awaitable[Any]]
) -> R | None:
    """A region, agency or category: public and the same for every viewer, so made once per
    request however many objects name it (fifty reports of one regency: one Region)."""
    made = info.context.loaders.made
    key = (cls, pk)
    if key in made:
        return made[key]  # type: ignore[return-value]
    found = await fetch(pk)
    node = cls.of(found) if found else None
    made[key] = node
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
