"""Days off as data, over GraphQL: who may add them, and that new deadlines honour them."""

from __future__ import annotations

from typing import Any

import pytest

from models import Holiday
from tests.app_fixtures import GQL, region_gid

ADD = """mutation($day: Date!, $name: String!, $region: ID) {
  dayOffAdd(day: $day, name: $name, regionId: $region) {
    dayOff { id day name source region { code } } errors { code field }
  }
}"""
REMOVE = "mutation($id: ID!) { dayOffRemove(id: $id) { dayOff { day } errors { code } } }"
DAYS = "query($y: Int!, $r: ID) { daysOff(year: $y, regionId: $r) { day name source } }"
SUBMIT = """mutation($r: ID!) { reportSubmit(input: {kind: COMPLAINT, title: "Banjir",
  body: "Jalan tergenang", regionId: $r}) { report { dueAt } errors { code } } }"""


async def _add(client: GQL, day: str, region: str | None = None) -> dict[str, Any]:
    data = await client(ADD, {"day": day, "name": "Libur", "region": region})
    return data["dayOffAdd"]  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
async def _clean_added_days(db: str) -> Any:
    before = set(await Holiday.all().values_list("id", flat=True))
    yield
    await Holiday.exclude(id__in=list(before)).delete()


async def test_the_superadmin_adds_collective_leave_and_it_lists(gql: GQL) -> None:
    admin = await gql.sign_in("admin@lapor.demo")
    added = await _add(admin, "2026-11-30")
    assert added["errors"] == []
    assert added["dayOff"]["source"] == "COLLECTIVE_LEAVE"
    days = (await gql(DAYS, {"y": 2026, "r": None}))["daysOff"]
    assert {"day": "2026-11-30", "name": "Libur", "source": "COLLECTIVE_LEAVE"} in days
    assert {"day": "2026-03-21", "name": "Eid al-Fitr", "source": "NATIONAL"} in days


async def test_a_coordinator_adds_only_the_holidays_of_itsregion_gid(gql: GQL) -> None:
    coordinator = await gql.sign_in("koordinator@jember.demo")
    own = await _add(coordinator, "2026-11-30", await region_gid("35.09"))
    assert own["errors"] == [] and own["dayOff"]["region"]["code"] == "35.09"
    other = await _add(coordinator, "2026-11-30", await region_gid("91.03"))
    assert other["errors"] == [{"code": "FORBIDDEN", "field": None}]
    national = await _add(coordinator, "2026-12-01")
    assert national["errors"] == [{"code": "FORBIDDEN", "field": None}]


@pytest.mark.parametrize(
    ("day", "code"),
    [("2026-11-28", "VALIDATION"), ("2026-12-25", "ALREADY_DONE"), ("2026-03-18", "ALREADY_DONE")],
)
async def test_refused_days(gql: GQL, day: str, code: str) -> None:
    """A Saturday, Christmas (national) and a collective-leave day already in the demo data."""
    admin = await gql.sign_in("admin@lapor.demo")
    assert (await _add(admin, day))["errors"][0]["code"] == code


async def test_citizens_and_the_public_may_not_change_the_calendar(gql: GQL) -> None:
    citizen = await gql.sign_in("warga@jember.demo")
    assert (await _add(citizen, "2026-11-30"))["errors"][0]["code"] == "FORBIDDEN"
    assert (await _add(gql, "2026-11-30"))["errors"][0]["code"] == "UNAUTHENTICATED"


async def test_a_new_day_off_moves_the_deadlines_computed_after_it(gql: GQL) -> None:
    """Today the tests run on real time: add the next three weekdays as leave in Jayapura and a
    report submitted there now is due three working days after them."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from domain.calendar import WorkingCalendar

    coordinator = await gql.sign_in("koordinator@jayapura.demo")
    citizen = await gql.sign_in("warga@jember.demo")
    jayapura = await region_gid("91.03")
    before = (await citizen(SUBMIT, {"r": jayapura}))["reportSubmit"]["report"]["dueAt"]

    zone = ZoneInfo("Asia/Jayapura")
    extra = set(await Holiday.filter(region_id__isnull=True).values_list("day", flat=True))
    calendar = WorkingCalendar("Asia/Jayapura", frozenset(extra))  # type: ignore[arg-type]
    day, added = datetime.now(UTC).astimezone(zone).date(), []
    while len(added) < 3:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            result = await _add(coordinator, day.isoformat(), jayapura)
            assert result["errors"] == []
            added.append(result["dayOff"]["id"])
    after = (await citizen(SUBMIT, {"r": jayapura}))["reportSubmit"]["report"]["dueAt"]
    assert datetime.fromisoformat(after) > datetime.fromisoformat(before) + timedelta(days=2)

    for holiday_id in added:
        assert (await coordinator(REMOVE, {"id": holiday_id}))["dayOffRemove"]["errors"] == []
    again = (await citizen(SUBMIT, {"r": jayapura}))["reportSubmit"]["report"]["dueAt"]
    assert again == before
