"""An ORM id query is built once for the same query (models/rows.py, `ids_of`): the same
model, filters with their values, order and limit give the same SQL; anything else is built
every time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import dateutil.tz
import pytest
from tortoise import connections
from tortoise.expressions import F, Q

from models import Assignment, Report, rows
from models.connection import read_records
from models.enums import AssignmentStatus
from models.rows import built_ids, ids_of, plain_query_key, rows_of_with
from tests.app_fixtures import JAYAPURA, JEMBER
from tests.factories import COMPLAINT_TITLE, demo_region, new_complaint

NOW = datetime(2026, 11, 30, 7, tzinfo=UTC)


@pytest.fixture
def fresh_memo(db: str) -> Iterator[None]:
    kept = dict(built_ids)
    built_ids.clear()
    yield
    built_ids.clear()
    built_ids.update(kept)


def inbox(agency: int, statuses: list[str], size: int = 51) -> Any:
    return (
        Assignment.filter(agency_id=agency).filter(status__in=statuses).order_by("-id").limit(size)
    )


def test_the_same_query_is_built_once_and_gives_the_same_sql(fresh_memo: None) -> None:
    first = ids_of(inbox(7, ["PENDING", "ACCEPTED"]))
    assert len(built_ids) == 1
    again = ids_of(inbox(7, ["PENDING", "ACCEPTED"]))
    assert again == first and len(built_ids) == 1
    assert first[1] == [7, "PENDING", "ACCEPTED", 51]
    again[1].append("changed by a caller")  # callers get their own parameters
    assert ids_of(inbox(7, ["PENDING", "ACCEPTED"]))[1] == [7, "PENDING", "ACCEPTED", 51]


@pytest.mark.parametrize(
    "pair",
    [
        lambda: (inbox(7, ["PENDING"]), inbox(8, ["PENDING"])),
        lambda: (inbox(7, ["PENDING", "ACCEPTED"]), inbox(7, ["ACCEPTED", "PENDING"])),
        lambda: (inbox(7, ["PENDING"]), inbox(7, ["PENDING"], size=11)),
        lambda: (inbox(7, ["PENDING"]), inbox(7, ["PENDING"]).offset(5)),
        lambda: (Report.filter(confidential=True), Report.filter(confidential=1)),
        lambda: (Report.filter(Q(id=1) | Q(id=2)), Report.filter(Q(id=1), Q(id=2))),
        lambda: (Report.filter(id=1), Report.exclude(id=1)),
        lambda: (
            Report.filter(created_at__gte=datetime(2026, 11, 30, 7, tzinfo=UTC)),
            Report.filter(
                created_at__gte=datetime(2026, 11, 30, 14, tzinfo=timezone(timedelta(hours=7)))
            ),
        ),
        lambda: (
            Assignment.filter(status=AssignmentStatus.PENDING),
            Assignment.filter(status="PENDING"),
        ),
    ],
)
def test_queries_that_differ_in_anything_have_their_own_key(
    fresh_memo: None, pair: Callable[[], tuple[Any, Any]]
) -> None:
    one, other = pair()
    assert plain_query_key(one) != plain_query_key(other)
    assert ids_of(one) == ids_of(one)
    ids_of(other)
    assert len(built_ids) == 2


@pytest.mark.parametrize(
    "query",
    [
        lambda: Report.filter(id__in={1, 2}),  # a set's order, and the SQL's, may vary
        lambda: Report.filter(id__in=list(range(1, 100))),  # a batch's ids, seldom asked again
        lambda: Report.filter(support_count__gt=F("reopen_count")),
        lambda: Report.annotate(double=F("support_count") * 2).filter(double__gt=2),
        lambda: Report.filter(id=1).select_for_update(),
        lambda: Report.filter(id=1).distinct(),
    ],
)
def test_queries_with_more_than_filters_order_and_limits_are_built_every_time(
    fresh_memo: None, query: Callable[[], Any]
) -> None:
    built = query()
    assert plain_query_key(built) is None
    ids_of(built)
    assert built_ids == {}


def test_a_datetime_of_any_zone_makes_a_key(fresh_memo: None) -> None:
    # dateutil's zones cannot be hashed; the offset of the instant is what the parameter carries.
    aware = datetime(2026, 11, 30, 7, tzinfo=dateutil.tz.tzutc())
    key = plain_query_key(Report.filter(created_at__gte=aware))
    assert key is not None
    assert key == plain_query_key(
        Report.filter(created_at__gte=datetime(2026, 11, 30, 7, tzinfo=UTC))
    )
    ids_of(Report.filter(created_at__gte=aware))
    assert len(built_ids) == 1


def test_a_kept_query_that_no_longer_builds_the_same_fails_the_tests(fresh_memo: None) -> None:
    query = inbox(7, ["PENDING"])
    key = plain_query_key(query)
    built_ids[key] = ("SELECT 1", [])
    with pytest.raises(AssertionError, match="was built as"):
        ids_of(query)


async def test_a_page_of_one_table_selects_its_rows_itself_and_one_with_joins_by_their_ids(
    db: str,
) -> None:
    # Reports in two regions; the page by region code joins region, the one by its id does not.
    jember, jayapura = await demo_region(JEMBER), await demo_region(JAYAPURA)
    made = [await new_complaint(NOW, region=code) for code in (JEMBER, JAYAPURA) * 3]
    ours = [r.id for r in made if r.region_id == jember.id]
    one_table = Report.filter(region_id=jember.id).order_by("-id").limit(2)
    joined = Report.filter(region__code=JEMBER).order_by("-id").limit(2)
    assert ids_of(one_table)[0].startswith('SELECT "id" "id" FROM "report" WHERE')
    assert " JOIN " in ids_of(joined)[0]
    for query in (one_table, joined):
        found = await rows_of_with(rows.REPORT, query, "r.region_id * 10", alias="r")
        assert [row.id for row, _ in found] == sorted(ours, reverse=True)[:2]
        assert [more for _, more in found] == [(jember.id * 10,)] * 2
        assert all(row.title == COMPLAINT_TITLE for row, _ in found)
    assert jayapura.id != jember.id


LEFT_OUT = rows.Shape(
    rows.ReportRow,
    rows.REPORT.enums,
    "report",
    left_out=frozenset({"report.body", "report.address"}),
)


@pytest.mark.parametrize(
    "shape",
    [rows.REPORT, LEFT_OUT, rows.EVENT],
    ids=["with enums", "with enums and left-out columns", "plain"],
)
def test_a_row_is_made_of_exactly_its_columns(shape: rows.Shape) -> None:
    fields = shape.row._fields
    values: list[Any] = [f"v{i}" for i in range(len(fields))]
    for name, enum in shape.enums.items():
        values[fields.index(name)] = next(iter(enum)).value
    made = shape.make(values)
    assert type(made) is shape.row and len(made) == len(fields)
    assert made == shape._make(values)  # written out for each shape: the same
    for name, enum in shape.enums.items():
        assert getattr(made, name) is next(iter(enum))
    if shape is LEFT_OUT:
        assert made.body is rows.NOT_READ and made.address is rows.NOT_READ
        assert made.title == values[fields.index("title")]
    ((row, rest),) = shape.take_all([[*values, "more", 7]])
    assert row == made and rest == ("more", 7)
    # A list's rows, written out in one loop: the same rows.
    assert shape.make_all([values, values]) == [made, made]
    assert all(type(r) is shape.row for r in shape.make_all([values]))
    assert shape.take_all([[*values, "more", 7], values]) == [(made, ("more", 7)), (made, ())]
    for wrong in (values[:-1], [*values, "one too many"]):
        with pytest.raises(TypeError, match=f"{len(fields)} fields"):
            shape.make(wrong)
        with pytest.raises(TypeError, match=f"{len(fields)} fields"):
            shape.make_all([values, wrong])
    with pytest.raises(TypeError, match=f"{len(fields)} fields"):
        shape.take_all([values[:-1]])


@pytest.mark.parametrize("stored", ["NOT_A_STATUS", ["IN_PROGRESS"]], ids=["unknown", "unhashable"])
def test_a_stored_value_of_no_member_is_refused_as_the_enum_refuses_it(stored: Any) -> None:
    fields = rows.REPORT.row._fields
    values: list[Any] = [f"v{i}" for i in range(len(fields))]
    values[fields.index("kind")] = "COMPLAINT"
    values[fields.index("status")] = stored
    with pytest.raises(ValueError, match="is not a valid ReportStatus"):
        rows.REPORT.make(values)
    with pytest.raises(ValueError, match="is not a valid ReportStatus"):
        rows.REPORT.make_all([values])
    with pytest.raises(ValueError, match="is not a valid ReportStatus"):
        rows.REPORT.take_all([[*values, "more"]])


# A row type's columns after its row's (models/migrations/0010_row_types.py).
_MORE_COLUMNS = {"assignment_row": [("follow_ups", "follow_up_row[]")]}
_COLUMNS = """
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
TYPED = [s for s in vars(rows).values() if isinstance(s, rows.Shape) and s.row_type]


@pytest.mark.parametrize("shape", TYPED, ids=[s.row_type for s in TYPED])
async def test_a_row_type_holds_its_rows_columns_as_the_table_types_them(
    db: str, shape: rows.Shape
) -> None:
    # In the row's order, or its rows would be read into the wrong fields; as the table types
    # them, but text for any character column: a cast to a shorter varchar cuts a value short.
    client = connections.get("default")
    _, typed = await client.execute_query(_COLUMNS, [shape.row_type])
    _, table = await client.execute_query(_COLUMNS, [shape.table])
    of_table = {r["name"]: r["type"] for r in table}
    expected = [
        (name, "text" if of_table[name].startswith("character") else of_table[name])
        for name in shape.row._fields
    ]
    assert [(r["name"], r["type"]) for r in typed] == expected + _MORE_COLUMNS.get(
        str(shape.row_type), []
    )


async def test_typed_rows_read_as_the_rows_of_their_columns(db: str) -> None:
    report = await new_complaint(NOW)
    lines = await rows.select(
        rows.EVENT, f"SELECT {rows.EVENT.columns} FROM report_event WHERE report_id = $1", report.id
    )
    ((held,),) = await read_records(
        f"SELECT ARRAY(SELECT {rows.EVENT.typed_row('e')} FROM report_event e"
        " WHERE e.report_id = $1 ORDER BY e.id)",
        [report.id],
    )
    assert lines and [rows.EVENT.make(line) for line in held] == lines
