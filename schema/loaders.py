"""DataLoaders, fresh for each request (and each subscription event): batch every lookup."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from strawberry.dataloader import DataLoader

from domain.actor import Actor
from domain.services import reading
from domain.views import (
    AgencyRecord,
    AssignmentView,
    CategoryRecord,
    EventView,
    FollowUpView,
    RegionRecord,
    ReportView,
    UserView,
)

K = TypeVar("K")
V = TypeVar("V")


def _by_id(fetch: Callable[[Sequence[int]], Awaitable[dict[int, V]]]) -> DataLoader[int, V | None]:
    async def load(keys: list[int]) -> list[V | None]:
        found = await fetch(keys)
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)


class Loaders:
    """One set per request; keyed loads are batched into one query per kind."""

    def __init__(self, actor: Actor, max_page_size: int) -> None:
        self.region: DataLoader[int, RegionRecord | None] = _by_id(reading.regions_by_ids)
        self.agency: DataLoader[int, AgencyRecord | None] = _by_id(reading.agencies_by_ids)
        self.category: DataLoader[int, CategoryRecord | None] = _by_id(reading.categories_by_ids)
        self.user: DataLoader[int, UserView | None] = _by_id(
            lambda ids: reading.users_by_ids(actor, ids)
        )
        self.report: DataLoader[int, ReportView | None] = _by_id(
            lambda ids: reading.reports_by_ids(actor, ids)
        )
        self.assignment: DataLoader[int, AssignmentView | None] = _by_id(
            lambda ids: reading.assignments_by_ids(actor, ids)
        )
        self.assignments_of_report: DataLoader[tuple[int, bool], list[AssignmentView]] = DataLoader(
            load_fn=reading.assignments_of_reports
        )
        self.follow_ups: DataLoader[int, list[FollowUpView]] = DataLoader(
            load_fn=reading.follow_ups_of_assignments
        )
        self.rating: DataLoader[int, int | None] = DataLoader(load_fn=reading.ratings_of_reports)
        self.suggested_agencies: DataLoader[tuple[int, int], list[AgencyRecord]] = DataLoader(
            load_fn=reading.suggested_agencies
        )
        self.timeline: DataLoader[reading.TimelineKey, reading.Page[EventView]] = DataLoader(
            load_fn=lambda keys: reading.timelines(actor, keys, max_size=max_page_size)
        )
