"""The working-day calendar as data: collective leave (national) and regional holidays.

A day added here counts for deadlines computed from then on; deadlines already stored keep
their value (the calendar is normally published months ahead)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from core.bounds import NAME_MAX_LENGTH
from domain.actor import Actor
from domain.calendar import national_holidays
from domain.errors import DomainError, ErrorCode, invalid, not_found
from domain.ids import parse_id
from domain.policy import allowed_on_calendar, require_signed_in
from domain.services import reference
from domain.services.common import require_aware, required_text
from domain.services.reference import region_lineage
from models import Holiday


class DayOffSource(StrEnum):
    NATIONAL = "NATIONAL"
    COLLECTIVE_LEAVE = "COLLECTIVE_LEAVE"
    REGIONAL = "REGIONAL"


@dataclass(frozen=True)
class CalendarDay:
    """A non-working day other than a weekend, with where it comes from."""

    day: date
    name: str
    source: DayOffSource  # NATIONAL: the holidays package; the others are data
    region_id: int | None = None
    holiday_id: int | None = None


def _check_year(year: int) -> None:
    if not 2000 <= year <= 2100:
        raise invalid("year", "must be between 2000 and 2100")


async def days_off(year: int, region_id: int | str | None) -> list[CalendarDay]:
    """The year's holidays for a region (or nationally): national, collective leave, regional."""
    _check_year(year)
    days = [
        CalendarDay(d, n, DayOffSource.NATIONAL) for d, n in sorted(national_holidays(year).items())
    ]
    rows = Holiday.filter(day__gte=date(year, 1, 1), day__lte=date(year, 12, 31))
    if region_id is None:
        rows = rows.filter(region_id__isnull=True)
    else:
        rid = parse_id(region_id, "regionId")
        rows = rows.filter(
            Q(region_id__isnull=True) | Q(region_id__in=[r.id for r in await region_lineage(rid)])
        )
    for row in await rows.order_by("day"):
        days.append(_data_day(row))
    return sorted(days, key=lambda d: (d.day, d.source))


async def add_day_off(
    actor: Actor, now: datetime, day: date, name: str, region_id: int | str | None
) -> CalendarDay:
    """Add collective leave (no region: superadmin) or a regional holiday (its coordinator)."""
    require_aware(now)
    require_signed_in(actor)
    text = required_text(name, "name", max_length=NAME_MAX_LENGTH)
    rid = parse_id(region_id, "regionId") if region_id is not None else None
    if rid is not None and await reference.region(rid) is None:
        raise not_found("region", "regionId")
    if not allowed_on_calendar(actor, rid):
        raise DomainError(ErrorCode.FORBIDDEN, "you may not change this calendar")
    if day.weekday() >= 5:
        raise invalid("day", "a weekend is never a working day")
    if day in national_holidays(day.year):
        raise DomainError(ErrorCode.ALREADY_DONE, "this is a national holiday already", ["day"])
    if await Holiday.exists(day=day, region_id=rid):
        raise DomainError(ErrorCode.ALREADY_DONE, "this day is off already", ["day"])
    try:
        row = await Holiday.create(day=day, name=text, region_id=rid)
    except IntegrityError:
        raise DomainError(ErrorCode.ALREADY_DONE, "this day is off already", ["day"]) from None
    return _data_day(row)


async def remove_day_off(actor: Actor, holiday_id: int | str) -> CalendarDay:
    """Remove a day added as data (national holidays come from the package and stay)."""
    require_signed_in(actor)
    row = await Holiday.get_or_none(id=parse_id(holiday_id, "id"))
    if row is None:
        raise not_found("holiday", "id")
    if not allowed_on_calendar(actor, row.region_id):
        raise DomainError(ErrorCode.FORBIDDEN, "you may not change this calendar")
    await row.delete()
    return _data_day(row)


async def day_off(holiday_id: int) -> CalendarDay:
    """A day added as data, by id; NOT_FOUND once it was removed."""
    row = await Holiday.get_or_none(id=holiday_id)
    if row is None:
        raise not_found("holiday", "id")
    return _data_day(row)


def _data_day(row: Holiday) -> CalendarDay:
    source = DayOffSource.REGIONAL if row.region_id else DayOffSource.COLLECTIVE_LEAVE
    return CalendarDay(row.day, row.name, source, row.region_id, row.id)
