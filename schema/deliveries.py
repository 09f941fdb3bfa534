"""Deliveries in GraphQL: the superadmin lists the e-mails and webhooks that ran out of
attempts (dead letters) and gives them a fresh round."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from domain.errors import DomainError
from domain.services import deliveries
from models.enums import Channel, DeliveryStatus
from schema.errors import as_graphql_error
from schema.ids import expect_id, from_cursor, to_cursor, to_global_id
from schema.types import Ctx, Node, PageInfo, Report, UserError, page_info

strawberry.enum(Channel, name="NotificationChannel", description="How a notification travels.")
strawberry.enum(DeliveryStatus, description="Where a delivery stands.")


@strawberry.type(description="A notification sent by e-mail or webhook, with its bookkeeping.")
class Delivery(Node):
    channel: Channel = strawberry.field(description="EMAIL or WEBHOOK.")
    status: DeliveryStatus = strawberry.field(description="PENDING, SENT or DEAD.")
    kind: str = strawberry.field(description="The kind of event it tells of.")
    recipient: str = strawberry.field(description="The e-mail address or the webhook URL.")
    attempts: int = strawberry.field(description="Tries made in the current round.")
    last_error: str | None = strawberry.field(description="Why the last try failed.")
    last_attempt_at: datetime | None = strawberry.field(description="When it was last tried.")
    created_at: datetime = strawberry.field(description="When the event was fanned out.")
    report_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, v: deliveries.DeliveryView) -> Delivery:
        return cls(
            id=strawberry.ID(to_global_id("Delivery", v.id)),
            channel=v.channel,
            status=v.status,
            kind=v.kind,
            recipient=v.recipient,
            attempts=v.attempts,
            last_error=v.last_error,
            last_attempt_at=v.last_attempt_at,
            created_at=v.created_at,
            report_id=v.report_id,
        )

    @strawberry.field(description="The report the event belongs to, as the viewer may see it.")
    async def report(self, info: Ctx) -> Report | None:
        if self.report_id is None:
            return None
        found = await info.context.loaders.report.load(self.report_id)
        return Report.of(found) if found else None


@strawberry.type(description="One dead delivery in a page.")
class DeliveryEdge:
    cursor: str = strawberry.field(description="Pass as `after` to read on from here.")
    node: Delivery = strawberry.field(description="The delivery.")


@strawberry.type(description="A page of dead deliveries, newest first.")
class DeliveryConnection:
    edges: list[DeliveryEdge] = strawberry.field(description="The deliveries of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")


@strawberry.type(description="How many dead deliveries were given a fresh round, or why none.")
class DeliveryRetryPayload:
    retried: int = strawberry.field(description="Deliveries revived (those not dead are skipped).")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type
class DeliveryQuery:
    @strawberry.field(
        description="E-mails and webhooks that ran out of attempts, newest first (superadmin)."
    )
    async def dead_deliveries(
        self,
        info: Ctx,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        after: Annotated[str | None, strawberry.argument(description="A cursor.")] = None,
    ) -> DeliveryConnection:
        ctx = info.context
        try:
            page = await deliveries.dead_deliveries(
                ctx.actor,
                first,
                from_cursor(after),
                default_size=ctx.settings.default_page_size,
                max_size=ctx.settings.max_page_size,
            )
        except DomainError as e:
            raise as_graphql_error(e) from None
        edges = [DeliveryEdge(cursor=to_cursor(d.id), node=Delivery.of(d)) for d in page.items]
        return DeliveryConnection(edges=edges, page_info=page_info(edges, page))


@strawberry.type
class DeliveryMutation:
    @strawberry.mutation(description="Give dead deliveries a fresh round of attempts (superadmin).")
    async def delivery_retry(
        self,
        info: Ctx,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="Delivery ids.")],
    ) -> DeliveryRetryPayload:
        ctx = info.context
        try:
            parsed = [expect_id(i, "Delivery", "ids") for i in ids]
            revived = await deliveries.retry_dead(ctx.actor, ctx.now, parsed)
        except DomainError as e:
            return DeliveryRetryPayload(retried=0, errors=[UserError.of(e)])
        await ctx.dispatcher.deliver(revived)
        return DeliveryRetryPayload(retried=len(revived), errors=[])
