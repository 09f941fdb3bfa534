"""Deliveries in GraphQL: the superadmin lists the e-mails and webhooks that ran out of
attempts (dead letters) and gives them a fresh round."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

import schema.reports as report_schema
from domain.enums import Channel, DeliveryStatus
from domain.errors import DomainError
from domain.services import deliveries
from schema.common import Ctx, Node, UserError, connection, fetchable, page_request
from schema.errors import as_graphql_error
from schema.ids import expect_id

strawberry.enum(Channel, name="NotificationChannel", description="How a notification travels.")
strawberry.enum(DeliveryStatus, description="Where a delivery stands.")


@fetchable
@strawberry.type(description="A notification sent by e-mail or webhook, with its bookkeeping.")
class Delivery(Node):
    channel: Channel = strawberry.field(description="EMAIL or WEBHOOK.")
    status: DeliveryStatus = strawberry.field(description="PENDING, SENT or DEAD.")
    kind: str = strawberry.field(description="The kind of event it tells of.")
    recipient: str = strawberry.field(
        description=(
            "The e-mail address or the webhook URL; withheld for a delivery to a reporter "
            "the viewer may not know (an anonymous report, or one it may not read)."
        )
    )
    attempts: int = strawberry.field(description="Tries made in the current round.")
    last_error: str | None = strawberry.field(description="Why the last try failed.")
    last_attempt_at: datetime | None = strawberry.field(description="When it was last tried.")
    created_at: datetime = strawberry.field(description="When the event was fanned out.")
    report_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, v: deliveries.DeliveryView) -> Delivery:
        return cls(
            id=cls.global_id(v.id),
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

    @classmethod
    async def load(cls, info: Ctx, pk: int) -> Delivery | None:
        found = await deliveries.delivery_by_id(info.context.actor, pk)
        return cls.of(found) if found else None

    @strawberry.field(description="The report the event belongs to, as the viewer may see it.")
    async def report(self, info: Ctx) -> report_schema.Report | None:
        if self.report_id is None:
            return None
        return await report_schema.Report.load(info, self.report_id)


DeliveryConnection = connection(
    Delivery,
    a_node="A delivery",
    noun="delivery",
    nouns="deliveries",
    page_of="dead deliveries",
    order="newest first",
    texts={
        "edge": "One dead delivery in a page.",
        "cursor": "Pass as `after` to read on from here.",
        "page_info": "Where this page stands.",
    },
)


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
    ) -> DeliveryConnection:  # type: ignore[valid-type]
        try:
            page = await deliveries.dead_deliveries(
                info.context.actor, page_request(info, first, after)
            )
        except DomainError as e:
            raise as_graphql_error(e) from None
        return DeliveryConnection.of(page, Delivery.of)


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
