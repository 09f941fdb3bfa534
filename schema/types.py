"""GraphQL object types, built once per object from masked views; fields are plain attributes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from domain import enums
from domain.deadlines import is_overdue
from domain.errors import DomainError, not_found
from domain.services import reading
from domain.views import (
    AgencyRecord,
    AssignmentView,
    CategoryRecord,
    EventView,
    FollowUpView,
    NotificationRecord,
    RegionRecord,
    ReportView,
    UserView,
)
from schema.context import Context
from schema.ids import from_cursor, to_cursor, to_global_id

# The domain's enums, registered as GraphQL enums (strawberry.enum marks the class itself).
ReportKind = enums.ReportKind
ReportStatus = enums.ReportStatus
AssignmentStatus = enums.AssignmentStatus
ResolutionTier = enums.ResolutionTier
ResolutionCode = enums.ResolutionCode
Role = enums.Role
strawberry.enum(ReportKind, description="What a citizen sends.")
strawberry.enum(ReportStatus, description="Where a report is in its life.")
strawberry.enum(AssignmentStatus, description="Where one agency's work on a report is.")
strawberry.enum(ResolutionTier, description="How much work a report needs: sets its deadline.")
strawberry.enum(ResolutionCode, description="How a final follow-up resolved its assignment.")
strawberry.enum(Role, description="What a user may do, scoped to a region or an agency.")

Ctx = Info[Context, None]


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID


@strawberry.type(description="Relay pagination state of a connection.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(
    description="Why a mutation was refused; `code` is stable, `field` names the input."
)
class UserError:
    code: str
    message: str
    field: list[str] | None = None

    @classmethod
    def of(cls, error: DomainError) -> UserError:
        return cls(code=error.code.value, message=error.message, field=error.field)


@strawberry.type(description="A person who signs in.")
class User(Node):
    name: str
    email: str | None = strawberry.field(
        description="Shown only to the user themselves and to the superadmin."
    )
    roles: list[Role]

    @classmethod
    def of(cls, v: UserView) -> User:
        return cls(
            id=strawberry.ID(to_global_id("User", v.id)),
            name=v.name,
            email=v.email,
            roles=list(v.roles),
        )


@strawberry.type(description="A province, regency or city, with its time zone.")
class Region(Node):
    code: str
    name: str
    timezone: str = strawberry.field(description="IANA time zone: WIB, WITA or WIT.")
    parent_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, r: RegionRecord) -> Region:
        return cls(
            id=strawberry.ID(to_global_id("Region", r.id)),
            code=r.code,
            name=r.name,
            timezone=r.timezone,
            parent_id=r.parent_id,
        )

    @strawberry.field(description="The province of a regency or city.")
    async def parent(self, info: Ctx) -> Region | None:
        if self.parent_id is None:
            return None
        found = await info.context.loaders.region.load(self.parent_id)
        return Region.of(found) if found else None


@strawberry.type(
    description="A body that acts on reports: an OPD of a regency or a national agency."
)
class Agency(Node):
    code: str
    name: str
    region_id: strawberry.Private[int | None]
    parent_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, a: AgencyRecord) -> Agency:
        return cls(
            id=strawberry.ID(to_global_id("Agency", a.id)),
            code=a.code,
            name=a.name,
            region_id=a.region_id,
            parent_id=a.parent_id,
        )

    @strawberry.field(description="The region it serves; null for a national agency.")
    async def region(self, info: Ctx) -> Region | None:
        if self.region_id is None:
            return None
        found = await info.context.loaders.region.load(self.region_id)
        return Region.of(found) if found else None

    @strawberry.field(description="The agency this one is a unit of (a Puskesmas's Dinas).")
    async def parent(self, info: Ctx) -> Agency | None:
        if self.parent_id is None:
            return None
        found = await info.context.loaders.agency.load(self.parent_id)
        return Agency.of(found) if found else None


@strawberry.type(description="A subject of reports.")
class Category(Node):
    code: str
    name: str

    @classmethod
    def of(cls, c: CategoryRecord) -> Category:
        return cls(id=strawberry.ID(to_global_id("Category", c.id)), code=c.code, name=c.name)


@strawberry.type(description="An agency's written answer on an assignment (tindak lanjut).")
class FollowUp(Node):
    message: str
    final: bool
    resolution: ResolutionCode | None
    created_at: datetime
    author_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, f: FollowUpView) -> FollowUp:
        return cls(
            id=strawberry.ID(to_global_id("FollowUp", f.id)),
            message=f.message,
            final=f.final,
            resolution=f.resolution,
            created_at=f.created_at,
            author_id=f.author_id,
        )

    @strawberry.field(description="The officer who wrote it.")
    def author(self, info: Ctx) -> User | None:
        return _user(info, self.author_id)


@strawberry.type(description="A line of a report's timeline.")
class ReportEvent(Node):
    kind: str = strawberry.field(description="e.g. report.submitted, assignment.accepted.")
    message: str | None
    at: datetime
    actor_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, e: EventView) -> ReportEvent:
        return cls(
            id=strawberry.ID(to_global_id("ReportEvent", e.id)),
            kind=e.kind,
            message=e.message,
            at=e.at,
            actor_id=e.actor_id,
        )

    @strawberry.field(description="Who acted; null for the system or a hidden reporter.")
    def actor(self, info: Ctx) -> User | None:
        return _user(info, self.actor_id)


@strawberry.type
class ReportEventEdge:
    cursor: str
    node: ReportEvent


@strawberry.type(description="A page of a report's timeline, oldest first.")
class ReportEventConnection:
    edges: list[ReportEventEdge]
    page_info: PageInfo


@strawberry.type(description="One report sent to one agency (disposisi).")
class Assignment(Node):
    status: AssignmentStatus
    tier: ResolutionTier | None
    assigned_at: datetime
    due_at: datetime | None = strawberry.field(
        description="First follow-up due while no follow-up was written; resolution due after."
    )
    escalation_level: int
    return_reason: str | None = strawberry.field(
        description="Why the agency returned it (desk staff only)."
    )
    view: strawberry.Private[AssignmentView]

    @classmethod
    def of(cls, v: AssignmentView) -> Assignment:
        return cls(
            id=strawberry.ID(to_global_id("Assignment", v.id)),
            status=v.status,
            tier=v.tier,
            assigned_at=v.assigned_at,
            due_at=v.due_at,
            escalation_level=v.escalation_level,
            return_reason=v.return_reason,
            view=v,
        )

    @strawberry.field(description="True when the current deadline has passed.")
    def overdue(self, info: Ctx) -> bool:
        return is_overdue(self.due_at, info.context.now)

    @strawberry.field
    async def report(self, info: Ctx) -> Report:
        found = await info.context.loaders.report.load(self.view.report_id)
        if found is None:  # cannot happen for an assignment the viewer was given
            raise not_found("report")
        return Report.of(found)

    @strawberry.field
    async def agency(self, info: Ctx) -> Agency:
        found = await info.context.loaders.agency.load(self.view.agency_id)
        assert found is not None
        return Agency.of(found)

    @strawberry.field(description="The agency the returning desk says should act instead.")
    async def suggested_agency(self, info: Ctx) -> Agency | None:
        if self.view.suggested_agency_id is None:
            return None
        found = await info.context.loaders.agency.load(self.view.suggested_agency_id)
        return Agency.of(found) if found else None

    @strawberry.field
    async def follow_ups(self, info: Ctx) -> list[FollowUp]:
        return [FollowUp.of(f) for f in await info.context.loaders.follow_ups.load(self.view.id)]


@strawberry.type(description="What a citizen sent, as the viewer may see it.")
class Report(Node):
    tracking_code: str
    kind: ReportKind
    title: str
    body: str
    anonymous: bool
    confidential: bool
    status: ReportStatus
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None = strawberry.field(
        description="The deadline of the stage the report is in, null when none runs."
    )
    support_count: int
    reopen_count: int
    address: str | None = strawberry.field(
        description="Where it happened; hidden with the reporter when the report is anonymous."
    )
    latitude: float | None
    longitude: float | None
    view: strawberry.Private[ReportView]

    @classmethod
    def of(cls, v: ReportView) -> Report:
        return cls(
            id=strawberry.ID(to_global_id("Report", v.id)),
            tracking_code=v.tracking_code,
            kind=v.kind,
            title=v.title,
            body=v.body,
            anonymous=v.anonymous,
            confidential=v.confidential,
            status=v.status,
            created_at=v.created_at,
            updated_at=v.updated_at,
            due_at=v.due_at,
            support_count=v.support_count,
            reopen_count=v.reopen_count,
            address=v.address,
            latitude=v.latitude,
            longitude=v.longitude,
            view=v,
        )

    @strawberry.field(description="True when the current stage's deadline has passed.")
    def overdue(self, info: Ctx) -> bool:
        return is_overdue(self.due_at, info.context.now)

    @strawberry.field
    async def region(self, info: Ctx) -> Region:
        found = await info.context.loaders.region.load(self.view.region_id)
        assert found is not None
        return Region.of(found)

    @strawberry.field
    async def category(self, info: Ctx) -> Category | None:
        if self.view.category_id is None:
            return None
        found = await info.context.loaders.category.load(self.view.category_id)
        return Category.of(found) if found else None

    @strawberry.field(description="Null whenever the viewer may not know who reported.")
    def reporter(self, info: Ctx) -> User | None:
        return _user(info, self.view.reporter_id)

    @strawberry.field(description="The reporter's rating (1-5) once given.")
    async def rating(self, info: Ctx) -> int | None:
        return await info.context.loaders.rating.load(self.view.id)

    @strawberry.field
    async def assignments(self, info: Ctx) -> list[Assignment]:
        views = await info.context.loaders.assignments_of_report.load(
            (self.view.id, self.view.staff_view)
        )
        return [Assignment.of(a) for a in views]

    @strawberry.field(description="Agencies the routing rules suggest (coordinators only).")
    async def suggested_agencies(self, info: Ctx) -> list[Agency]:
        if not self.view.staff_view or self.view.category_id is None:
            return []
        key = (self.view.category_id, self.view.region_id)
        return [Agency.of(a) for a in await info.context.loaders.suggested_agencies.load(key)]

    @strawberry.field(description="The report's timeline, oldest first.")
    async def timeline(
        self, info: Ctx, first: int | None = None, after: str | None = None
    ) -> ReportEventConnection:
        key = reading.TimelineKey(self.view, first, from_cursor(after))
        page = await info.context.loaders.timeline.load(key)
        edges = [
            ReportEventEdge(cursor=to_cursor(e.id), node=ReportEvent.of(e)) for e in page.items
        ]
        return ReportEventConnection(edges=edges, page_info=page_info(edges, page))


@strawberry.type(description="An in-app notification of the signed-in user.")
class Notification(Node):
    kind: str
    message: str
    read: bool
    created_at: datetime
    report_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, n: NotificationRecord) -> Notification:
        return cls(
            id=strawberry.ID(to_global_id("Notification", n.id)),
            kind=n.kind,
            message=n.message,
            read=n.read_at is not None,
            created_at=n.created_at,
            report_id=n.report_id,
        )

    @strawberry.field
    async def report(self, info: Ctx) -> Report | None:
        if self.report_id is None:
            return None
        found = await info.context.loaders.report.load(self.report_id)
        return Report.of(found) if found else None


@strawberry.type
class ReportEdge:
    cursor: str
    node: Report


@strawberry.type(description="A page of reports, newest first.")
class ReportConnection:
    edges: list[ReportEdge]
    page_info: PageInfo


@strawberry.type
class AssignmentEdge:
    cursor: str
    node: Assignment


@strawberry.type(description="A page of assignments, newest first.")
class AssignmentConnection:
    edges: list[AssignmentEdge]
    page_info: PageInfo


@strawberry.type
class NotificationEdge:
    cursor: str
    node: Notification


@strawberry.type(description="A page of notifications, newest first.")
class NotificationConnection:
    edges: list[NotificationEdge]
    page_info: PageInfo


def page_info(
    edges: Sequence[Any],
    page: reading.Page[Any],
) -> PageInfo:
    """PageInfo of a keyset page."""
    return PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=(
            to_cursor(page.scanned_to)
            if page.scanned_to is not None
            else (edges[-1].cursor if edges else None)
        ),
    )


def _user(info: Ctx, user_id: int | None) -> User | None:
    found = info.context.loaders.user(user_id)
    return User.of(found) if found else None
