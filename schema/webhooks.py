"""Agencies' webhooks in GraphQL: the superadmin sets where an agency's webhooks go and the
secret that signs them, checked as every send checks it (domain/services/webhooks.py)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.errors import DomainError
from domain.services import webhooks
from schema.common import Ctx, UserError, arg, described, refused
from schema.ids import expect_id
from schema.reference import Agency


@strawberry.type(description="An agency's webhook after the change, or why nothing changed.")
class AgencyWebhookPayload:
    agency: Agency | None = described("The agency; null if refused.")
    webhook_url: str | None = described(
        "Where its webhooks go now (the secret is never shown); null: none."
    )
    errors: list[UserError] = described("Why nothing changed; empty on success.")


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description=(
            "Superadmin: set where an agency's webhooks go and the secret that signs them. The "
            "URL must be https and its host resolve to public addresses only (checked now and "
            "at every send); a null url removes the webhook."
        )
    )
    async def agency_webhook_set(
        self,
        info: Ctx,
        agency_id: Annotated[strawberry.ID, arg("The agency.")],
        url: Annotated[str | None, arg("An https:// URL of the agency's receiver, or null.")],
        secret: Annotated[
            str | None, arg("32 to 256 characters the receiver checks signatures with.")
        ] = None,
    ) -> AgencyWebhookPayload:
        ctx = info.context
        try:
            done = await webhooks.set_agency_webhook(
                ctx.actor,
                ctx.now,
                expect_id(agency_id, "Agency", "agencyId"),
                url,
                secret,
                ctx.settings,
            )
        except DomainError as e:
            return AgencyWebhookPayload(agency=None, webhook_url=None, errors=[refused(info, e)])
        return AgencyWebhookPayload(agency=Agency.of(done.agency), webhook_url=done.url, errors=[])
