"""No N+1: a page of 10 and a page of 100 send the same number of SQL statements; keyset
pages neither repeat nor skip items when new rows arrive between two pages.

Statements are counted by wrapping the execution methods of Tortoise's asyncpg client (and
of its transaction wrapper), so every statement the ORM sends is seen, whatever issues it.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper

from domain.actor import Actor
from domain.services import assignments, reports
from domain.services.accounts import actor_for_user
from domain.services.reports import SubmitInput
from models import Agency, Assignment, Category, Region, Report, User
from models.enums import ReportKind, ResolutionCode, ResolutionTier
from schema.ids import to_global_id
from tests.app_fixtures import GQL

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday morning in Jember
JEMBER = "35.09"
SEEDED = 120

EXECUTION_METHODS = (
    "execute_query",
    "execute_query_dict",
    "execute_insert",
    "execute_many",
    "execute_script",
)

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


# ---------------------------------------------------------------------- counting SQL


@dataclass
class StatementLog:
    statements: list[str] = field(default_factory=list)
    active: bool = False

    @property
    def count(self) -> int:
        return len(self.statements)


_inside = contextvars.ContextVar("inside_sql_execution", default=False)


@pytest.fixture
def sql_log(monkeypatch: pytest.MonkeyPatch) -> StatementLog:
    """Counts statements while `log.active`; nested calls (one method delegating to another)
    count once."""
    log = StatementLog()

    def wrap(original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(original)
        async def counted(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            if _inside.get():
                return await original(self, query, *args, **kwargs)
            if log.active:
                log.statements.append(" ".join(str(query).split()))
            token = _inside.set(True)
            try:
                return await original(self, query, *args, **kwargs)
            finally:
                _inside.reset(token)

        return counted

    for cls in (AsyncpgDBClient, TransactionWrapper):
        for name in EXECUTION_METHODS:
            if name in vars(cls):
                monkeypatch.setattr(cls, name, wrap(vars(cls)[name]))
    # Methods inherited from the base classes (execute_script) are patched on the client.
    for name in EXECUTION_METHODS:
        if name not in vars(AsyncpgDBClient):
            monkeypatch.setattr(AsyncpgDBClient, name, wrap(getattr(AsyncpgDBClient, name)))
    return log


@contextmanager
def counting(log: StatementLog) -> Iterator[StatementLog]:
    log.statements.clear()
    log.active = True
    try:
        yield log
    finally:
        log.active = False


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


async def _actor(email: str) -> Actor:
    return await actor_for_user((await User.get(email=email)).id)


async def _desk() -> Desk:
    region = await Region.get(code=JEMBER)
    return Desk(
        citizen=await _actor("warga@jember.demo"),
        coordinator=await _actor("koordinator@jember.demo"),
        officer=await _actor("dinkes@jember.demo"),
        dinkes=await Agency.get(code="DINKES", region_id=region.id),
        dpupr=await Agency.get(code="DPUPR", region_id=region.id),
        region=region,
        categories=list(await Category.all().order_by("id")),
    )


async def _report_to_dinkes(desk: Desk, i: int, at: datetime) -> Report:
    """A verified report assigned to DINKES (every third also to DPUPR), with variety:
    anonymous ones, categories, interim follow-ups, answered and rated ones."""
    outcome = await reports.submit(
        desk.citizen,
        at,
        SubmitInput(
            kind=ReportKind.COMPLAINT,
            title=f"Laporan nomor {i}",
            body="Antrean di puskesmas terlalu panjang.",
            region_id=desk.region.id,
            category_id=desk.categories[i % len(desk.categories)].id if i % 5 else None,
            anonymous=i % 7 == 0,
        ),
    )
    report = outcome.report
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
