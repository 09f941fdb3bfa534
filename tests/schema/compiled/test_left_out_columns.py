"""A compiled query reads none of the shown-only columns it shows none of (models/rows.py,
`Shape.as_shown`; schema/compiled/hints.py, `shows_columns`): the report's text, place and
last change are read only when a field showing them is selected. What a field needs that its
type's mark forgot comes back as NOT_READ, which refuses to be shown: the compiled answer then
has an error where the generic one (which reads every column) has a value, and the check of
every compiled query against the generic executor (tests/conftest.py) fails the test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from graphql import GraphQLObjectType, get_named_type, is_leaf_type

from core.settings import get_settings
from domain.services import reports
from models import Report
from models.rows import NOT_READ, REPORT, ReportRow, leaving_out
from schema.compiled.hints import declared_columns
from schema.ids import to_global_id
from schema.schema import schema
from tests.app_fixtures import GQL, app_client
from tests.factories import actor_for, demo_agency, new_complaint
from tests.statements import StatementLog, counting

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SHOWN_ONLY = {"body", "address", "latitude", "longitude", "updated_at"}


def test_a_shape_leaves_out_only_its_shown_only_columns_and_only_inside_the_block() -> None:
    assert REPORT.as_shown() is REPORT
    with leaving_out(frozenset({"report.body", "report.title", "assignment.note"})):
        shape = REPORT.as_shown()
        assert shape is REPORT.as_shown()  # one variant per set of columns left out
        columns = shape.columns_of("r")
        assert "NULL AS body" in columns and "r.title" in columns and "r.body" not in columns
        values = [f"v{i}" for i in range(len(ReportRow._fields))]
        values[ReportRow._fields.index("kind")] = "COMPLAINT"
        values[ReportRow._fields.index("status")] = "IN_PROGRESS"
        row = shape.make(values)
        assert row.body is NOT_READ and row.title == values[ReportRow._fields.index("title")]
    assert REPORT.as_shown() is REPORT
    for use in (str, bool, len, lambda v: f"{v}", lambda v: v + "", lambda v: v[:10]):
        with pytest.raises(TypeError, match="left out"):
            use(NOT_READ)


def test_every_shown_only_column_is_shown_by_a_field() -> None:
    """A shown-only column no type names would be read always: named, it is left out when
    not shown."""
    assert declared_columns == REPORT.shown_only == {f"report.{c}" for c in SHOWN_ONLY}


async def _reports() -> tuple[Report, Report]:
    """A verified complaint with a place, and one like it in the same region (for `similar`)."""
    citizen = await actor_for("warga@jember.demo")
    place: dict[str, Any] = {"latitude": -8.17, "longitude": 113.7, "address": "Jl. Kartini 3"}
    first = await new_complaint(NOW, by=citizen, **place)
    second = await new_complaint(NOW + timedelta(minutes=1), by=citizen, **place)
    coordinator = await actor_for("koordinator@jember.demo")
    dinkes = await demo_agency("DINKES")
    for report in (first, second):
        await reports.verify(
            coordinator, NOW + timedelta(hours=1), report.id, [dinkes.id], None, None
        )
    return first, second


def _selection(field: str) -> str:
    """The field alone, with `__typename` under it when it is an object or a list of them."""
    report_type = schema._schema.type_map["Report"]
    assert isinstance(report_type, GraphQLObjectType)
    named = get_named_type(report_type.fields[field].type)
    return field if is_leaf_type(named) else f"{field} {{ __typename }}"


REPORT_FIELDS = sorted(schema._schema.type_map["Report"].fields)  # type: ignore[union-attr]

BY_CODE = "query($code: String!) { report(trackingCode: $code) { id %s } }"
BY_NODE = "query($id: ID!) { node(id: $id) { ... on Report { id %s } } }"
LISTED = "query { reports(first: 5) { edges { node { id %s } } } }"
INBOX = (
    "query($agency: ID!) { inbox(agencyId: $agency, first: 5) "
    "{ edges { node { id report { id %s } } } } }"
)


@pytest.mark.parametrize("viewer", ["koordinator@jember.demo", None], ids=["desk", "public"])
async def test_every_field_of_a_report_answers_alone_as_the_generic_executor(
    db: str, viewer: str | None
) -> None:
    """Each of the report's fields, selected alone (so every other shown-only column is left
    out), answers without an error and as the generic executor does, by tracking code."""
    report, _ = await _reports()
    async with app_client(get_settings()) as client:
        gql = GQL(client)
        if viewer is not None:
            gql = await gql.sign_in(viewer)
        for field in REPORT_FIELDS:
            found = await gql(BY_CODE % _selection(field), {"code": report.tracking_code})
            assert found["report"]["id"] == to_global_id("Report", report.id), field


async def test_every_read_made_to_show_reports_reads_what_its_fields_show(db: str) -> None:
    """The reads that leave columns out (by code, by id, a list, a desk's inbox) each answer
    the shown-only fields as the generic executor does, alone and together."""
    report, _ = await _reports()
    dinkes = await demo_agency("DINKES")
    shown = [
        "body",
        "address",
        "latitude",
        "longitude",
        "updatedAt",
        "similar { score report { id } }",
    ]
    async with app_client(get_settings()) as client:
        gql = await GQL(client).sign_in("koordinator@jember.demo")
        officer = await GQL(client).sign_in("dinkes@jember.demo")
        for selection in [*shown, " ".join(shown)]:
            await gql(BY_CODE % selection, {"code": report.tracking_code})
            await gql(BY_NODE % selection, {"id": to_global_id("Report", report.id)})
            await gql(LISTED % selection)
            await officer(INBOX % selection, {"agency": to_global_id("Agency", dinkes.id)})


@pytest.mark.usefixtures("unchecked_execution")
@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "generic"])
async def test_a_query_reads_the_shown_only_columns_it_shows_and_no_others(
    db: str, sql_log: StatementLog, compiled: bool
) -> None:
    """Compiled, the report's statement selects NULL for the text, place and last change a
    query does not show and reads those it shows; the generic executor reads them all. Both
    answer alike."""
    report, _ = await _reports()
    settings = get_settings().model_copy(update={"compiled_execution": compiled})
    variables = {"code": report.tracking_code}
    async with app_client(settings) as client:
        gql = await GQL(client).sign_in("koordinator@jember.demo")
        with counting(sql_log):
            bare = await gql(BY_CODE % "title", variables)
        bare_sql = [s for s in sql_log.statements if "r.tracking_code = $1" in s]
        with counting(sql_log):
            full = await gql(BY_CODE % "title body updatedAt address", variables)
        full_sql = [s for s in sql_log.statements if "r.tracking_code = $1" in s]
    assert bare["report"]["title"] == full["report"]["title"] == report.title
    assert full["report"]["body"] == report.body
    assert full["report"]["address"] == "Jl. Kartini 3"
    assert len(bare_sql) == len(full_sql) == 1, (bare_sql, full_sql)
    left_out = ("NULL AS body", "NULL AS updated_at", "NULL AS address", "NULL AS latitude")
    if compiled:
        assert all(column in bare_sql[0] for column in left_out), bare_sql
        assert "r.title" in bare_sql[0] and "r.body" not in bare_sql[0]
        for column in ("r.body", "r.updated_at", "r.address", "NULL AS latitude"):
            assert column in full_sql[0], full_sql
    else:
        assert not any(column in bare_sql[0] for column in left_out), bare_sql
        assert "r.body" in bare_sql[0] and "r.latitude" in bare_sql[0]
