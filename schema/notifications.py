"""A user's in-app notifications in GraphQL: the list, marking them read."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

import schema.reports as report_schema
from domain.errors import DomainError
from domain.services import notifications
from domain.services.views import NotificationRecord
from schema.common import (
    After,
    Ctx,
    First,
    Node,
    arg,
    connection,
    described,
    fetchable,
    page_request,
)
from schema.errors import as_graphql_error
from schema.ids import expect_id

if TYPE_CHECKING:
    from schema.reports import Report

LazyReport = Annotated["Report", strawberry.lazy("schema.reports")]


@fetchable
@strawberry.type(description="An in-app notification of the signed-in user.")
class Notification(Node):
    kind: str = described("What happened, e.g. report.verified.")
    message: str = described("A sentence for people.")
    read: bool = described("Marked read with `notificationsMarkRead`.")
    created_at: datetime = described("When it was sent.")
    report_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, n: NotificationRecord) -> Notification:
        return cls(
            id=cls.global_id(n.id),
            kind=n.kind,
            message=n.message,
            read=n.read_at is not None,
            created_at=n.created_at,
            report_id=n.report_id,
        )

    @classmethod
    async def load(cls, info: Ctx, pk: int) -> Notification | None:
        found = await notifications.notification_by_id(info.context.actor, pk)
        return cls.of(found) if found else None

    @strawberry.field(description="The report it is about, if any and still readable.")
    async def report(self, info: Ctx) -> LazyReport | None:
        if self.report_id is None:
            return None
        return await report_schema.Report.load(info, self.report_id)


NotificationConnection = connection(
    Notification,
    a_node="A notification",
    noun="notification",
    nouns="notifications",
    page_of="notifications",
    order="newest first",
)


@strawberry.type
class NotificationQuery:
    @strawberry.field(description="The signed-in user's in-app notifications, newest first.")
    async def notifications(
        self,
        info: Ctx,
        unread_only: Annotated[bool | None, arg("Only those not marked read.")] = None,
        first: First = None,
        after: After = None,
    ) -> NotificationConnection:  # type: ignore[valid-type]
        try:
            page = await notifications.notifications(
                info.context.actor, bool(unread_only), page_request(info, first, after)
            )
        except DomainError as e:
            raise as_graphql_error(e) from None
        return NotificationConnection.of(page, Notification.of)


@strawberry.type
class NotificationMutation:
    @strawberry.mutation(description="Mark notifications read (all unread when ids is null).")
    async def notifications_mark_read(
        self,
        info: Ctx,
        ids: Annotated[
            list[strawberry.ID] | None, arg("The notifications; null for all unread.")
        ] = None,
    ) -> int:
        ctx = info.context
        try:
            parsed = [expect_id(i, "Notification", "ids") for i in ids] if ids is not None else None
            return await notifications.mark_read(ctx.actor, ctx.now, parsed)
        except DomainError as e:
            raise as_graphql_error(e) from None
