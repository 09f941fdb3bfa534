"""The Subscription root: live agency inboxes, report timelines and notifications.

Each subscription is authorised once, when it starts, by the same domain rule as its query twin
(an `error` message refuses it). It then listens to the process's live feed (api/live.py): every
message names an event or a notification by id, which is read afresh from the database as this
viewer may see it, with the event's own `now` and fresh loaders (`Context.begin_event`)."""

from __future__ import annotations

import functools
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterator,
)
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Annotated, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from domain.errors import DomainError
from domain.services import assignments, notifications, reports, timeline
from schema.assignments import Assignment
from schema.common import Ctx
from schema.context import Context, LiveContext, LiveFeed, LiveMessage, LiveTopic
from schema.errors import as_graphql_error
from schema.ids import expect_id
from schema.notifications import Notification
from schema.reports import ReportEvent

T = TypeVar("T")


@strawberry.type(
    description="A change in an agency's inbox: one of its assignments was created or changed."
)
class InboxEvent:
    kind: str = strawberry.field(
        description="What happened, e.g. assignment.created, assignment.accepted."
    )
    assignment: Assignment = strawberry.field(
        description="The assignment as it is when the event is delivered."
    )
    at: datetime = strawberry.field(description="When it happened.")


def _feed(ctx: Context) -> tuple[LiveContext, LiveFeed]:
    """A WebSocket connection's context and its live feed; refused over anything else."""
    if not isinstance(ctx, LiveContext) or ctx.live is None:
        raise GraphQLError(
            "subscriptions are served over the WebSocket at /graphql (graphql-transport-ws)",
            extensions={"code": "UNAVAILABLE"},
        )
    return ctx, ctx.live


async def _authorised(check: Callable[[], Awaitable[T]]) -> T:
    """The outcome of a domain check, its refusal as a coded GraphQL error."""
    try:
        return await check()
    except DomainError as e:
        raise as_graphql_error(e) from None


async def _stream(
    ctx: LiveContext,
    listening: AbstractAsyncContextManager[AsyncIterator[LiveMessage]],
    read: Callable[[LiveMessage], Awaitable[T | None]],
    read_as: Hashable | None = None,
) -> AsyncGenerator[T, None]:
    """Each message heard, read afresh as a new event; None (not for this viewer) is skipped.
    The subscribers of one message go one after the other (`SharedRows.take_turn`). Those whose
    `read_as` is the same (the same viewer of the same thing, whose `read` has no effect but its
    answer) get what the first of them read: the item is made once for a desk's thousands of
    tabs, as their answer is (schema/compiled/executor.py)."""
    async with listening as messages:
        async for message in messages:
            await message.shared.take_turn()
            ctx.begin_event(message)
            try:
                if read_as is None:
                    item = await read(message)
                else:
                    item = await message.shared.read(
                        ("item", read_as), functools.partial(read, message)
                    )
                if item is not None:
                    yield item  # resolved and sent before this generator is resumed
            finally:
                ctx.end_event()  # keep nothing of this event while waiting for the next
                message.shared.served()


class SubscriptionsOnlyOverWebSocket(SchemaExtension):
    """Over a WebSocket only subscriptions run. A connection lives for hours with one context;
    queries and mutations go over HTTP, where each request has its own time and loaders."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        if (
            isinstance(context, Context)
            and context.live is not None
            and self.execution_context.operation_type is not OperationType.SUBSCRIPTION
        ):
            raise GraphQLError(
                "only subscriptions run over the WebSocket: send queries and mutations over HTTP",
                extensions={"code": "BAD_REQUEST"},
            )
        yield


# The resolvers check access and return the stream: a refusal then comes before the stream
# starts, as the protocol's `error` message, instead of as a first `next` carrying errors.
@strawberry.type(
    description="Live updates, over the WebSocket at /graphql (graphql-transport-ws protocol)."
)
class Subscription:
    @strawberry.subscription(
        description=(
            "Live inbox of an agency desk: new, changed, overdue and escalated assignments. "
            "For the agency's members and the coordinators of its region."
        )
    )
    async def inbox_events(
        self,
        info: Ctx,
        agency_id: Annotated[
            strawberry.ID, strawberry.argument(description="The agency whose inbox to watch.")
        ],
    ) -> AsyncGenerator[InboxEvent, None]:
        ctx, feed = _feed(info.context)
        desk = await _authorised(
            lambda: assignments.open_inbox(ctx.actor, expect_id(agency_id, "Agency", "agencyId"))
        )

        async def read(message: LiveMessage) -> InboxEvent | None:
            found = await assignments.inbox_event(desk, message.id, message.shared)
            if found is None:
                return None
            return InboxEvent(
                kind=found.kind, assignment=Assignment.of(found.assignment), at=found.at
            )

        # (The desk names its viewer: one read for all who watch it as the same person.)
        return _stream(ctx, feed.listen(LiveTopic.INBOX, desk.agency_id), read, read_as=desk)

    @strawberry.subscription(
        description="Live timeline of one report, for viewers who may read the report."
    )
    async def report_events(
        self,
        info: Ctx,
        report_id: Annotated[
            strawberry.ID, strawberry.argument(description="The report whose timeline to watch.")
        ],
    ) -> AsyncGenerator[ReportEvent, None]:
        ctx, feed = _feed(info.context)
        report = await _authorised(
            lambda: reports.readable_report(ctx.actor, expect_id(report_id, "Report", "reportId"))
        )

        async def read(message: LiveMessage) -> ReportEvent | None:
            # The node(id) path: readable report, internal lines for staff, hidden reporters;
            # a viewer who may no longer read the report (it let it go) is refused, which ends
            # the subscription and drops it from the hub.
            event = await _authorised(
                lambda: timeline.watched_event(ctx.actor, report.id, message.id, message.shared)
            )
            if event is None:
                return None
            await ctx.loaders.see_users([event.actor_id])
            return ReportEvent.of(event)

        return _stream(ctx, feed.listen(LiveTopic.REPORT, report.id), read)

    @strawberry.subscription(description="The signed-in user's notifications as they are created.")
    async def notification_added(self, info: Ctx) -> AsyncGenerator[Notification, None]:
        ctx, feed = _feed(info.context)
        user_id = ctx.actor.user_id
        if user_id is None:  # a live connection is always signed in; over HTTP there is no feed
            raise GraphQLError("sign in first", extensions={"code": "UNAUTHENTICATED"})

        async def read(message: LiveMessage) -> Notification | None:
            found = await notifications.notification_by_id(ctx.actor, message.id)
            return Notification.of(found) if found else None

        return _stream(ctx, feed.listen(LiveTopic.NOTIFICATIONS, user_id), read)
