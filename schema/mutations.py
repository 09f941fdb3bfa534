"""The Mutation root: parse ids, call one domain use case, map its outcome or its refusal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry

from domain.errors import DomainError
from domain.services import accounts, assignments, notifications, reading, reports
from domain.services.common import Outcome
from schema.calendar import CalendarMutation
from schema.deliveries import DeliveryMutation
from schema.ids import expect_id
from schema.types import (
    Assignment,
    Ctx,
    Report,
    ReportKind,
    ResolutionCode,
    ResolutionTier,
    User,
    UserError,
    described,
)


def _arg(description: str) -> object:
    return strawberry.argument(description=description)


ReportId = Annotated[strawberry.ID, _arg("The report's global id.")]
AssignmentId = Annotated[strawberry.ID, _arg("The assignment's global id.")]
AgencyId = Annotated[strawberry.ID, _arg("The agency's global id.")]
Reason = Annotated[str, _arg("Why, in a sentence the other side will read.")]
Note = Annotated[str | None, _arg("A note for the desk that receives it.")]


@strawberry.input(description="A citizen's new account.")
class RegisterInput:
    name: str = described("Full name.")
    email: str = described("Signs in with it; unique.")
    password: str = described("At least 8 characters.")
    phone: str | None = strawberry.field(default=None, description="For SMS notices, optional.")


@strawberry.input(description="A new report.")
class ReportSubmitInput:
    kind: ReportKind = described("Complaint, aspiration or information request.")
    title: str = described("One line, at most 200 characters.")
    body: str = described("What happened, where and when.")
    region_id: strawberry.ID = described("The regency or city it happened in.")
    category_id: strawberry.ID | None = strawberry.field(
        default=None, description="Its subject, if the reporter knows; the desk may set it."
    )
    anonymous: bool | None = strawberry.field(
        default=False, description="Hide the reporter's identity from all but the desk."
    )
    confidential: bool | None = strawberry.field(
        default=False, description="Keep the content from the public."
    )
    ombudsman_consent: bool | None = strawberry.field(
        default=False,
        description=(
            "The reporter agrees to a hand-over to the Ombudsman if agencies miss their deadline."
        ),
    )
    latitude: float | None = strawberry.field(default=None, description="WGS84 latitude.")
    longitude: float | None = strawberry.field(default=None, description="WGS84 longitude.")
    address: str | None = strawberry.field(default=None, description="Where, in words.")


@strawberry.type(description="The result of signing up or in.")
class AuthPayload:
    token: str | None = described("Send as `Authorization: Bearer <token>`; null when refused.")
    user: User | None = described("Who signed in; null when refused.")
    errors: list[UserError] = described("Why not; empty on success.")


@strawberry.type(description="The changed report, or why nothing changed.")
class ReportPayload:
    report: Report | None = described(
        "The report after the change; null when refused (or no longer readable)."
    )
    errors: list[UserError] = described("Why nothing changed; empty on success.")


@strawberry.type(description="The changed assignment, or why nothing changed.")
class AssignmentPayload:
    assignment: Assignment | None = described("The assignment after the change; null if refused.")
    errors: list[UserError] = described("Why nothing changed; empty on success.")


async def _run(info: Ctx, use_case: Callable[[], Awaitable[Outcome]]) -> Outcome | UserError:
    """Run a use case; after its commit, hand its outbox rows to the dispatcher."""
    try:
        outcome = await use_case()
    except DomainError as e:
        return UserError.of(e)
    await info.context.dispatcher.dispatch(outcome.outbox)
    return outcome


async def _report_payload(info: Ctx, use_case: Callable[[], Awaitable[Outcome]]) -> ReportPayload:
    result = await _run(info, use_case)
    if isinstance(result, UserError):
        return ReportPayload(report=None, errors=[result])
    # Read afresh, not through the request's loader: the change may alter what the viewer sees
    # (unless the use case knows the committed report whole: a new one).
    view = await reading.committed_view(info.context.actor, result.report, result.facts)
    if view is None:
        return ReportPayload(report=None, errors=[])
    await info.context.loaders.see_reports([view])
    return ReportPayload(report=Report.of(view), errors=[])


async def _assignment_payload(
    info: Ctx, use_case: Callable[[], Awaitable[Outcome]]
) -> AssignmentPayload:
    result = await _run(info, use_case)
    if isinstance(result, UserError):
        return AssignmentPayload(assignment=None, errors=[result])
    assert result.assignment is not None
    found = await reading.assignments_by_ids(info.context.actor, [result.assignment.id])
    view = found.get(result.assignment.id)
    return AssignmentPayload(assignment=Assignment.of(view) if view else None, errors=[])


def _report_pk(report_id: str) -> int:
    return expect_id(report_id, "Report", "reportId")


def _assignment_pk(assignment_id: str) -> int:
    return expect_id(assignment_id, "Assignment", "assignmentId")


@strawberry.type(description="Every change, each one use case; refusals come back in `errors`.")
class Mutation(CalendarMutation, DeliveryMutation):
    @strawberry.mutation(description="Create a citizen account and sign in.")
    async def auth_register(
        self, info: Ctx, input: Annotated[RegisterInput, _arg("The new account.")]
    ) -> AuthPayload:
        try:
            signed = await accounts.register(
                info.context.now, input.name, input.email, input.password, input.phone
            )
        except DomainError as e:
            return AuthPayload(token=None, user=None, errors=[UserError.of(e)])
        return await _auth_payload(info, signed)

    @strawberry.mutation(description="Sign in; the token goes in `Authorization: Bearer`.")
    async def auth_login(
        self,
        info: Ctx,
        email: Annotated[str, _arg("The account's e-mail.")],
        password: Annotated[str, _arg("Its password.")],
    ) -> AuthPayload:
        try:
            signed = await accounts.login(info.context.now, email, password)
        except DomainError as e:
            return AuthPayload(token=None, user=None, errors=[UserError.of(e)])
        return await _auth_payload(info, signed)

    @strawberry.mutation(description="Send a report; the reporter must be signed in.")
    async def report_submit(
        self, info: Ctx, input: Annotated[ReportSubmitInput, _arg("The report.")]
    ) -> ReportPayload:
        ctx = info.context

        async def use_case() -> Outcome:
            data = reports.SubmitInput(
                kind=input.kind,
                title=input.title,
                body=input.body,
                region_id=expect_id(input.region_id, "Region", "regionId"),
                category_id=expect_id(input.category_id, "Category", "categoryId")
                if input.category_id
                else None,
                anonymous=bool(input.anonymous),
                confidential=bool(input.confidential),
                ombudsman_consent=bool(input.ombudsman_consent),
                latitude=input.latitude,
                longitude=input.longitude,
                address=input.address,
            )
            return await reports.submit(ctx.actor, ctx.now, data)

        return await _report_payload(info, use_case)

    @strawberry.mutation(description="The reporter adds information (a report on hold resumes).")
    async def report_add_info(
        self,
        info: Ctx,
        report_id: ReportId,
        message: Annotated[str, _arg("The information the desk asked for.")],
    ) -> ReportPayload:
        ctx = info.context
        return await _report_payload(
            info,
            lambda: reports.add_info(ctx.actor, ctx.now, _report_pk(report_id), message),
        )

    @strawberry.mutation(description="Support a public report (once per user).")
    async def report_support(self, info: Ctx, report_id: ReportId) -> ReportPayload:
        ctx = info.context
        return await _report_payload(
            info,
            lambda: reports.support(ctx.actor, ctx.now, _report_pk(report_id)),
        )

    @strawberry.mutation(description="The reporter accepts the answer with a rating of 1-5.")
    async def report_rate(
        self,
        info: Ctx,
        report_id: ReportId,
        rating: Annotated[int, _arg("1 (poor) to 5 (excellent).")],
        comment: Annotated[str | None, _arg("A word on how it was handled.")] = None,
    ) -> ReportPayload:
        ctx = info.context
        return await _report_payload(
            info,
            lambda: reports.rate(ctx.actor, ctx.now, _report_pk(report_id), rating, comment),
        )

    @strawberry.mutation(description="The reporter disputes the answer within the window.")
    async def report_dispute(self, info: Ctx, report_id: ReportId, reason: Reason) -> ReportPayload:
        ctx = info.context
        return await _report_payload(
            info,
            lambda: reports.dispute(ctx.actor, ctx.now, _report_pk(report_id), reason),
        )

    @strawberry.mutation(description="Coordinator: verify and forward to one or more agencies.")
    async def report_verify(
        self,
        info: Ctx,
        report_id: ReportId,
        agency_ids: Annotated[list[strawberry.ID], _arg("The agencies that must act.")],
        category_id: Annotated[strawberry.ID | None, _arg("Set or correct its category.")] = None,
        note: Note = None,
    ) -> ReportPayload:
        ctx = info.context
        return await _report_payload(
            info,
            lambda: reports.verify(
                ctx.actor,
                ctx.now,
                _report_pk(report_id),
                [expect_id(a, "Agency", "agencyIds") for a in agency_ids],
                expect_id(category_id, "Category", "categoryId") if category_id else None,
                note,
            ),
        )

    @strawberry.mutation(description="Coordinator: ask the reporter for more information.")
    async def report_hold(self, info: Ctx, report_id: ReportId, reason: Reason) -> ReportPayload:
        ctx = info.context
        return await _report_payload(
            info,
            lambda: reports.hold(ctx.actor, ctx.now, _report_pk(report_id), reason),
        )

    @strawberry.mutation(
        description="Coordinator: archive spam, a duplicate or out-of-scope report."
    )
    async def report_archive(
        self,
        info: Ctx,
        report_id: ReportId,
        reason: Reason,
        duplicate_of_id: Annotated[
            strawberry.ID | None, _arg("The report this one duplicates.")
        ] = None,
    ) -> ReportPayload:
        ctx = info.context
        return await _report_payload(
            info,
            lambda: reports.archive(
                ctx.actor,
                ctx.now,
                _report_pk(report_id),
                reason,
                expect_id(duplicate_of_id, "Report", "duplicateOfId") if duplicate_of_id else None,
            ),
        )

    @strawberry.mutation(description="Coordinator: forward to one more agency.")
    async def report_assign(
        self, info: Ctx, report_id: ReportId, agency_id: AgencyId, note: Note = None
    ) -> AssignmentPayload:
        ctx = info.context
        return await _assignment_payload(
            info,
            lambda: reports.assign(
                ctx.actor,
                ctx.now,
                _report_pk(report_id),
                expect_id(agency_id, "Agency", "agencyId"),
                note,
            ),
        )

    @strawberry.mutation(
        description="Coordinator: hand over to the Ombudsman (deadline missed, consent)."
    )
    async def report_escalate(
        self, info: Ctx, report_id: ReportId, reason: Reason
    ) -> ReportPayload:
        ctx = info.context
        return await _report_payload(
            info,
            lambda: reports.escalate(ctx.actor, ctx.now, _report_pk(report_id), reason),
        )

    @strawberry.mutation(description="Ombudsman: close a report handed over to it.")
    async def report_close(
        self,
        info: Ctx,
        report_id: ReportId,
        note: Annotated[str, _arg("The Ombudsman's conclusion.")],
    ) -> ReportPayload:
        ctx = info.context
        return await _report_payload(
            info,
            lambda: reports.close_escalated(ctx.actor, ctx.now, _report_pk(report_id), note),
        )

    @strawberry.mutation(description="Agency desk: take the report on, choosing its tier.")
    async def assignment_accept(
        self,
        info: Ctx,
        assignment_id: AssignmentId,
        tier: Annotated[ResolutionTier, _arg("How much work it needs: sets the deadline.")],
    ) -> AssignmentPayload:
        ctx = info.context
        return await _assignment_payload(
            info,
            lambda: assignments.accept(ctx.actor, ctx.now, _assignment_pk(assignment_id), tier),
        )

    @strawberry.mutation(description="Agency desk: 'not our remit', naming who should act.")
    async def assignment_return(
        self,
        info: Ctx,
        assignment_id: AssignmentId,
        reason: Reason,
        suggested_agency_id: Annotated[
            strawberry.ID | None, _arg("The agency that should act instead.")
        ] = None,
    ) -> AssignmentPayload:
        ctx = info.context
        return await _assignment_payload(
            info,
            lambda: assignments.return_(
                ctx.actor,
                ctx.now,
                _assignment_pk(assignment_id),
                reason,
                expect_id(suggested_agency_id, "Agency", "suggestedAgencyId")
                if suggested_agency_id
                else None,
            ),
        )

    @strawberry.mutation(
        description="Agency desk: forward to a sub-unit; returns the new assignment."
    )
    async def assignment_forward(
        self,
        info: Ctx,
        assignment_id: AssignmentId,
        agency_id: Annotated[strawberry.ID, _arg("The sub-unit (a child agency).")],
        note: Note = None,
    ) -> AssignmentPayload:
        ctx = info.context
        return await _assignment_payload(
            info,
            lambda: assignments.forward(
                ctx.actor,
                ctx.now,
                _assignment_pk(assignment_id),
                expect_id(agency_id, "Agency", "agencyId"),
                note,
            ),
        )

    @strawberry.mutation(description="Agency desk: an interim or final written answer.")
    async def assignment_follow_up(
        self,
        info: Ctx,
        assignment_id: AssignmentId,
        message: Annotated[str, _arg("The answer the reporter will read.")],
        final: Annotated[bool, _arg("The final answer (needs a resolution) or an interim one.")],
        resolution: Annotated[
            ResolutionCode | None, _arg("How it was resolved; required when final.")
        ] = None,
    ) -> AssignmentPayload:
        ctx = info.context
        return await _assignment_payload(
            info,
            lambda: assignments.follow_up(
                ctx.actor,
                ctx.now,
                _assignment_pk(assignment_id),
                message,
                final,
                resolution,
            ),
        )

    @strawberry.mutation(description="Mark notifications read (all unread when ids is null).")
    async def notifications_mark_read(
        self,
        info: Ctx,
        ids: Annotated[
            list[strawberry.ID] | None, _arg("The notifications; null for all unread.")
        ] = None,
    ) -> int:
        ctx = info.context
        try:
            parsed = [expect_id(i, "Notification", "ids") for i in ids] if ids is not None else None
            return await notifications.mark_read(ctx.actor, ctx.now, parsed)
        except DomainError as e:
            from schema.errors import as_graphql_error

            raise as_graphql_error(e) from None


async def _auth_payload(info: Ctx, signed: accounts.SignedIn) -> AuthPayload:
    found = await reading.users_by_ids(
        await accounts.actor_for_user(signed.user.id), [signed.user.id]
    )
    return AuthPayload(token=signed.token, user=User.of(found[signed.user.id]), errors=[])
