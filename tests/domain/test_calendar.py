"""The working-day calendar: weekends, national holidays, cuti bersama, time zones, years."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.calendar import WorkingCalendar, national_holidays
from tests.factories import utc

WIB = ZoneInfo("Asia/Jakarta")  # UTC+7
WITA = ZoneInfo("Asia/Makassar")  # UTC+8
WIT = ZoneInfo("Asia/Jayapura")  # UTC+9

JAKARTA = WorkingCalendar("Asia/Jakarta")
MAKASSAR = WorkingCalendar("Asia/Makassar")
JAYAPURA = WorkingCalendar("Asia/Jayapura")

# Collective leave (cuti bersama) around Idul Fitri 1447 H, added by admins as data.
CUTI_BERSAMA_2026 = frozenset(
    {date(2026, 3, 18), date(2026, 3, 20), date(2026, 3, 23), date(2026, 3, 24)}
)
JAKARTA_CUTI = WorkingCalendar("Asia/Jakarta", CUTI_BERSAMA_2026)


def wib(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=WIB)


# -- the holiday data the other tests rely on ------------------------------------------------


def test_holidays_package_gives_the_2026_idul_fitri_dates_these_tests_assume() -> None:
    h = national_holidays(2026)
    assert date(2026, 3, 19) in h  # Nyepi (Day of Silence), Thursday
    assert date(2026, 3, 21) in h  # Eid al-Fitr, Saturday
    assert date(2026, 3, 22) in h  # Eid al-Fitr second day, Sunday
    assert date(2026, 3, 20) not in h
    assert date(2026, 3, 23) not in h
    assert date(2026, 12, 25) in h  # Christmas, Friday
    h27 = national_holidays(2027)
    assert date(2027, 1, 1) in h27  # New Year, Friday
    assert date(2027, 1, 5) in h27  # Isra' Mi'raj, Tuesday


def test_national_holidays_is_cached_per_year() -> None:
    assert national_holidays(2026) is national_holidays(2026)
    assert all(d.year == 2026 for d in national_holidays(2026))


# -- is_working_day ----------------------------------------------------------------------------


def test_is_working_day() -> None:
    assert JAKARTA.is_working_day(date(2026, 3, 17))  # Tuesday
    assert not JAKARTA.is_working_day(date(2026, 3, 14))  # Saturday
    assert not JAKARTA.is_working_day(date(2026, 3, 15))  # Sunday
    assert not JAKARTA.is_working_day(date(2026, 3, 19))  # Nyepi, a Thursday
    assert not JAKARTA.is_working_day(date(2026, 1, 1))  # New Year
    # A cuti bersama day is a working day unless the region's data says otherwise.
    assert JAKARTA.is_working_day(date(2026, 3, 18))
    assert not JAKARTA_CUTI.is_working_day(date(2026, 3, 18))


def test_is_working_day_rejects_a_datetime() -> None:
    with pytest.raises(TypeError):
        JAKARTA.is_working_day(datetime(2026, 3, 17, 10, 0, tzinfo=WIB))


def test_extra_holidays_given_as_another_iterable_are_normalised() -> None:
    cal = WorkingCalendar("Asia/Jakarta", [date(2026, 3, 18)])  # type: ignore[arg-type]
    assert cal.extra_holidays == frozenset({date(2026, 3, 18)})
    assert cal == WorkingCalendar("Asia/Jakarta", frozenset({date(2026, 3, 18)}))
    assert hash(cal) == hash(WorkingCalendar("Asia/Jakarta", frozenset({date(2026, 3, 18)})))


# -- add_working_days --------------------------------------------------------------------------


def test_monday_plus_three_is_thursday_end_of_day_local() -> None:
    due = JAKARTA.add_working_days(wib(2026, 1, 12, 9, 0), 3)  # Monday
    assert due == wib(2026, 1, 15, 23, 59, 59)  # Thursday
    assert due == utc(2026, 1, 15, 16, 59, 59)
    assert due.tzinfo is UTC
    assert due.microsecond == 0


def test_friday_plus_one_skips_the_weekend() -> None:
    due = JAKARTA.add_working_days(wib(2026, 1, 9, 14, 0), 1)  # Friday
    assert due == wib(2026, 1, 12, 23, 59, 59)  # Monday
    assert due == utc(2026, 1, 12, 16, 59, 59)


def test_saturday_submission_counts_from_monday() -> None:
    due = JAKARTA.add_working_days(wib(2026, 1, 10, 8, 0), 3)  # Saturday
    assert due == wib(2026, 1, 14, 23, 59, 59)  # Wednesday


def test_start_at_the_last_second_of_a_day_does_not_count_that_day() -> None:
    due = JAKARTA.add_working_days(wib(2026, 1, 12, 23, 59, 59, 999999), 1)  # Monday
    assert due == wib(2026, 1, 13, 23, 59, 59)  # Tuesday


def test_idul_fitri_2026_without_collective_leave() -> None:
    # Tuesday 17 March 10:00 WIB: Wed 18 (1), Thu 19 Nyepi, Fri 20 (2), Sat 21 / Sun 22 Eid
    # and weekend, Mon 23 (3).
    due = JAKARTA.add_working_days(wib(2026, 3, 17, 10, 0), 3)
    assert due == wib(2026, 3, 23, 23, 59, 59)
    assert due == utc(2026, 3, 23, 16, 59, 59)


def test_idul_fitri_2026_with_collective_leave() -> None:
    # 18, 20, 23, 24 cuti bersama; 19 Nyepi; 21, 22 Eid (a weekend):
    # Wed 25 (1), Thu 26 (2), Fri 27 (3).
    due = JAKARTA_CUTI.add_working_days(wib(2026, 3, 17, 10, 0), 3)
    assert due == wib(2026, 3, 27, 23, 59, 59)
    assert due == utc(2026, 3, 27, 16, 59, 59)
    assert JAKARTA_CUTI.working_days_between(wib(2026, 3, 17, 10, 0), due) == 3
    # Nothing in between counts: the whole 18-24 stretch holds no working day.
    assert JAKARTA_CUTI.working_days_between(wib(2026, 3, 17, 10, 0), wib(2026, 3, 24, 12)) == 0


def test_wit_local_day_differs_from_wib_for_the_same_instant() -> None:
    start = utc(2026, 6, 5, 16, 0)
    assert start.astimezone(WIT) == datetime(2026, 6, 6, 1, 0, tzinfo=WIT)  # Saturday
    assert start.astimezone(WIB) == datetime(2026, 6, 5, 23, 0, tzinfo=WIB)  # Friday
    # In Jayapura the local day (Saturday) has no working time left before the weekend;
    # in Jakarta the local day is Friday. Both count from Monday 8 June, each in local time.
    due_wit = JAYAPURA.add_working_days(start, 1)
    due_wib = JAKARTA.add_working_days(start, 1)
    assert due_wit == datetime(2026, 6, 8, 23, 59, 59, tzinfo=WIT)
    assert due_wit == utc(2026, 6, 8, 14, 59, 59)
    assert due_wib == datetime(2026, 6, 8, 23, 59, 59, tzinfo=WIB)
    assert due_wib == utc(2026, 6, 8, 16, 59, 59)
    assert due_wib - due_wit == timedelta(hours=2)


def test_the_local_day_decides_which_day_is_due() -> None:
    # Thursday 4 June 16:00 UTC is Thursday 23:00 WIB but already Friday in WITA and WIT.
    start = utc(2026, 6, 4, 16, 0)
    assert start.astimezone(WITA) == datetime(2026, 6, 5, 0, 0, tzinfo=WITA)
    assert JAKARTA.add_working_days(start, 1) == datetime(2026, 6, 5, 23, 59, 59, tzinfo=WIB)
    assert MAKASSAR.add_working_days(start, 1) == datetime(2026, 6, 8, 23, 59, 59, tzinfo=WITA)
    assert JAYAPURA.add_working_days(start, 1) == datetime(2026, 6, 8, 23, 59, 59, tzinfo=WIT)
    # A start given in any time zone is the same instant.
    assert JAKARTA.add_working_days(start.astimezone(WIT), 1) == JAKARTA.add_working_days(start, 1)


def test_sixty_working_days_cross_into_2027() -> None:
    # From Monday 2 November 2026: 20 more days in November, 22 in December (23 weekdays less
    # Christmas) = 42; January 2027: Fri 1 New Year, week of 4-8 less Tue 5 Isra' Mi'raj (46),
    # 11-15 (51), 18-22 (56), 25-28 (60): Thursday 28 January 2027.
    start = wib(2026, 11, 2, 9, 0)
    due = JAKARTA.add_working_days(start, 60)
    assert due == wib(2027, 1, 28, 23, 59, 59)
    assert JAKARTA.is_working_day(due.astimezone(WIB).date())
    assert JAKARTA.working_days_between(start, due) == 60
    # A 2026 cuti bersama day before Christmas pushes it by one; 2027 holidays still apply.
    with_leave = WorkingCalendar("Asia/Jakarta", frozenset({date(2026, 12, 24)}))
    assert with_leave.add_working_days(start, 60) == wib(2027, 1, 29, 23, 59, 59)


@pytest.mark.parametrize("cal", [JAKARTA, JAKARTA_CUTI, MAKASSAR, JAYAPURA], ids=repr)
def test_round_trip_for_every_day_of_2026(cal: WorkingCalendar) -> None:
    tz = ZoneInfo(cal.timezone)
    first = date(2026, 1, 1)
    for offset in range(365):
        day = first + timedelta(days=offset)
        for hour, minute in ((0, 0), (10, 30), (23, 59)):
            start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
            previous: datetime | None = None
            for n in range(1, 21):
                due = cal.add_working_days(start, n)
                local = due.astimezone(tz)
                assert due.tzinfo is UTC
                assert (local.hour, local.minute, local.second, local.microsecond) == (
                    23,
                    59,
                    59,
                    0,
                )
                assert local.date() > day
                assert cal.is_working_day(local.date())
                assert cal.working_days_between(start, due) == n
                # The smallest such day: one day earlier holds only n - 1 working days.
                assert cal.working_days_between(start, due - timedelta(days=1)) == n - 1
                if previous is not None:
                    assert due > previous
                    assert cal.subtract_working_days(due, 1) == previous
                previous = due


# -- working_days_between ----------------------------------------------------------------------


def test_working_days_between() -> None:
    monday = wib(2026, 1, 12, 9, 0)
    assert JAKARTA.working_days_between(monday, monday) == 0
    assert JAKARTA.working_days_between(monday, wib(2026, 1, 12, 23, 59)) == 0
    assert JAKARTA.working_days_between(monday, wib(2026, 1, 13, 0, 0)) == 1
    assert JAKARTA.working_days_between(monday, wib(2026, 1, 19, 0, 0)) == 4  # Fri 16 Isra' Mi'raj
    assert JAKARTA.working_days_between(monday, wib(2026, 1, 5, 0, 0)) == 0  # end before start
    # All of 2026 (the start's local day is 31 December 2025): 261 weekdays (52 weeks and a
    # Thursday), 13 national holidays on weekdays (1 Jan, 16 Jan, 17 Feb, 19 Mar, 3 Apr, 1 May,
    # 14 May, 27 May, 1 Jun, 16 Jun, 17 Aug, 25 Aug, 25 Dec).
    year = JAKARTA.working_days_between(wib(2025, 12, 31, 12), wib(2026, 12, 31, 12))
    assert year == 261 - 13


# -- subtract_working_days ---------------------------------------------------------------------


def test_one_working_day_before_a_monday_deadline_is_the_previous_friday() -> None:
    deadline = wib(2026, 1, 12, 23, 59, 59)  # Monday
    remind = JAKARTA.subtract_working_days(deadline, 1)
    assert remind == wib(2026, 1, 9, 23, 59, 59)  # Friday
    assert remind == utc(2026, 1, 9, 16, 59, 59)
    assert remind.tzinfo is UTC


def test_subtract_skips_holidays_and_collective_leave() -> None:
    assert JAKARTA.subtract_working_days(wib(2026, 3, 23, 23, 59, 59), 1) == wib(
        2026, 3, 20, 23, 59, 59
    )
    # Fri 27 with cuti bersama: Thu 26 (1), Wed 25 (2), then back over 24..18 to Tue 17 (3).
    deadline = wib(2026, 3, 27, 23, 59, 59)
    assert JAKARTA_CUTI.subtract_working_days(deadline, 1) == wib(2026, 3, 26, 23, 59, 59)
    assert JAKARTA_CUTI.subtract_working_days(deadline, 3) == wib(2026, 3, 17, 23, 59, 59)
    # Across a year end: Mon 4 Jan 2027 minus 1 -> Thu 31 Dec 2026 (1 Jan is New Year).
    assert JAKARTA.subtract_working_days(wib(2027, 1, 4, 23, 59, 59), 1) == wib(
        2026, 12, 31, 23, 59, 59
    )


# -- errors ------------------------------------------------------------------------------------


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 1, 12, 9, 0)
    with pytest.raises(ValueError, match="aware"):
        JAKARTA.add_working_days(naive, 1)
    with pytest.raises(ValueError, match="aware"):
        JAKARTA.working_days_between(naive, wib(2026, 1, 13))
    with pytest.raises(ValueError, match="aware"):
        JAKARTA.working_days_between(wib(2026, 1, 13), naive)
    with pytest.raises(ValueError, match="aware"):
        JAKARTA.subtract_working_days(naive, 1)


@pytest.mark.parametrize("days", [0, -1])
def test_days_must_be_at_least_one(days: int) -> None:
    with pytest.raises(ValueError, match="days must be >= 1"):
        JAKARTA.add_working_days(wib(2026, 1, 12), days)
    with pytest.raises(ValueError, match="days must be >= 1"):
        JAKARTA.subtract_working_days(wib(2026, 1, 12), days)


@pytest.mark.parametrize("name", ["Asia/Atlantis", "asia/jakarta", "", "../etc/passwd", "Asia"])
def test_unknown_time_zone_is_a_value_error(name: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        WorkingCalendar(name)
