"""The DateTime scalar writes what Strawberry's writes: every datetime's `isoformat()`, a UTC one
by the response's JSON writer (orjson), which is handed the datetime as it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import orjson
from hypothesis import given
from hypothesis import strategies as st

from schema.scalars import datetime_output
from schema.schema import schema

ZONES = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=7)),
        timezone(timedelta(hours=-3, minutes=-30)),
        timezone(timedelta(hours=5, minutes=30, seconds=15)),
        timezone(timedelta(0), "UTC-named"),
        ZoneInfo("Asia/Jakarta"),
        ZoneInfo("Asia/Jayapura"),
    ]
)


class Later(datetime):
    """A subclass, which may format itself its own way."""

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return "later"


def written(value: datetime) -> bytes:
    """A DateTime as the response's JSON holds it (api/http.py writes with orjson)."""
    return orjson.dumps(datetime_output(value))


@given(st.datetimes(timezones=st.just(UTC)))
def test_utc_datetimes_are_written_as_isoformat(value: datetime) -> None:
    assert written(value) == orjson.dumps(value.isoformat())
    assert datetime_output(value) is value  # left to the writer, not made text first


@given(st.datetimes(timezones=ZONES | st.none()))
def test_other_datetimes_are_written_as_isoformat(value: datetime) -> None:
    assert written(value) == orjson.dumps(value.isoformat())


def test_edge_values() -> None:
    for value in (
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 12, 1, 3, 4, 5, 1, tzinfo=UTC),
        datetime(2026, 12, 1, 3, 4, 5, 100000, tzinfo=UTC),
        datetime(2026, 12, 1, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 12, 1, 3, 4, 5, fold=1, tzinfo=UTC),
    ):
        assert written(value) == orjson.dumps(value.isoformat())
    assert datetime_output(Later(2026, 12, 1, tzinfo=UTC)) == "later"


def test_the_schema_writes_datetimes_with_it() -> None:
    scalar = schema._schema.type_map["DateTime"]
    assert scalar.coerce_output_value is datetime_output  # type: ignore[attr-defined]
