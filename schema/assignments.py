"""Assignments in GraphQL: the Assignment and FollowUp types, an agency desk's inbox, and every
change an agency desk makes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, ClassVar, cast

import strawberry

import schema.reports as report_schema
from domain.deadlines import is_overdue
from domain.errors import DomainError
from domain.services import assignments
from domain.services.common import Outcome
from domain.services.idempotency import Replay
from domain.services.views import AssignmentView, FollowUpView
from schema.attachments import Attachment, Files, attachments_of, uploads_of
from schema.common import (
    After,
    AssignmentStatus,
    Ctx,
    First,
    Node,
    ResolutionCode,
    ResolutionTier,
    UserError,
    arg,
    connection,
    described,
    fetchable,
    page_request,
)
from schema.compiled.hints import answered_by_views
from schema.errors import as_graphql_error
from schema.ids import expect_id
from schema.made_of import WHOLE, made_of
from schema.people import person_field
from schema.reference import Agency, reference_field

if TYPE_CHECKING:
    from schema.reports import Report

LazyReport = Annotated["Report", strawberry.lazy("schema.reports")]
AssignmentId = Annotated[strawberry.ID, arg("The assignment's global id.")]


def _held_follow_ups(assignment: Assignment, info: Ctx) -> list[FollowUpView] | None:
    """What `Assignment.follow_ups` is made of when the request holds it already (read with
    the assignments), called as the resolver is; None when it does not."""
    return info.context.loaders.held_follow_ups(assignment.view.id)


@fetchable
@made_of(
    FollowUpView,
    "message",
    "final",
    "resolution",
    "created_at",
    "author_id",
    follow_up_id="id",
)
@strawberry.type(description="An agency's written answer on an assignment (tindak lanjut).")
class FollowUp(Node):
    message: str = described("What the agency wrote.")
    final: bool = described("The agency's answer (true) or an interim note (false).")
    resolution: ResolutionCode | None = described(
        "How a final follow-up resolved it; null if interim."
    )
    created_at: datetime = described("When it was written.")
    author_id: strawberry.Private[int | None]
    follow_up_id: strawberry.Private[int]

    # Made of its view (schema/made_of.py).
    of: ClassVar[Callable[[FollowUpView], FollowUp]]
    all_of: ClassVar[Callable[[Iterable[FollowUpView]], list[FollowUp]]]

    @classmethod
    async def load(cls, info: Ctx, pk: int) -> FollowUp | None:
        found = await assignments.follow_up_by_id(info.context.actor, pk)
        if found is None:
            return None
        await info.context.loaders.see_users([found.author_id])
        return cls.of(found)

    @strawberry.field(
        description="The agency's evidence with this answer (before and after photos, a letter) "
        "that the viewer may see, oldest first."
    )
    async def attachments(self, info: Ctx) -> list[Attachment]:
        found = await info.context.loaders.follow_up_attachments.load(self.follow_up_id)
        return attachments_of(found)

    author = person_field(
        lambda follow_up: follow_up.author_id,
        "The officer who wrote it; null to citizens and the public (staff are named to staff).",
    )


@fetchable
@made_of(
    AssignmentView,
    "status",
    "tier",
    "assigned_at",
    "due_at",
    "escalation_level",
    "return_reason",
    view=WHOLE,
)
@strawberry.type(description="One report sent to one agency (disposisi).")
class Assignment(Node):
    status: AssignmentStatus = described("Where the agency's work is.")
    tier: ResolutionTier | None = described("Chosen on acceptance; sets the resolution deadline.")
    assigned_at: datetime = described("When the report was sent to this agency.")
    due_at: datetime | None = strawberry.field(
        description="First follow-up due while no follow-up was written; resolution due after."
    )
    escalation_level: int = described("0; 1 once past the deadline; 2 once escalated to the head.")
    return_reason: str | None = strawberry.field(
        description="Why the agency returned it (desk staff only)."
    )
    view: strawberry.Private[AssignmentView]

    # Made of its view (schema/made_of.py).
    of: ClassVar[Callable[[AssignmentView], Assignment]]
    all_of: ClassVar[Callable[[Iterable[AssignmentView]], list[Assignment]]]

    @classmethod
    async def load(cls, info: Ctx, pk: int) -> Assignment | None:
        found = await info.context.loaders.assignment.load(pk)
        return cls.of(found) if found else None

    @strawberry.field(description="True when the current deadline has passed.")
    def overdue(self, info: Ctx) -> bool:
        return is_overdue(self.due_at, info.context.now)

    @strawberry.field(
        description=(
            "The report sent to the agency; to a desk that let it go, only its record (`withheld`)."
        )
    )
    def report(self, info: Ctx) -> LazyReport:
        # At once when the request holds the report already (an inbox page reads its reports
        # with it), else an awaitable, which both executors await (as schema/reference.py).
        held = info.context.loaders.held_report(self.view.report_id)
        if held is not None:
            return report_schema.Report.of(held)
        return cast("Report", self._report_loaded(info))

    async def _report_loaded(self, info: Ctx) -> Report:
        loaders = info.context.loaders
        found = await loaders.report.load(self.view.report_id)
        if found is None:  # the viewer was given the assignment: its desk keeps the record
            found = await loaders.report_record.load(self.view.report_id)
        return report_schema.report_of(found)

    agency = reference_field(Agency, "view.agency_id", "The agency that must act.")
    suggested_agency = reference_field(
        Agency,
        "view.suggested_agency_id",
        "The agency the returning desk says should act instead.",
        nullable=True,
    )

    @strawberry.field(description="The agency's written answers, oldest first.")
    @answered_by_views(_held_follow_ups)
    def follow_ups(self, info: Ctx) -> list[FollowUp]:
        # At once when the request holds them (read with the assignments), else an awaitable.
        held = _held_follow_ups(self, info)
        if held is not None:
            return FollowUp.all_of(held)
        return cast(list[FollowUp], self._follow_ups_loaded(info))

    async def _follow_ups_loaded(self, info: Ctx) -> list[FollowUp]:
        return FollowUp.all_of(await info.context.loaders.follow_ups.load(self.view.id))


AssignmentConnection = connection(
    Assignment,
    a_node="An assignment",
    noun="assignment",
    nouns="assignments",
    page_of="assignments",
    order="newest first",
)


@strawberry.type
class AssignmentQuery:
    @strawberry.field(description="An agency desk's inbox, newest first.")
    async def inbox(
        self,
        info: Ctx,
        agency_id: Annotated[strawberry.ID, arg("The agency whose desk it is.")],
        status: Annotated[list[AssignmentStatus] | None, arg("Any of these.")] = None,
        overdue: Annotated[
            bool | None, arg("Only past (true) or within (false) the deadline.")
        ] = None,
        updated_after: Annotated[
            datetime | None, arg("Only what changed after this instant (catch-up).")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> AssignmentConnection:  # type: ignore[valid-type]
        ctx = info.context
        try:
            found = await assignments.inbox(
                ctx.actor,
                ctx.now,
                expect_id(agency_id, "Agency", "agencyId"),
                status,
                overdue,
                updated_after,
                page_request(info, first, after),
            )
        except DomainError as e:
            raise as_graphql_error(e) from None
        await ctx.loaders.hold_reports(found.reports)
        return AssignmentConnection.of(found.assignments, Assignment.of)


@strawberry.type(description="The changed assignment, or why nothing changed.")
class AssignmentPayload:
    assignment: Assignment | None = described("The assignment after the change; null if refused.")
    errors: list[UserError] = described("Why nothing changed; empty on success.")


async def assignment_payload(
    info: Ctx, use_case: Callable[[], Awaitable[Outcome]]
) -> AssignmentPayload:
    """Run a use case that changed an assignment; the assignment as the viewer sees it now."""
    result = await report_schema.run_use_case(info, use_case)
    if isinstance(result, UserError):
        return AssignmentPayload(assignment=None, errors=[result])
    if isinstance(result, Replay):  # the assignment the first request changed, as it is now
        assignment_id = result.outcome["assignment"]
    else:
        assert result.assignment is not None
        assignment_id = result.assignment.id
    found = await assignments.assignments_by_ids(info.context.actor, [assignment_id])
    view = found.get(assignment_id)
    return AssignmentPayload(assignment=Assignment.of(view) if view else None, errors=[])


def _assignment_pk(assignment_id: str) -> int:
    return expect_id(assignment_id, "Assignment", "assignmentId")


@strawberry.type
class AssignmentMutation:
    @strawberry.mutation(description="Agency desk: take the report on, choosing its tier.")
    async def assignment_accept(
        self,
        info: Ctx,
        assignment_id: AssignmentId,
        tier: Annotated[ResolutionTier, arg("How much work it needs: sets the deadline.")],
    ) -> AssignmentPayload:
        ctx = info.context
        return await assignment_payload(
            info,
            lambda: assignments.accept(ctx.actor, ctx.now, _assignment_pk(assignment_id), tier),
        )

    @strawberry.mutation(description="Agency desk: 'not our remit', naming who should act.")
    async def assignment_return(
        self,
        info: Ctx,
        assignment_id: AssignmentId,
        reason: report_schema.Reason,
        suggested_agency_id: Annotated[
            strawberry.ID | None, arg("The agency that should act instead.")
        ] = None,
    ) -> AssignmentPayload:
        ctx = info.context
        return await assignment_payload(
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
        agency_id: Annotated[strawberry.ID, arg("The sub-unit (a child agency).")],
        note: report_schema.Note = None,
    ) -> AssignmentPayload:
        ctx = info.context
        return await assignment_payload(
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
        message: Annotated[str, arg("The answer the reporter will read.")],
        final: Annotated[bool, arg("The final answer (needs a resolution) or an interim one.")],
        resolution: Annotated[
            ResolutionCode | None, arg("How it was resolved; required when final.")
        ] = None,
        attachments: Files = None,
    ) -> AssignmentPayload:
        ctx = info.context

        async def use_case() -> Outcome:
            files = await uploads_of(attachments, "attachments", ctx.settings.upload_max_file_bytes)
            return await assignments.follow_up(
                ctx.actor, ctx.now, _assignment_pk(assignment_id), message, final, resolution, files
            )

        return await assignment_payload(info, use_case)
