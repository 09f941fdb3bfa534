"""The Query root: thin resolvers that parse, call a reading use case and map the result."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.errors import DomainError
from domain.services import deliveries, reading
from schema.calendar import CalendarQuery
from schema.deliveries import Delivery, DeliveryQuery
from schema.errors import as_graphql_error
from schema.ids import expect_id, from_cursor, from_global_id, to_cursor
from schema.types import (
    Agency,
    AgencyRecord,
    Assignment,
    AssignmentConnection,
    AssignmentEdge,
    AssignmentStatus,
    Category,
    Ctx,
    FollowUp,
    Node,
    Notification,
    NotificationConnection,
    NotificationEdge,
    Region,
    Report,
    ReportConnection,
    ReportEdge,
    ReportEvent,
    ReportKind,
    ReportStatus,
    User,
    page_info,
)


@strawberry.input(description="Filters of `reports`; all optional, combined with AND.")
class ReportFilter:
    status: list[ReportStatus] | None = None
    region_id: strawberry.ID | None = None
    category_id: strawberry.ID | None = None
    kind: ReportKind | None = None
    mine: bool | None = None
    overdue: bool | None = None
    updated_after: datetime | None = strawberry.field(
        default=None,
        description="Only reports changed after this instant (catch-up after reconnect).",
    )
    search: str | None = strawberry.field(
        default=None, description="A tracking code, or words of the title."
    )


async def _node(info: Ctx, type_name: str, pk: int) -> Node | None:
    ctx = info.context
    loaders = ctx.loaders
    if type_name == "Report":
        report = await loaders.report.load(pk)
        return Report.of(report) if report else None
    if type_name == "Assignment":
        assignment = await loaders.assignment.load(pk)
        return Assignment.of(assignment) if assignment else None
    if type_name == "Region":
        region = await loaders.region.load(pk)
        return Region.of(region) if region else None
    if type_name == "Agency":
        agency = await loaders.agency.load(pk)
        return Agency.of(agency) if agency else None
    if type_name == "Category":
        category = await loaders.category.load(pk)
        return Category.of(category) if category else None
    if type_name == "User":
        # People are found through what they did, never enumerated: only yourself by id.
        if ctx.actor.user_id != pk:
            return None
        await loaders.see_users([pk])
        user = loaders.user(pk)
        return User.of(user) if user else None
    if type_name == "FollowUp":
        follow_up = await reading.follow_up_by_id(ctx.actor, pk)
        await loaders.see_users([follow_up.author_id if follow_up else None])
        return FollowUp.of(follow_up) if follow_up else None
    if type_name == "ReportEvent":
        event = await reading.event_by_id(ctx.actor, pk)
        await loaders.see_users([event.actor_id if event else None])
        return ReportEvent.of(event) if event else None
    if type_name == "Notification":
        notification = await reading.notification_by_id(ctx.actor, pk)
        return Notification.of(notification) if notification else None
    if type_name == "Delivery":
        delivery = await deliveries.delivery_by_id(ctx.actor, pk)
        return Delivery.of(delivery) if delivery else None
    return None


@strawberry.type
class Query(CalendarQuery, DeliveryQuery):
    @strawberry.field(
        description="Any object by its global id; null if absent or not yours to see."
    )
    async def node(self, info: Ctx, id: strawberry.ID) -> Node | None:
        decoded = from_global_id(id)
        if decoded is None:
            return None
        return await _node(info, *decoded)

    @strawberry.field(description="The signed-in user; null for the public.")
    async def me(self, info: Ctx) -> User | None:
        uid = info.context.actor.user_id
        if uid is None:
            return None
        await info.context.loaders.see_users([uid])
        found = info.context.loaders.user(uid)
        return User.of(found) if found else None

    @strawberry.field(description="A report by its tracking code, if the viewer may read it.")
    async def report(self, info: Ctx, tracking_code: str) -> Report | None:
        found = await reading.report_by_tracking_code(info.context.actor, tracking_code)
        if found is None:
            return None
        await info.context.loaders.see_reports([found])
        return Report.of(found)

    @strawberry.field(description="Reports the viewer may read, newest first.")
    async def reports(
        self,
        info: Ctx,
        filter: ReportFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> ReportConnection:
        ctx = info.context
        f = filter or ReportFilter()
        try:
            page = await reading.list_reports(
                ctx.actor,
                ctx.now,
                reading.ReportQuery(
                    statuses=f.status,
                    region_id=expect_id(f.region_id, "Region", "regionId") if f.region_id else None,
                    category_id=(
                        expect_id(f.category_id, "Category", "categoryId")
                        if f.category_id
                        else None
                    ),
                    kind=f.kind,
                    mine=bool(f.mine),
                    overdue=f.overdue,
                    updated_after=f.updated_after,
                    search=f.search,
                ),
                first,
                from_cursor(after),
                default_size=ctx.settings.default_page_size,
                max_size=ctx.settings.max_page_size,
            )
        except DomainError as e:
            raise as_graphql_error(e) from None
        await ctx.loaders.see_reports(page.items)
        edges = [ReportEdge(cursor=to_cursor(r.id), node=Report.of(r)) for r in page.items]
        return ReportConnection(edges=edges, page_info=page_info(edges, page))

    @strawberry.field(description="An agency desk's inbox, newest first.")
    async def inbox(
        self,
        info: Ctx,
        agency_id: strawberry.ID,
        status: list[AssignmentStatus] | None = None,
        overdue: bool | None = None,
        updated_after: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> AssignmentConnection:
        ctx = info.context
        try:
            page = await reading.inbox(
                ctx.actor,
                ctx.now,
                expect_id(agency_id, "Agency", "agencyId"),
                status,
                overdue,
                updated_after,
                first,
                from_cursor(after),
                default_size=ctx.settings.default_page_size,
                max_size=ctx.settings.max_page_size,
            )
        except DomainError as e:
            raise as_graphql_error(e) from None
        edges = [AssignmentEdge(cursor=to_cursor(a.id), node=Assignment.of(a)) for a in page.items]
        return AssignmentConnection(edges=edges, page_info=page_info(edges, page))

    @strawberry.field(description="All regions.")
    async def regions(self) -> list[Region]:
        return [Region.of(r) for r in await reading.all_regions()]

    @strawberry.field(description="Agencies serving a region (with the national ones), or all.")
    async def agencies(self, region_id: strawberry.ID | None = None) -> list[Agency]:
        try:
            rid = expect_id(region_id, "Region", "regionId") if region_id else None
            found: list[AgencyRecord] = await reading.agencies_in(rid)
        except DomainError as e:
            raise as_graphql_error(e) from None
        return [Agency.of(a) for a in found]

    @strawberry.field(description="All categories.")
    async def categories(self) -> list[Category]:
        return [Category.of(c) for c in await reading.all_categories()]

    @strawberry.field(description="The signed-in user's in-app notifications, newest first.")
    async def notifications(
        self,
        info: Ctx,
        unread_only: bool | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> NotificationConnection:
        ctx = info.context
        try:
            page = await reading.notifications(
                ctx.actor,
                bool(unread_only),
                first,
                from_cursor(after),
                default_size=ctx.settings.default_page_size,
                max_size=ctx.settings.max_page_size,
            )
        except DomainError as e:
            raise as_graphql_error(e) from None
        edges = [
            NotificationEdge(cursor=to_cursor(n.id), node=Notification.of(n)) for n in page.items
        ]
        return NotificationConnection(edges=edges, page_info=page_info(edges, page))
