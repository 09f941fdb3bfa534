"""Reference data that every request and job reads and admins rarely change: regions, agencies,
categories, each region's working-day calendar, and who holds a role where; cached per process
while its change feed listens (domain/services/caching.py).

Cached rows are shared by every request of the process: read them, never change or save them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

from tortoise.expressions import Q
from tortoise.models import Model

from core.bounds import CODE_MAX_LENGTH, text_problem
from domain.calendar import WorkingCalendar
from domain.errors import not_found
from domain.ids import parse_id
from domain.services import reference
from domain.services.caching import Cache
from models import (
    Agency,
    Category,
    Holiday,
    Region,
    RoleGrant,
    RoutingRule,
)
from models.enums import Role

REGIONS: Cache[int, Region] = Cache("regions", {"region"})
AGENCIES: Cache[int, Agency] = Cache("agencies", {"agency"})
CATEGORIES: Cache[int, Category] = Cache("categories", {"category"})
CALENDARS: Cache[int, WorkingCalendar] = Cache("calendars", {"region", "holiday"})
Scope = tuple[Role, tuple[int, ...] | None, tuple[int, ...] | None]
HOLDERS: Cache[Scope, list[int]] = Cache("role holders", {"role_grant"})
M = TypeVar("M", bound=Model)


async def regions(ids: Iterable[int]) -> dict[int, Region]:
    return await REGIONS.get_many(ids, _fetch(Region))


async def agencies(ids: Iterable[int]) -> dict[int, Agency]:
    return await AGENCIES.get_many(ids, _fetch(Agency))


async def categories(ids: Iterable[int]) -> dict[int, Category]:
    return await CATEGORIES.get_many(ids, _fetch(Category))


def _fetch(model: type[M]) -> Callable[[list[int]], Awaitable[dict[int, M]]]:
    async def fetch(ids: list[int]) -> dict[int, M]:
        return {row.pk: row for row in await model.filter(id__in=ids)}

    return fetch


async def region(region_id: int) -> Region | None:
    return (await regions([region_id])).get(region_id)


async def agency(agency_id: int) -> Agency | None:
    return (await agencies([agency_id])).get(agency_id)


async def category(category_id: int) -> Category | None:
    return (await categories([category_id])).get(category_id)


async def region_lineage(region_id: int, field_name: str = "regionId") -> list[Region]:
    """The region and its parents, nearest first (a province's holiday is its regencies' too)."""
    lineage: list[Region] = []
    current: int | None = region_id
    while current is not None and current not in [r.id for r in lineage]:
        found = await region(current)
        if found is None:
            if not lineage:
                raise not_found("region", field_name)
            break
        lineage.append(found)
        current = found.parent_id
    return lineage


async def calendar_for(region_id: int) -> WorkingCalendar:
    """The working-day calendar of a region: national holidays plus its own and its parents'."""
    return (await CALENDARS.get_many([region_id], _calendars))[region_id]


async def _calendars(region_ids: list[int]) -> dict[int, WorkingCalendar]:
    found = {}
    for region_id in region_ids:
        lineage = await region_lineage(region_id)
        days = await Holiday.filter(
            Q(region_id__isnull=True) | Q(region_id__in=[r.id for r in lineage])
        ).values_list("day", flat=True)
        found[region_id] = WorkingCalendar(lineage[0].timezone, frozenset(days))  # type: ignore[arg-type]
    return found


async def holders(
    role: Role, *, region_ids: Iterable[int] | None = None, agency_ids: Iterable[int] | None = None
) -> list[int]:
    """The users holding `role` (in one of the regions or agencies, when given)."""
    regions_ = tuple(sorted(region_ids)) if region_ids is not None else None
    agencies_ = tuple(sorted(agency_ids)) if agency_ids is not None else None

    async def fetch() -> list[int]:
        qs = RoleGrant.filter(role=role)
        if regions_ is not None:
            qs = qs.filter(region_id__in=list(regions_))
        if agencies_ is not None:
            qs = qs.filter(agency_id__in=list(agencies_))
        return sorted({int(uid) for uid in await qs.values_list("user_id", flat=True)})  # type: ignore[call-overload]

    return await HOLDERS.get((role, regions_, agencies_), fetch)


regions_by_ids = reference.regions


agencies_by_ids = reference.agencies


categories_by_ids = reference.categories


async def all_regions() -> list[Region]:
    return list(await Region.all().order_by("code"))


async def region_by_code(code: str) -> Region | None:
    """The region with this code; None for none (a code longer than any is not looked up)."""
    if text_problem(code, CODE_MAX_LENGTH) is not None:
        return None
    return await Region.get_or_none(code=code)


async def agencies_in(region_id: int | str | None) -> list[Agency]:
    """Agencies serving a region (its own and the national ones), or all of them."""
    if region_id is None:
        return list(await Agency.all().order_by("region_id", "code"))
    rid = parse_id(region_id, "regionId")
    return list(await Agency.filter(Q(region_id=rid) | Q(region_id__isnull=True)).order_by("code"))


async def all_categories() -> list[Category]:
    return list(await Category.all().order_by("code"))


async def suggested_agencies(keys: Sequence[tuple[int, int]]) -> list[list[Agency]]:
    """For (category id, region id) keys: the agencies routing rules suggest, best first."""
    categories = sorted({c for c, _ in keys})
    regions = sorted({r for _, r in keys})
    rules = await RoutingRule.filter(category_id__in=categories, region_id__in=regions).order_by(
        "-priority", "id"
    )
    agencies = await agencies_by_ids([r.agency_id for r in rules])
    by_key: dict[tuple[int, int], list[Agency]] = defaultdict(list)
    for rule in rules:
        if rule.agency_id in agencies:
            by_key[(rule.category_id, rule.region_id)].append(agencies[rule.agency_id])
    return [by_key[k] for k in keys]
