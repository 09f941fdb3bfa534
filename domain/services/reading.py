"""Reading use cases: lists, detail and batch loads, each filtered by the access policy."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from tortoise.expressions import Q

from domain.actor import Actor
from domain.errors import DomainError, ErrorCode, not_found
from domain.lifecycle import FINAL_REPORT, OPEN_ASSIGNMENT
from domain.policy import (
    Action,
    AgencyFacts,
    ReportFacts,
    allowed_on_agency,
    allowed_on_report,
    readable_reports_q,
    require_signed_in,
)
from domain.services import reference
from domain.services.accounts import people
from domain.services.common import facts_for, parse_id
from domain.tracking import normalize_tracking_code
from domain.views import (
    AssignmentView,
    EventView,
    FollowUpView,
    ReportView,
    UserView,
    assignment_view,
    event_view,
    follow_up_view,
    report_view,
    user_view,
)
from models import (
    Agency,
    Assignment,
    Category,
    FollowUp,
    Notification,
    Rating,
    Region,
    Report,
    ReportEvent,
    RoutingRule,
)
from models.enums import AssignmentStatus, Channel, ReportKind, ReportStatus

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    """One keyset page: items, whether more follow, and whether any came before."""

    items: list[T]
    has_next: bool
    has_previous: bool
    # The last row scanned, when it may differ from the last item (rows the policy dropped):
    # the next page starts after it, so a page is never stuck behind hidden rows.
    scanned_to: int | None = None


@dataclass(frozen=True)
class ReportQuery:
    statuses: Sequence[ReportStatus] | None = None
    region_id: int | str | None = None
    category_id: int | str | None = None
    kind: ReportKind | None = None
    mine: bool = False
    overdue: bool | None = None
    updated_after: datetime | None = None
    search: str | None = None
    # Any of these categories (Open311's service_code list).
    category_ids: Sequence[int] | None = None
    # Submitted in [created_from, created_before).
    created_from: datetime | None = None
    created_before: datetime | None = None


class SharedRows:
    """Rows read once for several viewers at one moment: the subscribers of one live event in
    one process. It holds rows and policy facts, never views: each viewer's view is still made
    for that viewer by the functions below."""

    def __init__(self) -> None:
        self._reads: dict[Hashable, asyncio.Future[Any]] = {}

    async def read(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        """What `fetch()` returns, fetched by the first to ask; the others wait for it. The
        fetch goes on if the one who started it goes away."""
        future = self._reads.get(key)
        if future is None:
            future = self._reads[key] = asyncio.ensure_future(fetch())
        return await asyncio.shield(future)  # type: ignore[no-any-return]


async def _rows(shared: SharedRows | None, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
    return await (shared.read(key, fetch) if shared is not None else fetch())


async def views_of(actor: Actor, reports: Sequence[Report]) -> list[ReportView | None]:
    """Masked views, None where the actor may not read the report."""
    return _views(actor, reports, await facts_for(reports))


def _views(
    actor: Actor, reports: Sequence[Report], facts: dict[int, ReportFacts]
) -> list[ReportView | None]:
    return [
        report_view(actor, r, facts[r.id])
        if allowed_on_report(actor, Action.READ, facts[r.id])
        else None
        for r in reports
    ]


async def readable_report(actor: Actor, report_id: int) -> ReportView:
    """The report as the actor may see it; NOT_FOUND when it is absent or unreadable alike."""
    found = await reports_by_ids(actor, [report_id])
    if report_id not in found:
        raise not_found("report", "reportId")
    return found[report_id]


async def reports_by_ids(
    actor: Actor, ids: Sequence[int], shared: SharedRows | None = None
) -> dict[int, ReportView]:
    """Readable reports among `ids`, as masked views (two queries, or none with `shared` rows)."""
    wanted = sorted(set(ids))
    reports, facts = await _rows(shared, ("reports", *wanted), lambda: _report_rows(wanted))
    return {v.id: v for v in _views(actor, reports, facts) if v is not None}


async def _report_rows(ids: list[int]) -> tuple[list[Report], dict[int, ReportFacts]]:
    reports = list(await Report.filter(id__in=ids))
    return reports, await facts_for(reports)


async def committed_view(
    actor: Actor, report: Report, facts: ReportFacts | None
) -> ReportView | None:
    """A report a use case just committed, as the actor may see it now: made from the row in
    hand when the use case gave its `facts`, else read back; None when no longer readable."""
    if facts is None:
        return (await reports_by_ids(actor, [report.id])).get(report.id)
    return _views(actor, [report], {report.id: facts})[0]


async def report_by_tracking_code(actor: Actor, code: str) -> ReportView | None:
    """The report with this code if the actor may read it; None otherwise (never tells which)."""
    canonical = normalize_tracking_code(code)
    if canonical is None:
        return None
    report = await Report.get_or_none(tracking_code=canonical)
    if report is None:
        return None
    (view,) = await views_of(actor, [report])
    return view


def page_size(first: int | None, default: int, maximum: int) -> int:
    if first is None:
        return default
    if first < 0 or first > maximum:
        raise DomainError(ErrorCode.VALIDATION, f"first must be between 0 and {maximum}", ["first"])
    return first


async def list_reports(
    actor: Actor,
    now: datetime,
    query: ReportQuery,
    first: int | None,
    after_id: int | None,
    *,
    default_size: int,
    max_size: int,
) -> Page[ReportView]:
    """Readable reports, newest first, filtered; keyset on id so inserts do not shift pages."""
    size = page_size(first, default_size, max_size)
    qs = Report.all()
    visible = readable_reports_q(actor)
    if visible is not None:
        qs = qs.filter(visible)
    if query.statuses:
        qs = qs.filter(status__in=[s.value for s in query.statuses])
    if query.region_id is not None:
        qs = qs.filter(region_id=parse_id(query.region_id, "regionId"))
    if query.category_id is not None:
        qs = qs.filter(category_id=parse_id(query.category_id, "categoryId"))
    if query.category_ids is not None:
        qs = qs.filter(category_id__in=list(query.category_ids))
    if query.created_from is not None:
        qs = qs.filter(created_at__gte=query.created_from)
    if query.created_before is not None:
        qs = qs.filter(created_at__lt=query.created_before)
    if query.kind is not None:
        qs = qs.filter(kind=query.kind.value)
    if query.mine:
        require_signed_in(actor)
        qs = qs.filter(reporter_id=actor.user_id)
    if query.overdue is True:
        qs = qs.filter(due_at__lt=now)
    elif query.overdue is False:
        qs = qs.filter(Q(due_at__isnull=True) | Q(due_at__gte=now))
    if query.updated_after is not None:
        qs = qs.filter(updated_at__gt=query.updated_after)
    if query.search:
        term = query.search.strip()[:200]
        code = normalize_tracking_code(term)
        qs = qs.filter(tracking_code=code) if code else qs.filter(title__icontains=term)
    if after_id is not None:
        qs = qs.filter(id__lt=after_id)
    rows = await qs.order_by("-id").limit(size + 1)
    views = [v for v in await views_of(actor, rows[:size]) if v is not None]
    scanned_to = rows[size - 1].id if len(rows) > size else None
    return Page(views, len(rows) > size, after_id is not None, scanned_to)


async def inbox(
    actor: Actor,
    now: datetime,
    agency_id: int | str,
    statuses: Sequence[AssignmentStatus] | None,
    overdue: bool | None,
    updated_after: datetime | None,
    first: int | None,
    after_id: int | None,
    *,
    default_size: int,
    max_size: int,
) -> Page[AssignmentView]:
    """An agency desk's assignments, newest first; for its members and its region's coordinators."""
    desk = await open_inbox(actor, agency_id)
    size = page_size(first, default_size, max_size)
    qs = Assignment.filter(agency_id=desk.agency_id)
    if statuses:
        qs = qs.filter(status__in=[s.value for s in statuses])
    if overdue is True:
        qs = qs.filter(due_at__lt=now)
    elif overdue is False:
        qs = qs.filter(Q(due_at__isnull=True) | Q(due_at__gte=now))
    if updated_after is not None:
        qs = qs.filter(updated_at__gt=updated_after)
    if after_id is not None:
        qs = qs.filter(id__lt=after_id)
    rows = await qs.order_by("-id").limit(size + 1)
    return Page([_inbox_view(a) for a in rows[:size]], len(rows) > size, after_id is not None)


@dataclass(frozen=True)
class InboxDesk:
    """An agency inbox that `actor` was found allowed to watch (made by `open_inbox` only)."""

    actor: Actor
    agency_id: int


async def open_inbox(actor: Actor, agency_id: int | str) -> InboxDesk:
    """The inbox of an agency, for its members and its region's coordinators; UNAUTHENTICATED,
    NOT_FOUND or FORBIDDEN otherwise."""
    require_signed_in(actor)
    aid = parse_id(agency_id, "agencyId")
    agency = await reference.agency(aid)
    if agency is None:
        raise not_found("agency", "agencyId")
    # Agencies are public reference data: saying "not yours" reveals nothing.
    if not allowed_on_agency(actor, Action.VIEW_INBOX, AgencyFacts(agency.id, agency.region_id)):
        raise DomainError(ErrorCode.FORBIDDEN, "this is not your agency's inbox", ["agencyId"])
    return InboxDesk(actor, agency.id)


async def _inbox_row(desk: InboxDesk, event_id: int) -> ReportEvent | None:
    return (
        await ReportEvent.filter(id=event_id, assignment__agency_id=desk.agency_id)
        .select_related("assignment")
        .first()
    )


@dataclass(frozen=True)
class OverdueCounts:
    """Open work whose current deadline has passed."""

    assignments: int
    reports: int


async def overdue_counts(now: datetime) -> OverdueCounts:
    """How many open assignments and unfinished reports are past `due_at` (two indexed counts
    on (status, due_at)); for monitoring, not shown to any viewer."""
    assignments = await Assignment.filter(
        status__in=[s.value for s in OPEN_ASSIGNMENT], due_at__lt=now
    ).count()
    open_statuses = [s.value for s in ReportStatus if s not in FINAL_REPORT]
    reports = await Report.filter(status__in=open_statuses, due_at__lt=now).count()
    return OverdueCounts(assignments, reports)


def _inbox_view(assignment: Assignment) -> AssignmentView:
    # Whoever may open an agency's inbox is staff of its assignments: the desk details show.
    return assignment_view(assignment, True)


@dataclass(frozen=True)
class InboxEventView:
    """A timeline event about one of a desk's assignments, with the assignment as it is now."""

    kind: str
    at: datetime
    assignment: AssignmentView


async def inbox_event(
    desk: InboxDesk, event_id: int, shared: SharedRows | None = None
) -> InboxEventView | None:
    """The event as the desk's inbox shows it; None unless it is about one of its assignments."""
    event = await _rows(
        shared, ("inbox_event", desk.agency_id, event_id), lambda: _inbox_row(desk, event_id)
    )
    if event is None or event.assignment is None:
        return None
    return InboxEventView(event.kind, event.at, _inbox_view(event.assignment))


async def assignments_by_ids(
    actor: Actor, ids: Sequence[int], shared: SharedRows | None = None
) -> dict[int, AssignmentView]:
    """Assignments whose report the actor may read."""
    wanted = sorted(set(ids))
    rows = await _rows(shared, ("assignments", *wanted), lambda: _assignment_rows(wanted))
    reports = await reports_by_ids(actor, [a.report_id for a in rows], shared)
    return {
        a.id: assignment_view(a, reports[a.report_id].staff_view)
        for a in rows
        if a.report_id in reports
    }


async def _assignment_rows(ids: list[int]) -> list[Assignment]:
    return list(await Assignment.filter(id__in=ids))


async def assignments_of_reports(
    keys: Sequence[tuple[int, bool]],
) -> list[list[AssignmentView]]:
    """For (report id, staff view) keys of readable reports: their assignments, oldest first."""
    rows = await Assignment.filter(report_id__in=list({k[0] for k in keys})).order_by("id")
    by_report: dict[int, list[Assignment]] = defaultdict(list)
    for a in rows:
        by_report[a.report_id].append(a)
    return [[assignment_view(a, staff) for a in by_report[rid]] for rid, staff in keys]


async def follow_ups_of_assignments(ids: Sequence[int]) -> list[list[FollowUpView]]:
    rows = await FollowUp.filter(assignment_id__in=list(set(ids))).order_by("id")
    grouped: dict[int, list[FollowUpView]] = defaultdict(list)
    for f in rows:
        grouped[f.assignment_id].append(follow_up_view(f))
    return [grouped[i] for i in ids]


async def ratings_of_reports(ids: Sequence[int]) -> list[int | None]:
    rows = await Rating.filter(report_id__in=list(set(ids))).values_list("report_id", "score")
    scores = {int(r): int(s) for r, s in rows}  # type: ignore[call-overload]
    return [scores.get(i) for i in ids]


@dataclass(frozen=True)
class TimelineKey:
    """One `timeline(first:, after:)` request of one report view."""

    report: ReportView
    first: int | None
    after_id: int | None


async def timelines(
    actor: Actor, keys: Sequence[TimelineKey], *, max_size: int
) -> list[Page[EventView]]:
    """Timelines of many reports in a constant number of queries, oldest line first;
    internal desk lines only where the viewer is the report's staff."""
    sizes = [page_size(k.first, max_size, max_size) for k in keys]
    chosen: list[list[int]] = [[] for _ in keys]
    more: list[bool] = [False for _ in keys]
    for staff in (True, False):
        group = [i for i, k in enumerate(keys) if k.report.staff_view is staff]
        if not group:
            continue
        qs = ReportEvent.filter(report_id__in=sorted({keys[i].report.id for i in group}))
        if not staff:
            qs = qs.filter(visibility="public")
        by_report: dict[int, list[int]] = defaultdict(list)
        for report_id, event_id in await qs.order_by("id").values_list("report_id", "id"):
            by_report[int(str(report_id))].append(int(str(event_id)))
        for i in group:
            after = keys[i].after_id
            ids = [e for e in by_report[keys[i].report.id] if after is None or e > after]
            chosen[i], more[i] = ids[: sizes[i]], len(ids) > sizes[i]
    all_ids = sorted({e for ids in chosen for e in ids})
    events = {e.id: e for e in await ReportEvent.filter(id__in=all_ids)} if all_ids else {}
    hidden = await _hidden_reporters([k.report for k in keys])
    return [
        Page(
            [event_view(events[e], hidden.get(k.report.id)) for e in chosen[i]],
            more[i],
            k.after_id is not None,
        )
        for i, k in enumerate(keys)
    ]


async def _hidden_reporters(
    reports: Sequence[ReportView], shared: SharedRows | None = None
) -> dict[int, int]:
    """Report id -> reporter id, for the reports whose reporter this viewer must not learn."""
    masked = sorted({r.id for r in reports if r.reporter_id is None})
    if not masked:
        return {}
    rows = await _rows(shared, ("reporters", *masked), lambda: _reporter_rows(masked))
    return {int(str(rid)): int(str(uid)) for rid, uid in rows}


async def _reporter_rows(ids: list[int]) -> list[tuple[Any, Any]]:
    return list(await Report.filter(id__in=ids).values_list("id", "reporter_id"))


async def users_by_ids(
    viewer: Actor, ids: Sequence[int], shared: SharedRows | None = None
) -> dict[int, UserView]:
    """People as `viewer` sees them (cached; two queries for those not cached, or none with
    `shared` rows)."""
    wanted = sorted(set(ids))
    found = await _rows(shared, ("users", *wanted), lambda: people(wanted))
    return {p.id: user_view(p, viewer) for p in found.values()}


regions_by_ids = reference.regions
agencies_by_ids = reference.agencies
categories_by_ids = reference.categories


async def all_regions() -> list[Region]:
    return list(await Region.all().order_by("code"))


async def region_by_code(code: str) -> Region | None:
    return await Region.get_or_none(code=code)


async def agencies_in(region_id: int | str | None) -> list[Agency]:
    """Agencies serving a region (its own and the national ones), or all of them."""
    if region_id is None:
        return list(await Agency.all().order_by("region_id", "code"))
    rid = parse_id(region_id, "regionId")
    return list(await Agency.filter(Q(region_id=rid) | Q(region_id__isnull=True)).order_by("code"))


async def all_categories() -> list[Category]:
    return list(await Category.all().order_by("code"))


async def suggested_agencies(keys: Sequence[tuple[int, int]]) -> list[list[Agency]]:
    """For (category id, region id) keys: the agencies routing rules suggest, best first."""
    categories = sorted({c for c, _ in keys})
    regions = sorted({r for _, r in keys})
    rules = await RoutingRule.filter(category_id__in=categories, region_id__in=regions).order_by(
        "-priority", "id"
    )
    agencies = await agencies_by_ids([r.agency_id for r in rules])
    by_key: dict[tuple[int, int], list[Agency]] = defaultdict(list)
    for rule in rules:
        if rule.agency_id in agencies:
            by_key[(rule.category_id, rule.region_id)].append(agencies[rule.agency_id])
    return [by_key[k] for k in keys]


async def notifications(
    actor: Actor,
    unread_only: bool,
    first: int | None,
    after_id: int | None,
    *,
    default_size: int,
    max_size: int,
) -> Page[Notification]:
    """The signed-in user's in-app notifications, newest first."""
    require_signed_in(actor)
    size = page_size(first, default_size, max_size)
    qs = Notification.filter(user_id=actor.user_id, channel=Channel.IN_APP)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    if after_id is not None:
        qs = qs.filter(id__lt=after_id)
    rows = await qs.order_by("-id").limit(size + 1)
    return Page(list(rows[:size]), len(rows) > size, after_id is not None)


async def follow_up_by_id(actor: Actor, fid: int) -> FollowUpView | None:
    row = await FollowUp.get_or_none(id=fid)
    if row is None or not await assignments_by_ids(actor, [row.assignment_id]):
        return None
    return follow_up_view(row)


async def event_by_id(actor: Actor, eid: int, shared: SharedRows | None = None) -> EventView | None:
    """A timeline line the actor may read: its report readable, an internal line only for the
    report's staff, a hidden reporter's line without its actor."""
    row = await _rows(shared, ("event", eid), lambda: ReportEvent.get_or_none(id=eid))
    if row is None:
        return None
    reports = await reports_by_ids(actor, [row.report_id], shared)
    report = reports.get(row.report_id)
    if report is None or (row.visibility != "public" and not report.staff_view):
        return None
    hidden = await _hidden_reporters([report], shared)
    return event_view(row, hidden.get(report.id))


async def notification_by_id(actor: Actor, nid: int) -> Notification | None:
    """One of the actor's own in-app notifications (the list's rule); None for anything else."""
    if actor.user_id is None:
        return None
    return await Notification.get_or_none(id=nid, user_id=actor.user_id, channel=Channel.IN_APP)
