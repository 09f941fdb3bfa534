"""The working-day calendar in GraphQL: read by anyone, changed by the superadmin (collective
leave) and by a region's coordinators (regional holidays)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated

import strawberry

from domain.errors import DomainError
from domain.services import calendars
from domain.services.idempotency import Replay
from schema.common import Ctx, UserError, described
from schema.errors import as_graphql_error
from schema.idempotency import idempotent
from schema.ids import expect_id, to_global_id
from schema.reference import Region, reference_of

DayOffSource = calendars.DayOffSource
strawberry.enum(DayOffSource, description="Where a day off comes from.")


@strawberry.type(description="A weekday that is not a working day.")
class DayOff:
    id: strawberry.ID | None = strawberry.field(
        description="Set for days added as data (the ones that can be removed)."
    )
    day: date = described("The date (in the region's calendar).")
    name: str = described("e.g. Hari Raya Idul Fitri, Cuti Bersama.")
    source: DayOffSource = described("National holiday, collective leave or regional holiday.")
    region_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, d: calendars.CalendarDay) -> DayOff:
        gid = strawberry.ID(to_global_id("Holiday", d.holiday_id)) if d.holiday_id else None
        return cls(id=gid, day=d.day, name=d.name, source=d.source, region_id=d.region_id)

    @strawberry.field(description="The region of a regional holiday.")
    def region(self, info: Ctx) -> Region | None:
        return reference_of(info, Region, self.region_id)


@strawberry.type(description="The changed day off, or why nothing changed.")
class DayOffPayload:
    day_off: DayOff | None = described("The day added or removed; null when refused.")
    errors: list[UserError] = described("Why nothing changed; empty on success.")


async def _payload(use_case: Callable[[], Awaitable[calendars.CalendarDay]]) -> DayOffPayload:
    try:
        return DayOffPayload(day_off=DayOff.of(await use_case()), errors=[])
    except DomainError as e:
        return DayOffPayload(day_off=None, errors=[UserError.of(e)])


@strawberry.type
class CalendarQuery:
    @strawberry.field(
        description="Days off of a year: national holidays, collective leave and "
        "the region's own (weekends aside)."
    )
    async def days_off(
        self,
        year: Annotated[int, strawberry.argument(description="e.g. 2026.")],
        region_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Add this region's own holidays."),
        ] = None,
    ) -> list[DayOff]:
        try:
            rid = expect_id(region_id, "Region", "regionId") if region_id else None
            return [DayOff.of(d) for d in await calendars.days_off(year, rid)]
        except DomainError as e:
            raise as_graphql_error(e) from None


@strawberry.type
class CalendarMutation:
    @strawberry.mutation(
        description="Add collective leave (superadmin) or a regional holiday "
        "(its coordinator); counts for deadlines computed from now on."
    )
    async def day_off_add(
        self,
        info: Ctx,
        day: Annotated[date, strawberry.argument(description="The day off.")],
        name: Annotated[str, strawberry.argument(description="What it is called.")],
        region_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="A regional holiday's region; null: national leave."),
        ] = None,
    ) -> DayOffPayload:
        ctx = info.context

        def add() -> Awaitable[calendars.CalendarDay]:
            rid = expect_id(region_id, "Region", "regionId") if region_id else None
            return calendars.add_day_off(ctx.actor, ctx.now, day, name, rid)

        async def once() -> calendars.CalendarDay:
            added = await idempotent(info, add, lambda d: {"holiday": d.holiday_id or 0})
            if isinstance(added, Replay):  # the day the first request added, if still there
                return await calendars.day_off(added.outcome["holiday"])
            return added

        return await _payload(once)

    @strawberry.mutation(description="Remove a day off that was added as data.")
    async def day_off_remove(
        self,
        info: Ctx,
        id: Annotated[strawberry.ID, strawberry.argument(description="The day off's id.")],
    ) -> DayOffPayload:
        ctx = info.context
        return await _payload(
            lambda: calendars.remove_day_off(ctx.actor, expect_id(id, "Holiday", "id"))
        )
