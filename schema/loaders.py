"""DataLoaders, fresh for each request (and each subscription event): batch every lookup."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from domain.actor import Actor
from domain.services import (
    accounts,
    assignments,
    attachments,
    reference,
    reports,
    timeline,
)
from domain.services.attachments import AttachmentView
from domain.services.reading import Page, SharedRows
from domain.services.report_page import NOTHING_AHEAD, Ahead, ReportPage
from domain.services.timeline import HeldLines, TimelineKey
from domain.services.views import (
    AgencyRecord,
    AssignmentView,
    CategoryRecord,
    EventView,
    FollowUpView,
    RegionRecord,
    ReportView,
    UserView,
)

# Set while a compiled plan runs (schema/compiled/): it fetches the people its fields show,
# a level at a time, so the loaders need not fetch everyone their rows name.
people_on_demand: ContextVar[bool] = ContextVar("lapor_people_on_demand", default=False)

K = TypeVar("K")
V = TypeVar("V")


def _by_id(fetch: Callable[[list[int]], Awaitable[dict[int, V]]]) -> DataLoader[int, V | None]:
    async def load(keys: list[int]) -> list[V | None]:
        found = await fetch(keys)
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)


def _once(
    shared: SharedRows | None, name: str, fetch: Callable[[list[K]], Awaitable[V]]
) -> Callable[[list[K]], Awaitable[V]]:
    """A batch function that gives the same to every viewer, read once per `shared` rows."""
    if shared is None:
        return fetch

    async def read(keys: list[K]) -> V:
        return await shared.read((name, *keys), lambda: fetch(keys))

    return read


class Loaders:
    """One set per request; keyed loads are batched into one query per kind.

    People (reporters, authors, actors) are fetched by each batch that names them, not by a
    loader of their own nor from what another batch happened to fetch first: either way the
    number of statements would depend on which batch the database answered first. This way a
    request sends the same statements whatever the page size and however the database answers,
    at the price of fetching a person twice when two batches name them. Under a compiled plan
    (`people_on_demand`) the plan fetches the people it shows instead, once per level.

    The subscribers of one live event each get their own Loaders, and `shared` rows: what is
    the same for every viewer is read once for all of them; views are still made per viewer."""

    def __init__(self, actor: Actor, max_page_size: int, shared: SharedRows | None = None) -> None:
        self._actor = actor
        self._shared = shared
        self._users: dict[int, UserView] = {}
        # Objects made for the response that every viewer sees alike (schema/reference.py).
        self.made: dict[tuple[type, int], object] = {}
        self._held_reports: dict[int, ReportView] = {}  # read with another batch
        self._max_page_size = max_page_size
        self._follow_ups_ahead = False  # read_follow_ups_ahead
        self._report_ahead = NOTHING_AHEAD  # read_with_report
        # Read with the report of a detail page (hold_report_page), or with a batch of
        # assignments (their follow-ups): kept in dicts, which the loaders' batches consult,
        # not primed into the loaders, which would make each loader and a future per key.
        self._held_lines: dict[int, HeldLines] = {}
        self._held_timelines: dict[TimelineKey, Page[EventView]] = {}
        self._held_assignments: dict[tuple[int, bool], list[AssignmentView]] = {}
        self._held_follow_ups: dict[int, list[FollowUpView]] = {}

    def release(self) -> None:
        """Let go of everything loaded, once the answer is made. Each loader refers back to this
        object: left to the cyclic collector, a page's views piled up until a collection walked
        them all (30 ms every 150 inbox pages)."""
        made = self.__dict__
        for name in made.keys() & _LOADER_NAMES:
            del made[name]
        self.made.clear()
        self._users.clear()
        self._held_reports.clear()
        self._held_lines.clear()
        self._held_timelines.clear()
        self._held_assignments.clear()
        self._held_follow_ups.clear()

    # Each loader is made when first used: a subscription event makes a set for every
    # subscriber and uses one or two of them.

    @cached_property
    def region(self) -> DataLoader[int, RegionRecord | None]:
        return _by_id(_once(self._shared, "regions", reference.regions))

    @cached_property
    def agency(self) -> DataLoader[int, AgencyRecord | None]:
        return _by_id(_once(self._shared, "agencies", reference.agencies))

    @cached_property
    def category(self) -> DataLoader[int, CategoryRecord | None]:
        return _by_id(_once(self._shared, "categories", reference.categories))

    @cached_property
    def report(self) -> DataLoader[int, ReportView | None]:
        return _by_id(self._reports)

    @cached_property
    def report_record(self) -> DataLoader[int, ReportView | None]:
        """What a desk keeps of reports it let go (`reports.report_records`): no people."""
        return _by_id(lambda ids: reports.report_records(self._actor, ids, self._shared))

    @cached_property
    def report_attachments(self) -> DataLoader[int, list[AttachmentView]]:
        return DataLoader(load_fn=lambda ids: attachments.of_reports(self._actor, ids))

    @cached_property
    def follow_up_attachments(self) -> DataLoader[int, list[AttachmentView]]:
        return DataLoader(load_fn=lambda ids: attachments.of_follow_ups(self._actor, ids))

    @cached_property
    def assignment(self) -> DataLoader[int, AssignmentView | None]:
        return _by_id(lambda ids: assignments.assignments_by_ids(self._actor, ids, self._shared))

    @cached_property
    def assignments_of_report(self) -> DataLoader[tuple[int, bool], list[AssignmentView]]:
        return DataLoader(load_fn=self._assignments_of_reports)

    def read_follow_ups_ahead(self) -> None:
        """Have the next batch of `assignments_of_report` read its assignments' follow-ups in
        the same statement, for `follow_ups` to answer them without one of its own (a compiled
        plan asks when its selection has the follow-ups, schema/compiled/hints.py)."""
        self._follow_ups_ahead = True

    def read_with_report(
        self,
        *,
        assignments: bool = False,
        follow_ups: bool = False,
        timelines: tuple[dict[str, Any] | None, ...] = (),
    ) -> None:
        """Have the next report read by its tracking code (`take_report_ahead`) read what its
        page shows next in the same statement: its assignments, their follow-ups, and what its
        `timelines` selected (by their arguments; None: invalid ones) show of a first page. A
        compiled plan asks when its selection has them (schema/compiled/hints.py)."""
        self._report_ahead = self._report_ahead.asking(
            self._max_page_size,
            assignments=assignments,
            follow_ups=follow_ups,
            timeline=bool(timelines),
            first_pages=[a.get("first") for a in timelines if a and a.get("after") is None],
        )

    def take_report_ahead(self) -> Ahead:
        """What `read_with_report` asked for, asked for no more."""
        ahead, self._report_ahead = self._report_ahead, NOTHING_AHEAD
        return ahead

    async def hold_report_page(self, page: ReportPage) -> None:
        """Hold what was read with a report: its assignments, their follow-ups and the first
        timeline pages its selection asks for answer at once (`held_*`) and answer their loaders'
        batches (`_held_or_read`); its public lines answer other pages they can (`timelines`)."""
        report = page.report
        if page.assignments is not None:
            self._held_assignments[report.id, report.staff_view] = page.assignments
        if page.follow_ups is not None:
            self._held_follow_ups.update(page.follow_ups)
            await self._named(f.author_id for group in page.follow_ups.values() for f in group)
        if page.lines is not None:
            self._held_lines[report.id] = page.lines
            for first in page.ahead.first_pages:  # the pages the selection asks for, at once
                await self._hold_timeline(timeline.TimelineKey(report, first, None), page.lines)
        await self.see_reports([report])

    async def _hold_timeline(self, key: TimelineKey, lines: HeldLines) -> None:
        found = timeline.held_page(key, lines, self._max_page_size)
        if found is not None:
            self._held_timelines[key] = found
            await self._named(e.actor_id for e in found.items)

    @cached_property
    def follow_ups(self) -> DataLoader[int, list[FollowUpView]]:
        return DataLoader(load_fn=self._follow_ups)

    @cached_property
    def rating(self) -> DataLoader[int, int | None]:
        return DataLoader(load_fn=_once(self._shared, "ratings", reports.ratings_of_reports))

    @cached_property
    def suggested_agencies(self) -> DataLoader[tuple[int, int], list[AgencyRecord]]:
        fetch = _once(self._shared, "suggested_agencies", reference.suggested_agencies)
        return DataLoader(load_fn=fetch)

    @cached_property
    def acted_as(self) -> DataLoader[EventView, str | None]:
        return DataLoader(load_fn=_once(self._shared, "acted_as", timeline.acted_as))

    @cached_property
    def timeline(self) -> DataLoader[TimelineKey, Page[EventView]]:
        return DataLoader(load_fn=self._timelines)

    def known_people(self) -> dict[int, UserView]:
        """The people fetched so far (a copy)."""
        return dict(self._users)

    def know_people(self, people: dict[int, UserView]) -> None:
        """Hold these people as fetched (another set of loaders' `known_people`)."""
        self._users.update(people)

    def user(self, user_id: int | None) -> UserView | None:
        """A person fetched with the object that named them (see the class docstring)."""
        return self._users.get(user_id) if user_id is not None else None

    async def see_users(self, ids: Iterable[int | None]) -> None:
        """Fetch the people a batch names, in one query (see the class docstring)."""
        named = sorted({i for i in ids if i is not None})
        if named:
            self._users.update(await accounts.users_by_ids(self._actor, named, self._shared))

    async def see_reports(self, views: Iterable[ReportView]) -> None:
        await self._named(v.reporter_id for v in views)

    def held_report(self, report_id: int) -> ReportView | None:
        """The report `report_id` when this request holds it already (`hold_reports`, or a
        batch of the report loader that ended), without waiting; None when it does not."""
        # `_held` written out: an inbox page of fifty asks fifty times.
        held: ReportView | None = self._held_reports.get(report_id)
        return held if held is not None else self._answered("report", report_id)

    def held_timeline(self, key: TimelineKey) -> Page[EventView] | None:
        """A timeline page this request holds already (read with its report, or a batch that
        ended), without waiting; None when it does not."""
        held: Page[EventView] | None = self._held(self._held_timelines, "timeline", key)
        return held

    def held_assignments(self, key: tuple[int, bool]) -> list[AssignmentView] | None:
        """A report's assignments (`assignments_of_report`'s key) when this request holds them
        already, without waiting; None when it does not."""
        held: list[AssignmentView] | None = self._held(
            self._held_assignments, "assignments_of_report", key
        )
        return held

    def held_follow_ups(self, assignment_id: int) -> list[FollowUpView] | None:
        """An assignment's follow-ups when this request holds them already, without waiting;
        None when it does not."""
        held: list[FollowUpView] | None = self._held(
            self._held_follow_ups, "follow_ups", assignment_id
        )
        return held

    def _held(self, kept: dict[Any, Any], loader: str, key: Any) -> Any:
        """What the request keeps for `key` in `kept` (read with another batch), else what the
        loader named `loader` answered already (`_answered`); None when neither has it."""
        found = kept.get(key)
        return found if found is not None else self._answered(loader, key)

    def _answered(self, loader: str, key: Any) -> Any:
        """What the loader named `loader` answered for `key` already (primed, or a batch that
        ended); None when it has not, or failed, or the loader was never made."""
        made = self.__dict__.get(loader)
        if made is None:
            return None
        future = made.cache_map.get(key)
        if future is None or not future.done() or future.cancelled() or future.exception():
            return None
        return future.result()

    async def hold_reports(self, views: dict[int, ReportView]) -> None:
        """Hold reports read with another batch (a desk's inbox), with the people they name:
        the report loader answers them without a statement. Kept in a dict, not primed into
        the loader, which would make a future for each (fifty on an inbox page)."""
        await self.see_reports(views.values())
        self._held_reports.update(views)

    async def _named(self, ids: Iterable[int | None]) -> None:
        """The people a batch of rows names, unless a compiled plan fetches those it shows."""
        if not people_on_demand.get():
            await self.see_users(ids)

    async def _reports(self, ids: Sequence[int]) -> dict[int, ReportView]:
        held = self._held_reports
        found = {i: held[i] for i in ids if i in held}
        missing = [i for i in ids if i not in held]
        if missing:
            read = await reports.reports_by_ids(self._actor, missing, self._shared)
            await self.see_reports(read.values())
            found.update(read)
        return found

    async def _assignments_of_reports(
        self, keys: list[tuple[int, bool]]
    ) -> list[list[AssignmentView]]:
        return await _held_or_read(self._held_assignments, keys, self._read_assignments)

    async def _read_assignments(self, keys: list[tuple[int, bool]]) -> list[list[AssignmentView]]:
        if not self._follow_ups_ahead:
            fetch = assignments.assignments_of_reports
            return await _once(self._shared, "assignments_of_reports", fetch)(keys)
        self._follow_ups_ahead = False
        fetch_with = assignments.assignments_with_follow_ups_of_reports
        found = await _once(self._shared, "assignments_with_follow_ups", fetch_with)(keys)
        self._held_follow_ups.update(found.follow_ups)
        await self._named(f.author_id for group in found.follow_ups.values() for f in group)
        return found.assignments

    async def _follow_ups(self, ids: list[int]) -> list[list[FollowUpView]]:
        return await _held_or_read(self._held_follow_ups, ids, self._read_follow_ups)

    async def _read_follow_ups(self, ids: list[int]) -> list[list[FollowUpView]]:
        found = await _once(self._shared, "follow_ups", assignments.follow_ups_of_assignments)(ids)
        await self._named(f.author_id for group in found for f in group)
        return found

    async def _timelines(self, keys: list[TimelineKey]) -> list[Page[EventView]]:
        return await _held_or_read(self._held_timelines, keys, self._read_timelines)

    async def _read_timelines(self, keys: list[TimelineKey]) -> list[Page[EventView]]:
        pages = await timeline.timelines(
            self._actor, keys, max_size=self._max_page_size, held=self._held_lines
        )
        await self._named(e.actor_id for page in pages for e in page.items)
        return pages


# The loaders' names: each is made into the object's dict when first used (cached_property).
_LOADER_NAMES = frozenset(
    name for name, value in vars(Loaders).items() if isinstance(value, cached_property)
)


async def _held_or_read(
    held: dict[K, V], keys: list[K], read: Callable[[list[K]], Awaitable[list[V]]]
) -> list[V]:
    """A loader's batch: what the request holds of `keys` already, the rest read at once."""
    missing = [key for key in keys if key not in held]
    read_now = dict(zip(missing, await read(missing), strict=True)) if missing else {}
    return [held[key] if key in held else read_now[key] for key in keys]
