"""Transparency as clients see it: `agencyPerformance`, `regionPerformance` and the
coordinator's `agencyBacklog` over GraphQL, the CSV downloads (stable headers, UTF-8) and the
page `/transparansi` (Bahasa Indonesia, an inline SVG chart per indicator, nothing loaded from
elsewhere); confidential titles and reporters nowhere; bad input refused with a reason."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.transparency import AGENCY_HEADERS, FIGURE_COLUMNS, REGION_HEADERS, csv_cell
from core.settings import get_settings
from domain.services import assignments, reports, transparency
from models import Assignment
from models.enums import ResolutionCode, ResolutionTier
from tests.app_fixtures import DEMO_VIEWERS, GQL, JEMBER, People, agency_gid, region_gid
from tests.factories import actor_for, demo_agency, submit_complaint

SECRET = "Rahasia: pungutan liar di loket Dinkes"
FIGURES = """received withheld verified answered returned handedOver disputed reopenings
  answeredOnTime { value sample rankable withheld }
  firstResponseMedianDays { value sample rankable withheld }
  resolutionMedianDays { value sample rankable withheld }
  ratingAverage { value sample rankable withheld }"""
AGENCIES = f"""query($p: String!, $r: ID) {{
  agencyPerformance(period: $p, regionId: $r) {{
    period agency {{ code name }} figures {{ {FIGURES} }}
  }}
}}"""
REGIONS = f"""query($p: String!) {{
  regionPerformance(period: $p) {{ period national {{ {FIGURES} }}
    regions {{ region {{ code }} figures {{ {FIGURES} }} }} }}
}}"""
BACKLOG = """query($r: ID!) {
  agencyBacklog(regionId: $r) { agency { code } open overdue earliestDueAt }
}"""


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def _history() -> None:
    """Four Jember reports of March 2031 to Dinkes, three answered on time, one confidential."""
    coordinator = await actor_for(DEMO_VIEWERS["coordinator"])
    dinkes = await actor_for(DEMO_VIEWERS["officer"])
    citizen = await actor_for(DEMO_VIEWERS["reporter"])
    agency = await demo_agency("DINKES")
    for day in (3, 4, 5, 6):
        r = (
            await submit_complaint(
                utc(2031, 3, day, 2),
                title=SECRET if day == 3 else "Antrean panjang",
                confidential=day == 3,
            )
        ).report
        await reports.verify(coordinator, utc(2031, 3, day, 3), r.id, [agency.id], None, None)
        if day == 6:
            continue  # open, and overdue by April
        a = await Assignment.get(report_id=r.id)
        await assignments.accept(dinkes, utc(2031, 3, day, 4), a.id, ResolutionTier.SIMPLE)
        await assignments.follow_up(
            dinkes, utc(2031, 3, day + 1, 4), a.id, "Selesai", True, ResolutionCode.RESOLVED
        )
        await reports.rate(citizen, utc(2031, 3, day + 2, 4), r.id, 5, None)
    await transparency.catch_up(utc(2031, 4, 1))


async def test_the_public_reads_the_tables(gql: GQL, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "transparency_min_sample", 3)
    await _history()
    region = await region_gid(JEMBER)
    data = await gql(AGENCIES, {"p": "2031-03", "r": region})
    rows = data["agencyPerformance"]
    dinkes = rows[0]
    assert dinkes["agency"]["code"] == "DINKES" and dinkes["period"] == "2031-03"
    f = dinkes["figures"]
    assert (f["received"], f["verified"], f["answered"], f["withheld"]) == (4, 3, 3, False)
    assert f["answeredOnTime"] == {"value": 1.0, "sample": 3, "rankable": True, "withheld": False}
    # One working day each (Monday to Tuesday, ...).
    assert f["resolutionMedianDays"]["value"] == 1.0
    assert f["ratingAverage"]["value"] == 5.0
    # Agencies with nothing: said, not ranked, nothing broken down.
    quiet = rows[-1]["figures"]
    assert quiet["received"] == 0 and quiet["withheld"] and quiet["answered"] is None

    table = (await gql(REGIONS, {"p": "2031-Q1"}))["regionPerformance"]
    assert table["period"] == "2031-Q1" and table["national"]["received"] == 4
    assert table["regions"][0]["region"]["code"] == JEMBER

    # The confidential report is counted above, and its title is nowhere.
    for text in [str(data), str(table)]:
        assert SECRET not in text


async def test_bad_periods_and_ids_are_refused_with_a_field(gql: GQL) -> None:
    for period in ("2031-13", "maret", "1999-01"):
        response = await gql.raw(AGENCIES, {"p": period})
        error = response.json()["errors"][0]
        assert error["extensions"] == {"code": "VALIDATION", "field": ["period"]}
    response = await gql.raw(AGENCIES, {"p": "2031-03", "r": await agency_gid("DINKES")})
    assert response.json()["errors"][0]["extensions"]["field"] == ["regionId"]


async def test_the_coordinator_sees_overdue_work_ranked(people: People) -> None:
    await _history()
    region = await region_gid(JEMBER)
    rows = (await people["coordinator"](BACKLOG, {"r": region}))["agencyBacklog"]
    # The test's clock is now (2026 or later): the open report of 6 March 2031 is not overdue
    # yet; its deadline is the earliest one.
    assert rows[0]["agency"]["code"] == "DINKES" and rows[0]["open"] == 1
    assert all(r["open"] == 0 for r in rows[1:])
    for who in ("public", "reporter", "officer", "jayapura"):
        response = await people[who].raw(BACKLOG, {"r": region})
        code = response.json()["errors"][0]["extensions"]["code"]
        assert code in ("FORBIDDEN", "UNAUTHENTICATED"), who
    assert (await people["admin"](BACKLOG, {"r": region}))["agencyBacklog"]


async def test_csv_downloads_have_stable_headers(gql: GQL) -> None:
    await _history()
    response = await gql.client.get(f"/transparansi/instansi.csv?periode=2031-03&wilayah={JEMBER}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    header = list(rows[0])
    assert header[:6] == [
        "period",
        "agency_id",
        "agency_code",
        "agency_name",
        "region_code",
        "received",
    ]
    assert "answered_on_time_share" in header and "rating_average_rankable" in header
    dinkes = next(r for r in rows if r["agency_code"] == "DINKES")
    assert (dinkes["received"], dinkes["answered"], dinkes["answered_on_time_share"]) == (
        "4",
        "3",
        "1",
    )
    regions = await gql.client.get("/transparansi/wilayah.csv?periode=2031-Q1")
    lines = list(csv.reader(io.StringIO(regions.text)))
    assert lines[0][:4] == ["period", "region_id", "region_code", "region_name"]
    assert lines[1][:4] == ["2031-Q1", "", "", "Nasional"] and lines[1][4] == "4"
    assert SECRET not in response.text + regions.text
    bad = await gql.client.get("/transparansi/wilayah.csv?periode=2031-99")
    assert bad.status_code == 400 and "periode" in bad.text
    unknown = await gql.client.get("/transparansi/instansi.csv?periode=2031-03&wilayah=99.99")
    assert unknown.status_code == 404


def test_the_readme_documents_the_csv_headers_as_they_are() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    figures = [c.header for c in FIGURE_COLUMNS]
    for leading in (AGENCY_HEADERS, REGION_HEADERS):
        assert ",".join([*leading, *figures]) + "\n" in readme


async def test_the_page_is_self_contained(gql: GQL) -> None:
    await _history()
    response = await gql.client.get("/transparansi?periode=2031-03")
    assert response.status_code == 200
    page = response.text
    assert "Transparansi Kinerja Penanganan Laporan" in page and "Maret 2031" in page
    assert "Kinerja instansi: Kabupaten Jember" in page  # the busiest region by default
    assert page.count("<svg") >= 10 and "Dijawab tepat waktu" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and "<script" not in page
    assert SECRET not in page
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert (await gql.client.get("/transparansi?periode=x")).status_code == 400


@pytest.mark.parametrize(
    ("name", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+62 Dinas", "'+62 Dinas"),
        ("-Dinas", "'-Dinas"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tDinas", "'\tDinas"),
        ("Dinas Kesehatan", "Dinas Kesehatan"),
    ],
)
def test_a_name_a_spreadsheet_would_run_as_a_formula_is_kept_as_text(name: str, cell: str) -> None:
    assert csv_cell(name) == cell


def test_numbers_and_flags_are_written_as_they_are() -> None:
    assert [csv_cell(v) for v in (None, True, 0.5, 12, -3)] == ["", "true", "0.5", "12", "-3"]
