"""Reports in GraphQL: the Report type and its timeline, the lists and lookups, and every
change to a report (the reporter's and the coordinator desk's)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, cast

import strawberry

import schema.assignments as assignment_schema
from domain.deadlines import is_overdue
from domain.errors import DomainError, not_found
from domain.services import merges, report_page, reports, timeline
from domain.services.common import Outcome
from domain.services.idempotency import Replay
from domain.services.reading import Page
from domain.services.search import SEARCH_WINDOW
from domain.services.timeline import TimelineKey
from domain.services.views import AssignmentView, EventView, ReportView
from schema.attachments import Attachment, Files, attachments_of, uploads_of
from schema.common import (
    After,
    Ctx,
    First,
    Node,
    ReportKind,
    ReportStatus,
    UserError,
    arg,
    connection,
    described,
    fetchable,
    page_request,
    refused,
)
from schema.compiled.hints import answered_by_views, reads_ahead, shows_columns
from schema.errors import as_graphql_error
from schema.idempotency import idempotent
from schema.ids import expect_id, from_cursor
from schema.made_of import WHOLE, made_of
from schema.people import person_field
from schema.reference import Agency, Category, Region, reference_field

if TYPE_CHECKING:
    from schema.assignments import Assignment, AssignmentPayload

LazyAssignment = Annotated["Assignment", strawberry.lazy("schema.assignments")]
LazyAssignmentPayload = Annotated["AssignmentPayload", strawberry.lazy("schema.assignments")]

ReportId = Annotated[strawberry.ID, arg("The report's global id.")]
AgencyId = Annotated[strawberry.ID, arg("The agency's global id.")]
Reason = Annotated[str, arg("Why, in a sentence the other side will read.")]
Note = Annotated[str | None, arg("A note for the desk that receives it.")]


@fetchable
@made_of(EventView, "kind", "message", "at", "actor_id", view=WHOLE)
@strawberry.type(description="A line of a report's timeline.")
class ReportEvent(Node):
    kind: str = strawberry.field(description="e.g. report.submitted, assignment.accepted.")
    message: str | None = described("The note, reason or answer written with it, if any.")
    at: datetime = described("When it happened.")
    actor_id: strawberry.Private[int | None]
    view: strawberry.Private[EventView]
    # Made of views (schema/made_of.py): one line, and a timeline's page in one loop.
    of: ClassVar[Callable[[EventView], ReportEvent]]
    all_of: ClassVar[Callable[[Iterable[EventView]], list[ReportEvent]]]

    @strawberry.field(
        description=(
            'The desk it was written as, for everyone who may read it: "Pelapor" (the '
            'reporter), "Koordinator <region>", the agency\'s name or "Ombudsman"; null for '
            "the system. Staff are named (`actor`) only to staff."
        )
    )
    async def acted_as(self, info: Ctx) -> str | None:
        return await info.context.loaders.acted_as.load(self.view)

    @classmethod
    async def load(cls, info: Ctx, pk: int) -> ReportEvent | None:
        event = await timeline.event_by_id(info.context.actor, pk)
        if event is None:
            return None
        await info.context.loaders.see_users([event.actor_id])
        return cls.of(event)

    actor = person_field(
        lambda event: event.actor_id,
        "Who acted; null for the system, a hidden reporter, or staff to citizens and the public.",
    )


ReportEventConnection = connection(
    ReportEvent,
    a_node="A timeline line",
    noun="line",
    nouns="lines",
    page_of="a report's timeline",
    order="oldest first",
)


def _held_timeline(
    report: Report, info: Ctx, first: int | None = None, after: str | None = None
) -> Page[EventView] | None:
    """The page of `Report.timeline` when the request holds it already (the detail page reads
    it with the report), called as the resolver is; None when it does not."""
    return info.context.loaders.held_timeline(_timeline_key(report, first, after))


def _timeline_key(report: Report, first: int | None, after: str | None) -> TimelineKey:
    """What the timeline's loader is asked for `Report.timeline(first:, after:)`."""
    return timeline.TimelineKey(report.view, first, from_cursor(after))


def _held_assignments(report: Report, info: Ctx) -> list[AssignmentView] | None:
    """What `Report.assignments` is made of when the request holds it already (as
    `_held_timeline`); None when it does not."""
    if report.view.withheld:  # what others did since the viewer let it go
        return []
    return info.context.loaders.held_assignments(_assignments_key(report))


def _assignments_key(report: Report) -> tuple[int, bool]:
    """What the assignments' loader is asked for `Report.assignments`."""
    return (report.view.id, report.view.staff_view)


# The report's columns that only these fields show: a query selecting none of a column's
# fields does not read it (schema/compiled/hints.py). `similar` reads the text and the place.
@shows_columns(
    "report",
    body=("body", "similar"),
    address=("address",),
    latitude=("latitude", "similar"),
    longitude=("longitude", "similar"),
    updated_at=("updated_at",),
)
@fetchable
@made_of(
    ReportView,
    "tracking_code",
    "kind",
    "title",
    "body",
    "anonymous",
    "confidential",
    "status",
    "created_at",
    "updated_at",
    "due_at",
    "support_count",
    "reopen_count",
    "address",
    "latitude",
    "longitude",
    "withheld",
    view=WHOLE,
)
@strawberry.type(description="What a citizen sent, as the viewer may see it.")
class Report(Node):
    tracking_code: str = described("What the reporter is given, e.g. LPR-7KQ2-9XMD.")
    kind: ReportKind = described("Complaint, aspiration or information request.")
    title: str = described("One line.")
    body: str = described("What the reporter wrote.")
    anonymous: bool = described("The reporter's identity is hidden from all but the desk.")
    confidential: bool = described("Not public: only the reporter, the desk and assigned agencies.")
    status: ReportStatus = described("Where the report is in its life.")
    created_at: datetime = described("When it was submitted.")
    updated_at: datetime = described("When it last changed (see `updatedAfter` filters).")
    due_at: datetime | None = strawberry.field(
        description="The deadline of the stage the report is in, null when none runs."
    )
    support_count: int = described("How many people support it (+1).")
    reopen_count: int = described("How many times the reporter disputed an answer.")
    address: str | None = strawberry.field(
        description="Where it happened; hidden with the reporter when the report is anonymous."
    )
    latitude: float | None = described("WGS84; hidden with the reporter when anonymous.")
    longitude: float | None = described("WGS84; hidden with the reporter when anonymous.")
    withheld: bool = described(
        "Only the record of the viewer's former assignment (its agency returned the report): "
        "title and body are empty; the place, the reporter, the deadline, the rating, the "
        "assignments and the timeline are withheld."
    )
    view: strawberry.Private[ReportView]

    # Made of its view (schema/made_of.py).
    of: ClassVar[Callable[[ReportView], Report]]
    all_of: ClassVar[Callable[[Iterable[ReportView]], list[Report]]]

    @classmethod
    async def load(cls, info: Ctx, pk: int) -> Report | None:
        found = await info.context.loaders.report.load(pk)
        return cls.of(found) if found else None

    @strawberry.field(description="True when the current stage's deadline has passed.")
    def overdue(self, info: Ctx) -> bool:
        return is_overdue(self.due_at, info.context.now)

    region = reference_field(Region, "view.region_id", "The regency or city it belongs to.")
    category = reference_field(
        Category, "view.category_id", "Its subject; null until someone chose one.", nullable=True
    )

    reporter = person_field(
        lambda report: report.view.reporter_id,
        "Null whenever the viewer may not know who reported.",
    )

    @strawberry.field(description="The reporter's rating (1-5) once given.")
    async def rating(self, info: Ctx) -> int | None:
        if self.view.withheld:
            return None
        return await info.context.loaders.rating.load(self.view.id)

    @strawberry.field(description="The agencies it was sent to, oldest first.")
    @reads_ahead("followUps", lambda context, _: context.loaders.read_follow_ups_ahead())
    @answered_by_views(_held_assignments)
    def assignments(self, info: Ctx) -> list[LazyAssignment]:
        # At once when the request holds them (as `timeline`), else an awaitable.
        held = _held_assignments(self, info)
        if held is not None:
            return assignment_schema.Assignment.all_of(held)
        return cast(Any, self._assignments_loaded(info, _assignments_key(self)))

    @staticmethod
    async def _assignments_loaded(info: Ctx, key: tuple[int, bool]) -> Any:
        views = await info.context.loaders.assignments_of_report.load(key)
        return assignment_schema.Assignment.all_of(views)

    @strawberry.field(description="Agencies the routing rules suggest (coordinators only).")
    async def suggested_agencies(self, info: Ctx) -> list[Agency]:
        if not self.view.staff_view or self.view.category_id is None:
            return []
        key = (self.view.category_id, self.view.region_id)
        return [Agency.of(a) for a in await info.context.loaders.suggested_agencies.load(key)]

    @strawberry.field(
        description=(
            "Reports of the same region, still open or of the last 90 days, most like this one "
            "(words, place, category, time), best first, with why each matched: for its desk "
            "staff (the region's coordinators, the agencies working on it), empty for others."
        )
    )
    async def similar(
        self,
        info: Ctx,
        first: Annotated[int | None, arg("How many (at most 100; 5 when omitted).")] = None,
    ) -> list[SimilarReport]:
        ctx = info.context
        try:
            found = await reports.similar_reports(ctx.actor, ctx.now, self.view, first)
        except DomainError as e:
            raise as_graphql_error(e) from None
        await ctx.loaders.see_reports([s.report for s in found])
        return [SimilarReport.of(s) for s in found]

    @strawberry.field(
        description="Photos and documents of the report the viewer may see (the reporter's and "
        "the agencies' evidence), oldest first; none on a withheld record."
    )
    async def attachments(self, info: Ctx) -> list[Attachment]:
        if self.view.withheld:
            return []
        return attachments_of(await info.context.loaders.report_attachments.load(self.view.id))

    @strawberry.field(description="The report's timeline, oldest first.")
    @answered_by_views(_held_timeline)
    def timeline(
        self,
        info: Ctx,
        first: Annotated[int | None, arg("How many lines (at most 100, default).")] = None,
        after: After = None,
    ) -> ReportEventConnection:  # type: ignore[valid-type]
        # At once when the request holds the page (the detail page reads it with the report),
        # else an awaitable, which both executors await (as `Assignment.report`). A compiled
        # plan writes a held page inside the report's builder, from its views.
        held = _held_timeline(self, info, first, after)
        if held is not None:
            return ReportEventConnection.of_views(held)
        return cast(Any, self._timeline_loaded(info, _timeline_key(self, first, after)))

    @staticmethod
    async def _timeline_loaded(info: Ctx, key: TimelineKey) -> Any:
        return ReportEventConnection.of_views(await info.context.loaders.timeline.load(key))


@strawberry.type(
    description=(
        "A report like another and why: a score and its parts, each from 0 to 1. The score is "
        "0.6 text + 0.2 place + 0.1 category + 0.1 time; a part that cannot be known counts 0."
    )
)
class SimilarReport:
    report: Report = described("The similar report, as the viewer may see it.")
    score: float = described("The weighted sum of the parts; higher is more alike.")
    text: float = described(
        "How alike the words are: half the titles' trigram similarity, half the share of "
        "words the two texts have in common."
    )
    words: list[str] = described("The words both texts have, as stems (jalan for jalanan).")
    place: float | None = described(
        "1 at the same spot, 0.5 at 1 km; null unless the viewer may see both places."
    )
    distance_km: float | None = described("Kilometres apart; null when `place` is null.")
    same_category: bool | None = described("Null unless both have a category.")
    time: float = described("1 when submitted the same moment, 0.5 thirty days apart.")
    days_apart: float = described("Days between the two submissions.")

    @classmethod
    def of(cls, found: reports.Similar) -> SimilarReport:
        alike = found.likeness
        return cls(
            report=Report.of(found.report),
            score=alike.score,
            text=alike.text,
            words=list(alike.words),
            place=alike.place,
            distance_km=alike.distance_km,
            same_category=None if alike.category is None else alike.category == 1.0,
            time=alike.time,
            days_apart=alike.days_apart,
        )


ReportConnection = connection(
    Report, a_node="A report", noun="report", nouns="reports", page_of="reports",
    order="newest first",
)  # fmt: skip


@strawberry.input(description="Filters of `reports`; all optional, combined with AND.")
class ReportFilter:
    status: list[ReportStatus] | None = strawberry.field(
        default=None, description="Any of these statuses."
    )
    region_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this region's reports."
    )
    category_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this category's reports."
    )
    kind: ReportKind | None = strawberry.field(default=None, description="Only this kind.")
    mine: bool | None = strawberry.field(
        default=None, description="Only the signed-in user's own reports."
    )
    overdue: bool | None = strawberry.field(
        default=None, description="Only reports past (true) or within (false) their deadline."
    )
    updated_after: datetime | None = strawberry.field(
        default=None,
        description="Only reports changed after this instant (catch-up after reconnect).",
    )
    created_from: datetime | None = strawberry.field(
        default=None, description="Only reports submitted at or after this instant."
    )
    created_before: datetime | None = strawberry.field(
        default=None,
        description="Only reports submitted before this instant (a search's older matches).",
    )
    search: str | None = strawberry.field(
        default=None,
        description=(
            "A tracking code (that report alone), or words of the title and body: reports "
            "with every word (affixes aside: jalan finds jalanan) or, when those are few, "
            f"close in spelling, best match first, then newest. Only the newest {SEARCH_WINDOW} "
            "matches are ranked: createdBefore (or other filters) reaches older ones. Its cursors "
            "are only for the same search."
        ),
    )


@strawberry.type
class ReportQuery:
    @strawberry.field(description="A report by its tracking code, if the viewer may read it.")
    @reads_ahead("assignments", lambda c, _: c.loaders.read_with_report(assignments=True))
    @reads_ahead("assignments.followUps", lambda c, _: c.loaders.read_with_report(follow_ups=True))
    @reads_ahead("timeline", lambda c, selected: c.loaders.read_with_report(timelines=selected))
    async def report(
        self,
        info: Ctx,
        tracking_code: Annotated[str, arg("e.g. LPR-7KQ2-9XMD; case and dashes optional.")],
    ) -> Report | None:
        loaders = info.context.loaders
        ahead = loaders.take_report_ahead()
        page = await report_page.report_page(info.context.actor, tracking_code, ahead)
        if page is None:
            return None
        await loaders.hold_report_page(page)
        return Report.of(page.report)

    @strawberry.field(
        description=(
            "Public reports of the region like what a citizen is about to send (of the last "
            "year), best first: to support one rather than send it again."
        )
    )
    async def similar_public_reports(
        self,
        info: Ctx,
        title: Annotated[str, arg("The title being written.")],
        region_id: Annotated[strawberry.ID, arg("The regency or city it happened in.")],
        body: Annotated[str | None, arg("What is written so far.")] = None,
        latitude: Annotated[float | None, arg("WGS84 latitude of the place.")] = None,
        longitude: Annotated[float | None, arg("WGS84 longitude of the place.")] = None,
        first: Annotated[int | None, arg("How many (at most 100; 5 when omitted).")] = None,
    ) -> list[Report]:
        ctx = info.context
        try:
            found = await reports.similar_public_reports(
                ctx.actor,
                ctx.now,
                reports.SimilarQuery(
                    title=title,
                    body=body,
                    region_id=expect_id(region_id, "Region", "regionId"),
                    latitude=latitude,
                    longitude=longitude,
                    first=first,
                ),
            )
        except DomainError as e:
            raise as_graphql_error(e) from None
        await ctx.loaders.see_reports([s.report for s in found])
        return [Report.of(s.report) for s in found]

    @strawberry.field(
        description="Reports the viewer may read, newest first (a search: best match first)."
    )
    async def reports(
        self,
        info: Ctx,
        filter: Annotated[ReportFilter | None, arg("All optional, combined.")] = None,
        first: First = None,
        after: After = None,
    ) -> ReportConnection:  # type: ignore[valid-type]
        ctx = info.context
        f = filter or ReportFilter()
        try:
            page = await reports.list_reports(
                ctx.actor,
                ctx.now,
                reports.ReportQuery(
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
                    created_from=f.created_from,
                    created_before=f.created_before,
                    search=f.search,
                ),
                page_request(info, first, after),
            )
        except DomainError as e:
            raise as_graphql_error(e) from None
        await ctx.loaders.see_reports(page.items)
        return ReportConnection.of(page, Report.of)


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
    attachments: Files = strawberry.field(
        default=None,
        description="Photos and documents, sent as the GraphQL multipart request: public once "
        "the desk verifies a public report; their metadata (GPS, device) is removed first.",
    )


@strawberry.type(description="The changed report, or why nothing changed.")
class ReportPayload:
    report: Report | None = described(
        "The report after the change; null when refused (or no longer readable)."
    )
    errors: list[UserError] = described("Why nothing changed; empty on success.")


async def run_use_case(
    info: Ctx, use_case: Callable[[], Awaitable[Outcome]]
) -> Outcome | Replay | UserError:
    """Run a use case (once per idempotency key: a Replay of the first outcome after); after
    its commit, hand its outbox rows to the dispatcher."""
    try:
        outcome = await idempotent(info, use_case, _outcome_ids)
    except DomainError as e:
        return refused(info, e)
    if isinstance(outcome, Outcome):
        await info.context.dispatcher.dispatch(outcome.outbox)
        await info.context.dispatcher.thumbnails(outcome.images)
    return outcome


def _outcome_ids(outcome: Outcome) -> dict[str, int]:
    ids = {"report": outcome.report.id}
    if outcome.assignment is not None:
        ids["assignment"] = outcome.assignment.id
    return ids


async def _report_payload(info: Ctx, use_case: Callable[[], Awaitable[Outcome]]) -> ReportPayload:
    result = await run_use_case(info, use_case)
    if isinstance(result, UserError):
        return ReportPayload(report=None, errors=[result])
    actor = info.context.actor
    if isinstance(result, Replay):  # the report the first request changed, as it is now
        report_id = result.outcome["report"]
        view = (await reports.reports_by_ids(actor, [report_id])).get(report_id)
    else:
        # Read afresh, not through the request's loader: the change may alter what the viewer
        # sees (unless the use case knows the committed report whole: a new one).
        view = await reports.committed_view(actor, result.report, result.facts)
    if view is None:
        return ReportPayload(report=None, errors=[])
    await info.context.loaders.see_reports([view])
    return ReportPayload(report=Report.of(view), errors=[])


def _report_pk(report_id: str) -> int:
    return expect_id(report_id, "Report", "reportId")


@strawberry.type
class ReportMutation:
    @strawberry.mutation(description="Send a report; the reporter must be signed in.")
    async def report_submit(
        self, info: Ctx, input: Annotated[ReportSubmitInput, arg("The report.")]
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
                attachments=await uploads_of(
                    input.attachments, "attachments", ctx.settings.upload_max_file_bytes
                ),
            )
            return await reports.submit(ctx.actor, ctx.now, data, ctx.limits)

        return await _report_payload(info, use_case)

    @strawberry.mutation(description="The reporter adds information (a report on hold resumes).")
    async def report_add_info(
        self,
        info: Ctx,
        report_id: ReportId,
        message: Annotated[str, arg("The information the desk asked for.")],
        attachments: Files = None,
    ) -> ReportPayload:
        ctx = info.context

        async def use_case() -> Outcome:
            files = await uploads_of(attachments, "attachments", ctx.settings.upload_max_file_bytes)
            return await reports.add_info(ctx.actor, ctx.now, _report_pk(report_id), message, files)

        return await _report_payload(info, use_case)

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
        rating: Annotated[int, arg("1 (poor) to 5 (excellent).")],
        comment: Annotated[str | None, arg("A word on how it was handled.")] = None,
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
        agency_ids: Annotated[list[strawberry.ID], arg("The agencies that must act.")],
        category_id: Annotated[strawberry.ID | None, arg("Set or correct its category.")] = None,
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
            strawberry.ID | None, arg("The report this one duplicates.")
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

    @strawberry.mutation(
        description="Coordinator: merge a duplicate into the original report of the same "
        "region; the duplicate is archived, its reporter and supporters follow the original."
    )
    async def report_merge(
        self,
        info: Ctx,
        report_id: Annotated[strawberry.ID, arg("The duplicate, archived by the merge.")],
        into_report_id: Annotated[strawberry.ID, arg("The original it duplicates.")],
        note: Annotated[
            str | None,
            arg("Why, for the duplicate's reporter and the original's desks to read."),
        ] = None,
    ) -> ReportPayload:
        ctx = info.context
        return await _report_payload(
            info,
            lambda: merges.merge(
                ctx.actor,
                ctx.now,
                _report_pk(report_id),
                expect_id(into_report_id, "Report", "intoReportId"),
                note,
            ),
        )

    @strawberry.mutation(
        description="Coordinator: undo a merge within the hours the service allows "
        "(LAPOR_MERGE_UNDO_HOURS); the report is back as it was."
    )
    async def report_unmerge(
        self,
        info: Ctx,
        report_id: Annotated[strawberry.ID, arg("The report that was merged into another.")],
    ) -> ReportPayload:
        ctx = info.context
        return await _report_payload(
            info, lambda: merges.unmerge(ctx.actor, ctx.now, _report_pk(report_id))
        )

    @strawberry.mutation(description="Coordinator: forward to one more agency.")
    async def report_assign(
        self, info: Ctx, report_id: ReportId, agency_id: AgencyId, note: Note = None
    ) -> LazyAssignmentPayload:
        ctx = info.context
        return await assignment_schema.assignment_payload(
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
            lambda: reports.hand_over(ctx.actor, ctx.now, _report_pk(report_id), reason),
        )

    @strawberry.mutation(description="Ombudsman: close a report handed over to it.")
    async def report_close(
        self,
        info: Ctx,
        report_id: ReportId,
        note: Annotated[str, arg("The Ombudsman's conclusion.")],
    ) -> ReportPayload:
        ctx = info.context
        return await _report_payload(
            info,
            lambda: reports.close_escalated(ctx.actor, ctx.now, _report_pk(report_id), note),
        )


def report_of(view: ReportView | None) -> Report:
    """The report of an object the viewer was given (it cannot be unreadable)."""
    if view is None:
        raise not_found("report")
    return Report.of(view)


__all__: list[Any] = []
