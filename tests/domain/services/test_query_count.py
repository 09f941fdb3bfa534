"""No N+1: a page of 10 and a page of 100 send the same number of SQL statements (counted by
the `sql_log` fixture, tests/statements.py); keyset pages neither repeat nor skip items when
new rows arrive between two pages.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise import connections

from core.settings import get_settings
from domain.actor import Actor
from domain.services import assignments, reports
from models import Agency, Assignment, Category, Region, Report
from models.connection import release_parked
from models.enums import ResolutionCode, ResolutionTier
from schema.ids import to_global_id
from tests.app_fixtures import GQL, app_client
from tests.factories import actor_for, demo_agency, demo_region, new_complaint
from tests.statements import StatementLog, counting

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday morning in Jember
SEEDED = 120

INBOX = """
query Inbox($agency: ID!, $first: Int, $after: String) {
  inbox(agencyId: $agency, first: $first, after: $after) {
    edges {
      cursor
      node {
        id status dueAt overdue
        agency { code region { name } }
        followUps { message author { name } }
        report {
          trackingCode title status
          reporter { name }
          region { name }
          category { name }
          assignments { id agency { name } }
          rating
        }
      }
    }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""

REPORTS = """
query Reports($first: Int, $after: String) {
  reports(first: $first, after: $after) {
    edges {
      cursor
      node {
        id trackingCode title status dueAt overdue
        reporter { name }
        region { name parent { name } }
        category { name }
        assignments {
          id status
          agency { code region { name } }
          followUps { message author { name } }
        }
        rating
      }
    }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""

# The per-report connections and suggestions are batched too.
REPORTS_WITH_TIMELINES = REPORTS.replace(
    "rating\n",
    "rating suggestedAgencies { code } "
    "timeline(first: 5) { edges { node { kind actor { name } } } pageInfo { hasNextPage } }\n",
)


# ----------------------------------------------------------------------------- data


@dataclass
class Desk:
    citizen: Actor
    coordinator: Actor
    officer: Actor
    dinkes: Agency
    dpupr: Agency
    region: Region
    categories: list[Category]


async def _desk() -> Desk:
    return Desk(
        citizen=await actor_for("warga@jember.demo"),
        coordinator=await actor_for("koordinator@jember.demo"),
        officer=await actor_for("dinkes@jember.demo"),
        dinkes=await demo_agency("DINKES"),
        dpupr=await demo_agency("DPUPR"),
        region=await demo_region(),
        categories=list(await Category.all().order_by("id")),
    )


async def _report_to_dinkes(desk: Desk, i: int, at: datetime) -> Report:
    """A verified report assigned to DINKES (every third also to DPUPR), with variety:
    anonymous ones, categories, interim follow-ups, answered and rated ones."""
    report = await new_complaint(
        at,
        by=desk.citizen,
        title=f"Laporan nomor {i}",
        body="Antrean di puskesmas terlalu panjang.",
        category_id=desk.categories[i % len(desk.categories)].id if i % 5 else None,
        anonymous=i % 7 == 0,
    )
    targets = [desk.dinkes.id, desk.dpupr.id] if i % 3 == 0 else [desk.dinkes.id]
    await reports.verify(desk.coordinator, at, report.id, targets, None, None)
    if i % 2 == 0:
        (assignment,) = await Assignment.filter(report_id=report.id, agency_id=desk.dinkes.id)
        later = at + timedelta(minutes=1)
        await assignments.accept(desk.officer, later, assignment.id, ResolutionTier.STANDARD)
        await assignments.follow_up(
            desk.officer, later, assignment.id, f"Sedang kami tangani ({i}).", False, None
        )
        if i % 4 == 0 and len(targets) == 1:
            await assignments.follow_up(
                desk.officer, later, assignment.id, "Selesai.", True, ResolutionCode.RESOLVED
            )
            await reports.rate(desk.citizen, later, report.id, 4, "Terima kasih")
    return report


async def _seed(desk: Desk, n: int, start: int = 0) -> list[Report]:
    return [
        await _report_to_dinkes(desk, i, NOW + timedelta(minutes=i))
        for i in range(start, start + n)
    ]


async def _page(client: GQL, query: str, variables: dict[str, Any], root: str) -> dict[str, Any]:
    data = await client(query, variables)
    return data[root]  # type: ignore[no-any-return]


async def _count_page(
    log: StatementLog, client: GQL, query: str, variables: dict[str, Any], root: str
) -> tuple[int, dict[str, Any], list[str]]:
    with counting(log):
        page = await _page(client, query, variables, root)
    return log.count, page, list(log.statements)


def _explain(small: list[str], large: list[str]) -> str:
    return "first:10 sent\n  " + "\n  ".join(small) + "\nfirst:100 sent\n  " + "\n  ".join(large)


# ---------------------------------------------------------------------------- tests


async def test_inbox_page_of_10_and_of_100_send_the_same_number_of_statements(
    gql: GQL, sql_log: StatementLog
) -> None:
    desk = await _desk()
    await _seed(desk, SEEDED)
    officer = await gql.sign_in("dinkes@jember.demo")
    variables = {"agency": to_global_id("Agency", desk.dinkes.id)}

    small, page10, sql10 = await _count_page(
        sql_log, officer, INBOX, {**variables, "first": 10}, "inbox"
    )
    large, page100, sql100 = await _count_page(
        sql_log, officer, INBOX, {**variables, "first": 100}, "inbox"
    )
    print(f"\ninbox: first:10 -> {small} statements, first:100 -> {large} statements")

    assert len(page10["edges"]) == 10
    assert len(page100["edges"]) == 100
    assert page10["pageInfo"]["hasNextPage"] and page100["pageInfo"]["hasNextPage"]
    nodes = [e["node"] for e in page100["edges"]]
    assert any(n["followUps"] for n in nodes), "the data has follow-ups to load"
    assert any(n["report"]["rating"] is not None for n in nodes), "and ratings"
    assert any(len(n["report"]["assignments"]) == 2 for n in nodes), "and shared reports"
    assert all(n["followUps"][0]["author"]["name"] for n in nodes if n["followUps"])
    assert small == large, _explain(sql10, sql100)


async def test_reports_page_of_10_and_of_100_send_the_same_number_of_statements(
    gql: GQL, sql_log: StatementLog
) -> None:
    desk = await _desk()
    await _seed(desk, SEEDED)
    coordinator = await gql.sign_in("koordinator@jember.demo")

    small, page10, sql10 = await _count_page(
        sql_log, coordinator, REPORTS, {"first": 10}, "reports"
    )
    large, page100, sql100 = await _count_page(
        sql_log, coordinator, REPORTS, {"first": 100}, "reports"
    )
    print(f"\nreports: first:10 -> {small} statements, first:100 -> {large} statements")

    assert len(page10["edges"]) == 10
    assert len(page100["edges"]) == 100
    nodes = [e["node"] for e in page100["edges"]]
    assert any(n["rating"] is not None for n in nodes)
    assert any(a["followUps"] for n in nodes for a in n["assignments"])
    assert all(n["region"]["parent"]["name"] for n in nodes)
    assert small == large, _explain(sql10, sql100)


async def _all_ids(client: GQL, query: str, variables: dict[str, Any], root: str) -> list[str]:
    page = await _page(client, query, {**variables, "first": 100}, root)
    return [e["node"]["id"] for e in page["edges"]]


async def _keyset_is_stable(
    desk: Desk, client: GQL, query: str, variables: dict[str, Any], root: str
) -> None:
    original = await _all_ids(client, query, variables, root)
    page1 = await _page(client, query, {**variables, "first": 10}, root)
    first_ids = [e["node"]["id"] for e in page1["edges"]]
    assert first_ids == original[:10]

    newer = await _seed(desk, 5, start=SEEDED)  # five new reports, newest of all
    assert len(newer) == 5
    fresh = await _all_ids(client, query, variables, root)
    assert fresh[5:] == original[:95], "the five new items came first"

    page2 = await _page(
        client, query, {**variables, "first": 10, "after": page1["pageInfo"]["endCursor"]}, root
    )
    second_ids = [e["node"]["id"] for e in page2["edges"]]
    assert page2["pageInfo"]["hasPreviousPage"] is True
    assert not set(first_ids) & set(second_ids), "an item repeated across pages"
    assert first_ids + second_ids == original[:20], "an item was skipped or reordered"


async def test_inbox_keyset_pages_are_stable_under_inserts(gql: GQL) -> None:
    desk = await _desk()
    await _seed(desk, 40)
    officer = await gql.sign_in("dinkes@jember.demo")
    await _keyset_is_stable(
        desk, officer, INBOX, {"agency": to_global_id("Agency", desk.dinkes.id)}, "inbox"
    )


async def test_reports_keyset_pages_are_stable_under_inserts(gql: GQL) -> None:
    desk = await _desk()
    await _seed(desk, 40)
    coordinator = await gql.sign_in("koordinator@jember.demo")
    await _keyset_is_stable(desk, coordinator, REPORTS, {}, "reports")


async def test_timelines_and_suggestions_in_a_list_send_the_same_number_of_statements(
    gql: GQL, sql_log: StatementLog
) -> None:
    desk = await _desk()
    await _seed(desk, SEEDED)
    coordinator = await gql.sign_in("koordinator@jember.demo")

    (small, _, sql10), (large, page100, sql100) = [
        await _count_page(sql_log, coordinator, REPORTS_WITH_TIMELINES, {"first": n}, "reports")
        for n in (10, 100)
    ]
    print(f"\nreports+timelines: first:10 -> {small} statements, first:100 -> {large}")

    nodes = [e["node"] for e in page100["edges"]]
    assert all(n["timeline"]["edges"] for n in nodes)
    assert all(n["timeline"]["edges"][0]["node"]["kind"] == "report.submitted" for n in nodes)
    assert any(n["suggestedAgencies"] for n in nodes)
    assert small == large, _explain(sql10, sql100)


@pytest.mark.usefixtures("unchecked_execution")
@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "generic"])
async def test_a_query_sends_its_statements_over_one_connection(
    db: str, sql_log: StatementLog, acquisitions: list[int], compiled: bool
) -> None:
    """However many statements a page needs, its query takes one connection from the pool
    (models/connection.py), whether it runs from its plan or on the generic executor."""
    desk = await _desk()
    await _seed(desk, 12)
    settings = get_settings().model_copy(update={"compiled_execution": compiled})
    async with app_client(settings) as client:
        await release_parked()  # a connection another block left would serve the page unseen
        acquisitions.clear()  # the seeding's
        public = GQL(client)  # signed out: the request reads no account before its query
        with counting(sql_log):
            page = await _page(public, REPORTS_WITH_TIMELINES, {"first": 10}, "reports")
    assert len(page["edges"]) == 10
    assert any(e["node"]["assignments"] for e in page["edges"]), "the page has assignments"
    assert sql_log.count >= 4, sql_log.statements
    taken = len(acquisitions)
    assert taken == 1, f"{taken} connections for {sql_log.count} statements"


async def test_more_queries_at_once_than_pooled_connections_all_answer(db: str, gql: GQL) -> None:
    """Each query holds a connection for its length (models/connection.py): three times as many
    at once as the pool holds wait their turn, none stuck, and every connection goes back."""
    desk = await _desk()
    await _seed(desk, 6)
    pool = connections.get("default")._pool
    many = 3 * pool.get_max_size()
    pages = await asyncio.wait_for(
        asyncio.gather(
            *(_page(gql, REPORTS_WITH_TIMELINES, {"first": 6}, "reports") for _ in range(many))
        ),
        timeout=120,
    )
    assert len(pages[0]["edges"]) == 6
    assert all(page == pages[0] for page in pages)
    await release_parked()  # the one a query left for the next
    assert pool.get_size() - pool.get_idle_size() == 0


DETAIL = """
query Detail($code: String!, $bare: Boolean!) {
  report(trackingCode: $code) {
    title
    timeline(first: 5) { edges { node { kind } } }
    assignments {
      id status
      ... on Assignment { followUps @skip(if: $bare) { message final } }
    }
  }
}
"""


@pytest.mark.usefixtures("unchecked_execution")
@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "generic"])
async def test_a_report_reads_its_assignments_follow_ups_with_the_assignments(
    db: str, sql_log: StatementLog, compiled: bool
) -> None:
    """A compiled plan whose selection has the assignments' follow-ups reads them in the
    assignments' statement (schema/compiled/hints.py), a round trip less, and reads none when
    it does not select them; the generic executor reads them one level down. Both answer
    alike."""
    desk = await _desk()
    (report, *_) = await _seed(desk, 4)  # sent to two desks, one of them answered
    settings = get_settings().model_copy(update={"compiled_execution": compiled})
    answers: dict[bool, dict[str, Any]] = {}
    sent: dict[bool, list[str]] = {}
    async with app_client(settings) as client:
        coordinator = GQL(client)
        await coordinator.sign_in("koordinator@jember.demo")
        for bare in (False, True):
            variables = {"code": report.tracking_code, "bare": bare}
            with counting(sql_log):
                answers[bare] = await _page(coordinator, DETAIL, variables, "report")
            sent[bare] = list(sql_log.statements)
    shown = answers[False]["assignments"]
    assert len(shown) == 2 and [f["message"] for a in shown for f in a["followUps"]] == [
        "Sedang kami tangani (0)."
    ]
    assert answers[True]["assignments"] == [{k: a[k] for k in ("id", "status")} for a in shown]
    assert answers[True]["title"] == answers[False]["title"] == report.title
    assert not [s for s in sent[True] if "follow_up" in s], sent[True]
    alone = [s for s in sent[False] if s.startswith("SELECT") and "FROM follow_up WHERE" in s]
    if compiled:
        assert not alone and any("FROM follow_up f" in s for s in sent[False]), sent[False]
        assert len(sent[False]) == len(sent[True]), (sent[False], sent[True])
    else:  # (and the authors its loaders fetch eagerly)
        assert len(alone) == 1, sent[False]


PAGE = """
query Page($code: String!, $first: Int, $after: String) {
  report(trackingCode: $code) {
    title
    timeline(first: $first, after: $after) {
      edges { cursor node { kind message actor { name } } }
      pageInfo { hasNextPage endCursor }
    }
    assignments { id status followUps { message final author { name } } }
  }
}
"""


def _not_people(statements: list[str]) -> list[str]:
    """The statements but those reading people, which production serves from its cache
    (accounts.PEOPLE; the tests read them afresh)."""
    return [s for s in statements if '"app_user"' not in s and '"role_grant"' not in s]


@pytest.mark.usefixtures("unchecked_execution")
@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "generic"])
async def test_a_report_page_is_read_with_the_report_when_the_viewer_is_not_its_staff(
    db: str, sql_log: StatementLog, compiled: bool
) -> None:
    """Compiled, a report's page reads its assignments, their follow-ups and its first public
    lines in the report's own statement (schema/reports.py, `ReportQuery.report`): one
    statement for the public and the reporter. Its staff's timeline has the internal lines
    too, read on their own; so is a page after a cursor. The generic executor reads each level
    on its own. Both answer alike, for every viewer."""
    desk = await _desk()
    reports_seen = await _seed(desk, 8)
    hidden = reports_seen[0]  # anonymous (i % 7 == 0), sent to two desks, answered by one
    settings = get_settings().model_copy(update={"compiled_execution": compiled})
    answers: dict[tuple[str, int | None], dict[str, Any]] = {}
    sent: dict[tuple[str, int | None], list[str]] = {}
    async with app_client(settings) as client:
        viewers = {
            "public": GQL(client),
            "reporter": await GQL(client).sign_in("warga@jember.demo"),
            "coordinator": await GQL(client).sign_in("koordinator@jember.demo"),
        }
        for name, viewer in viewers.items():
            for first in (None, 1, 0):
                variables = {"code": hidden.tracking_code, "first": first}
                with counting(sql_log):
                    answers[name, first] = await _page(viewer, PAGE, variables, "report")
                sent[name, first] = _not_people(sql_log.statements)
        # The same page with its arguments written in the document: its asks are given them
        # as planned once (schema/compiled/plan.py, `_arguments_known`).
        with counting(sql_log):
            constant = await _page(
                viewers["public"],
                PAGE.replace(", $first: Int", "").replace("$first", "1"),
                {"code": hidden.tracking_code},
                "report",
            )
        sent_constant = _not_people(sql_log.statements)
        end = answers["public", 1]["timeline"]["pageInfo"]["endCursor"]
        with counting(sql_log):
            after = await _page(
                viewers["public"], PAGE, {"code": hidden.tracking_code, "after": end}, "report"
            )
        sent_after = _not_people(sql_log.statements)
    public, staff = answers["public", None], answers["coordinator", None]
    assert len(public["assignments"]) == 2
    assert [f["message"] for a in public["assignments"] for f in a["followUps"]] == [
        "Sedang kami tangani (0)."
    ]
    lines = public["timeline"]["edges"]
    assert len(lines) > 1 and not public["timeline"]["pageInfo"]["hasNextPage"]
    # The anonymous reporter's own line names no one to the public; its staff see who wrote it.
    submitted = [i for i, e in enumerate(lines) if e["node"]["kind"] == "report.submitted"]
    assert submitted and all(lines[i]["node"]["actor"] is None for i in submitted)
    assert all(staff["timeline"]["edges"][i]["node"]["actor"] is not None for i in submitted)
    assert answers["public", 1]["timeline"]["edges"] == lines[:1]
    assert answers["public", 0]["timeline"]["edges"] == []
    assert answers["public", 0]["timeline"]["pageInfo"]["hasNextPage"]
    assert answers["public", 1]["timeline"]["pageInfo"]["hasNextPage"]
    assert after["timeline"]["edges"] == lines[1:]
    assert constant == answers["public", 1]
    if compiled:
        assert len(sent_constant) == 1 and "FROM report_event e" in sent_constant[0]
        for name in ("public", "reporter"):
            for first in (None, 1, 0):
                assert len(sent[name, first]) == 1, (name, first, sent[name, first])
                (statement,) = sent[name, first]
                for read in ("FROM assignment a", "FROM follow_up f", "FROM report_event e"):
                    assert read in statement, statement
        for first in (None, 1):
            report, timeline = sent["coordinator", first]
            assert "FROM report_event e" in report and "FROM report_event e" in timeline
        # The lines after a cursor are read on their own, none with the report.
        assert len(sent_after) == 2, sent_after
        assert "FROM report_event e" not in sent_after[0], sent_after
    else:
        assert all(len(statements) >= 3 for statements in sent.values()), sent


async def test_a_report_page_with_a_refused_first_reads_ahead_and_answers_as_before(
    db: str,
) -> None:
    """A timeline `first` beyond the largest page primes nothing: the field reports its own
    VALIDATION error, on both executors alike (tests/conftest.py checks every compiled query
    against the generic executor)."""
    desk = await _desk()
    (report,) = await _seed(desk, 1)
    async with app_client(get_settings()) as client:
        for first in (101, -1):
            variables = {"code": report.tracking_code, "first": first}
            body = (await GQL(client).raw(PAGE, variables)).json()
            assert [e["extensions"]["code"] for e in body["errors"]] == ["VALIDATION"], body
            assert body["errors"][0]["path"][:2] == ["report", "timeline"], body
