"""Reference data in GraphQL: regions, agencies and categories, read by anyone."""

from __future__ import annotations

from typing import Annotated

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
        found = await info.context.loaders.region.load(pk)
        return cls.of(found) if found else None

    @strawberry.field(description="The province of a regency or city.")
    async def parent(self, info: Ctx) -> Region | None:
        return await Region.load(info, self.parent_id) if self.parent_id is not None else None


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
        found = await info.context.loaders.agency.load(pk)
        return cls.of(found) if found else None

    @strawberry.field(description="The region it serves; null for a national agency.")
    async def region(self, info: Ctx) -> Region | None:
        return await Region.load(info, self.region_id) if self.region_id is not None else None

    @strawberry.field(description="The agency this one is a unit of (a Puskesmas's Dinas).")
    async def parent(self, info: Ctx) -> Agency | None:
        return await Agency.load(info, self.parent_id) if self.parent_id is not None else None


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
        found = await info.context.loaders.category.load(pk)
        return cls.of(found) if found else None


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
