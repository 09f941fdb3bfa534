"""Transparency in GraphQL (issue 16): how each agency and region performs, for everyone; and
the coordinator's view of their agencies' overdue work now."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from domain.errors import DomainError
from domain.services import transparency
from domain.transparency import Figure, Figures
from schema.common import Ctx, arg, described
from schema.errors import as_graphql_error
from schema.ids import expect_id
from schema.reference import Agency, Region, reference_of

PERIOD = 'A month, "2026-03", or a quarter, "2026-Q1" (months local to each region).'


@strawberry.type(
    description="One indicator: its value, over how many reports, and whether it may be ranked."
)
class Indicator:
    value: float | None = described(
        "The value; null when withheld (a small cell) or when there is nothing to measure."
    )
    sample: int = described("How many reports (or ratings, or returns) it is computed over.")
    rankable: bool = described(
        "Computed over at least the minimum sample (LAPOR_TRANSPARENCY_MIN_SAMPLE): fair to rank."
    )
    withheld: bool = described(
        "Over fewer reports than a small cell (LAPOR_TRANSPARENCY_SMALL_CELL): not shown, so "
        "that no one can be recognised."
    )

    @classmethod
    def of(cls, f: Figure) -> Indicator:
        return cls(value=f.value, sample=f.sample, rankable=f.rankable, withheld=f.withheld)


@strawberry.type(
    description="The indicators of an agency (its assignments, from each assignment) or a "
    "region (its reports, from submission) over a period. Days are working days of the "
    "report's region; counts are null when the scope received fewer reports than a small cell."
)
class PerformanceFigures:
    received: int = described("Reports received (an agency: reports forwarded to it).")
    withheld: bool = described("Fewer reports than a small cell: only `received` is said.")
    verified: int | None = described(
        "A region: reports verified and forwarded; an agency: reports it accepted."
    )
    answered: int | None = described("Reports given a final answer.")
    answered_on_time: Indicator = described(
        "Share (0 to 1) of answered reports answered within the deadline in force."
    )
    first_response_median_days: Indicator = described("Median working days to a first answer.")
    first_response_p90_days: Indicator = described("90th percentile of working days to it.")
    resolution_median_days: Indicator = described("Median working days to the final answer.")
    resolution_p90_days: Indicator = described("90th percentile of working days to it.")
    returned: int | None = described("Returns as not the agency's remit.")
    held_median_days: Indicator = described(
        "Median working days a returned report was held before it was returned."
    )
    handed_over: int | None = described("Reports handed over to the Ombudsman.")
    disputed: int | None = described("Reports whose answer the reporter disputed.")
    reopenings: int | None = described("Disputes in all (a report may be disputed twice).")
    rating_average: Indicator = described("The reporters' average rating, 1 to 5.")

    @classmethod
    def of(cls, f: Figures) -> PerformanceFigures:
        return cls(
            received=f.received,
            withheld=f.withheld,
            verified=f.verified,
            answered=f.answered,
            answered_on_time=Indicator.of(f.answered_on_time),
            first_response_median_days=Indicator.of(f.first_response_median),
            first_response_p90_days=Indicator.of(f.first_response_p90),
            resolution_median_days=Indicator.of(f.resolution_median),
            resolution_p90_days=Indicator.of(f.resolution_p90),
            returned=f.returned,
            held_median_days=Indicator.of(f.held_median),
            handed_over=f.handed_over,
            disputed=f.disputed,
            reopenings=f.reopenings,
            rating_average=Indicator.of(f.rating_average),
        )


@strawberry.type(description="How one agency performed over a period.")
class AgencyPerformance:
    period: str = described("The period, as asked: 2026-03 or 2026-Q1.")
    figures: PerformanceFigures = described("Its indicators.")
    agency_id: strawberry.Private[int]

    @strawberry.field(description="The agency.")
    def agency(self, info: Ctx) -> Agency | None:
        return reference_of(info, Agency, self.agency_id)


@strawberry.type(description="How one regency or city performed over a period.")
class RegionPerformance:
    figures: PerformanceFigures = described("Its indicators.")
    region_id: strawberry.Private[int]

    @strawberry.field(description="The regency or city.")
    def region(self, info: Ctx) -> Region | None:
        return reference_of(info, Region, self.region_id)


@strawberry.type(description="The nation's indicators and each regency's and city's.")
class RegionPerformanceTable:
    period: str = described("The period, as asked: 2026-03 or 2026-Q1.")
    national: PerformanceFigures = described("Every region together.")
    regions: list[RegionPerformance] = described(
        "Each regency and city, the rankable best first (by the share answered on time)."
    )


@strawberry.type(description="An agency's open work on a region's reports now.")
class AgencyBacklog:
    open: int = described("Assignments it has not answered nor returned.")
    overdue: int = described("Of those, the ones past their current deadline.")
    earliest_due_at: datetime | None = described("The earliest deadline among them.")
    agency_id: strawberry.Private[int]

    @strawberry.field(description="The agency.")
    def agency(self, info: Ctx) -> Agency | None:
        return reference_of(info, Agency, self.agency_id)


@strawberry.type
class TransparencyQuery:
    @strawberry.field(
        description="How each agency performed over a period, the rankable best first; public. "
        "Confidential reports are counted, never listed."
    )
    async def agency_performance(
        self,
        period: Annotated[str, arg(PERIOD)],
        region_id: Annotated[
            strawberry.ID | None, arg("A regency or city: its own agencies; omitted: all.")
        ] = None,
    ) -> list[AgencyPerformance]:
        try:
            rid = expect_id(region_id, "Region", "regionId") if region_id else None
            chosen = transparency.period_of(period)
            found = await transparency.agency_performance(chosen, rid)
        except DomainError as e:
            raise as_graphql_error(e) from None
        return [
            AgencyPerformance(
                period=chosen.label, figures=PerformanceFigures.of(s.figures), agency_id=s.scope_id
            )
            for s in found
            if s.scope_id is not None
        ]

    @strawberry.field(
        description="How the nation and each regency and city performed over a period; public."
    )
    async def region_performance(
        self, period: Annotated[str, arg(PERIOD)]
    ) -> RegionPerformanceTable:
        try:
            table = await transparency.region_performance(transparency.period_of(period))
        except DomainError as e:
            raise as_graphql_error(e) from None
        return RegionPerformanceTable(
            period=table.period.label,
            national=PerformanceFigures.of(table.national),
            regions=[
                RegionPerformance(figures=PerformanceFigures.of(s.figures), region_id=s.scope_id)
                for s in table.regions
                if s.scope_id is not None
            ],
        )

    @strawberry.field(
        description="A region's agencies ranked by their overdue work now, most first: for the "
        "region's coordinators and the superadmin."
    )
    async def agency_backlog(
        self, info: Ctx, region_id: Annotated[strawberry.ID, arg("The regency or city.")]
    ) -> list[AgencyBacklog]:
        ctx = info.context
        try:
            rid = expect_id(region_id, "Region", "regionId")
            found = await transparency.overdue_ranking(ctx.actor, ctx.now, rid)
        except DomainError as e:
            raise as_graphql_error(e) from None
        return [
            AgencyBacklog(
                open=b.open,
                overdue=b.overdue,
                earliest_due_at=b.earliest_due_at,
                agency_id=b.agency_id,
            )
            for b in found
        ]
