"""The Subscription root of the contract. Live delivery over Redis comes with the
subscriptions issue; until then each subscription refuses with code UNAVAILABLE."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from graphql import GraphQLError

from schema.types import Assignment, Ctx, Notification, ReportEvent


@strawberry.type(description="A change in an agency's inbox.")
class InboxEvent:
    kind: str
    assignment: Assignment
    at: datetime


def _unavailable() -> GraphQLError:
    return GraphQLError(
        "live subscriptions are not served by this version yet; poll with updatedAfter",
        extensions={"code": "UNAVAILABLE"},
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Live inbox of an agency desk.")
    async def inbox_events(
        self, info: Ctx, agency_id: strawberry.ID
    ) -> AsyncGenerator[InboxEvent, None]:
        raise _unavailable()
        yield  # pragma: no cover  (makes this an async generator)

    @strawberry.subscription(description="Live timeline of one report.")
    async def report_events(
        self, info: Ctx, report_id: strawberry.ID
    ) -> AsyncGenerator[ReportEvent, None]:
        raise _unavailable()
        yield  # pragma: no cover

    @strawberry.subscription(description="The signed-in user's notifications as they are created.")
    async def notification_added(self, info: Ctx) -> AsyncGenerator[Notification, None]:
        raise _unavailable()
        yield  # pragma: no cover
