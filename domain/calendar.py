"""The working-day calendar of a region (pure: no database, no clock, no I/O).

A working day is a day that is neither a Saturday nor a Sunday, nor an Indonesian national
holiday (the `holidays` package, country "ID"), nor one of the region's extra holidays
(collective leave days, cuti bersama, and regional holidays, added by admins as data).

Days are always counted in the region's own time zone (WIB, WITA or WIT): the local day of an
instant decides, and a deadline is the end (23:59:59 local) of a working day, returned in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = ["WorkingCalendar", "national_holidays"]

_ONE_DAY = timedelta(days=1)
_END_OF_DAY = time(23, 59, 59)
_SATURDAY = 5  # date.weekday(): Monday 0 ... Saturday 5, Sunday 6


@lru_cache(maxsize=128)
def national_holidays(year: int) -> dict[date, str]:
    """The Indonesian national holidays of one year, day -> name (cached per year).

    The returned dict is shared by every caller: read it, never mutate it.
    """
    return dict(holidays.country_holidays("ID", years=year))


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    """The time zone of an IANA name, or ValueError naming what was wrong."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"unknown time zone {name!r}: expected an IANA name like 'Asia/Jakarta'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {name!r}: expected an IANA name like 'Asia/Jakarta' (WIB), "
            "'Asia/Makassar' (WITA) or 'Asia/Jayapura' (WIT)"
        ) from None


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone), got {moment!r}")


def _require_days(days: int) -> None:
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days of one region: not Saturday/Sunday, not an Indonesian national holiday
    (from the `holidays` package, country "ID"), not one of `extra_holidays`
    (collective leave days / regional holidays added as data)."""

    timezone: str  # IANA name: "Asia/Jakarta" (WIB), "Asia/Makassar" (WITA), "Asia/Jayapura" (WIT)
    extra_holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        _zone(self.timezone)  # fail at construction on an unknown time zone
        # Accept any iterable of days; a datetime among them stands for its date.
        days = frozenset(d.date() if isinstance(d, datetime) else d for d in self.extra_holidays)
        object.__setattr__(self, "extra_holidays", days)

    # -- days ------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Whether a (local) calendar day is a working day of this region."""
        if isinstance(day, datetime):
            raise TypeError(
                "is_working_day takes a date, not a datetime: the local day depends on the "
                "region's time zone"
            )
        return (
            day.weekday() < _SATURDAY
            and day not in self.extra_holidays
            and day not in national_holidays(day.year)
        )

    def _local_day(self, moment: datetime) -> date:
        return moment.astimezone(_zone(self.timezone)).date()

    def _end_of_day_utc(self, day: date) -> datetime:
        local = datetime.combine(day, _END_OF_DAY, tzinfo=_zone(self.timezone))
        return local.astimezone(UTC)

    # -- deadlines -------------------------------------------------------------------------

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The deadline `days` working days after `start` (an aware datetime): the end (23:59:59
        local time, microsecond 0) of the `days`-th working day counted in the region's time
        zone, the local day of `start` itself never counting (so a report submitted on Monday
        with 3 days is due Thursday 23:59:59 local; one submitted on Saturday is due Wednesday
        23:59:59). Returns an aware datetime in UTC. days must be >= 1, else ValueError. start
        naive -> ValueError."""
        _require_aware(start, "start")
        _require_days(days)
        day = self._local_day(start)
        counted = 0
        while counted < days:
            day += _ONE_DAY
            if self.is_working_day(day):
                counted += 1
        return self._end_of_day_utc(day)

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """How many working days lie after start's local day up to and including end's local
        day (0 if end's local day <= start's local day). Inverse of add_working_days:
        working_days_between(s, add_working_days(s, n)) == n."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        day = self._local_day(start)
        last = self._local_day(end)
        if last <= day:
            return 0
        # Counted from cumulative counts per year (the transparency figures count millions of
        # spans): the working days through `last` less those through `day`.
        through = _working_days_through
        count = through(self, last) - through(self, day)
        for year in range(day.year, last.year):
            count += _working_days_through(self, date(year, 12, 31))
        return count

    def subtract_working_days(self, moment: datetime, days: int) -> datetime:
        """The end (23:59:59 local) of the working day that lies `days` working days before
        moment's local day (used for 'remind one working day before the deadline'). UTC aware.
        Moment's local day itself never counts; days must be >= 1 and moment aware, else
        ValueError."""
        _require_aware(moment, "moment")
        _require_days(days)
        day = self._local_day(moment)
        counted = 0
        while counted < days:
            day -= _ONE_DAY
            if self.is_working_day(day):
                counted += 1
        return self._end_of_day_utc(day)


@lru_cache(maxsize=1024)
def _cumulative(cal: WorkingCalendar, year: int) -> tuple[int, ...]:
    """How many working days of `cal` lie from 1 January of `year` through each of its days."""
    counts = []
    seen = 0
    day = date(year, 1, 1)
    while day.year == year:
        seen += cal.is_working_day(day)
        counts.append(seen)
        day += _ONE_DAY
    return tuple(counts)


def _working_days_through(cal: WorkingCalendar, day: date) -> int:
    """Working days from 1 January of `day`'s year through `day` itself."""
    return _cumulative(cal, day.year)[day.timetuple().tm_yday - 1]
