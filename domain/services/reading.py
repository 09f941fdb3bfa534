"""What the reading use cases share: keyset pages, and rows read once for several viewers.

The reading functions themselves live with their subject (reports, assignments, timeline,
notifications, deliveries, accounts, reference), each filtered by the access policy."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from domain.errors import DomainError, ErrorCode
from models.connection import one_connection
from models.rows import Shape, leaving_out, rows_of_with

# A query's reads over one pooled connection (models/connection.py): what the executor runs a
# query in, so that resolvers and loaders need not know.
reads_on_one_connection = one_connection
# A compiled query's reads without the shown-only columns it shows none of (models/rows.py).
reads_leaving_out = leaving_out

T = TypeVar("T")
U = TypeVar("U")
M = TypeVar("M", bound=Model)


@dataclass
class Page(Generic[T]):
    """One keyset page: items, whether more follow, and whether any came before."""

    items: list[T]
    has_next: bool
    has_previous: bool
    # The last row scanned, when it may differ from the last item (rows the policy dropped):
    # the next page starts after it, so a page is never stuck behind hidden rows.
    scanned_to: int | None = None
    # A ranked page (a search): each scanned row's rank by its id; a position in it is the
    # pair (rank, id), highest first.
    ranks: dict[int, int] | None = None

    def with_items(self, items: list[U]) -> Page[U]:
        """The same page (position, neighbours) with other items: the rows made into views."""
        return Page(items, self.has_next, self.has_previous, self.scanned_to, self.ranks)

    def rank_of(self, key: int) -> int | None:
        """The rank of the row with this id on a ranked page; None on a page by id alone."""
        return None if self.ranks is None else self.ranks[key]


@dataclass(frozen=True)
class PageRequest:
    """`first` items after the row `after_id` (a cursor's key), within the service's sizes."""

    first: int | None
    after_id: int | None
    default_size: int
    max_size: int
    # The rank of the row `after_id` when the cursor came from a ranked page.
    after_rank: int | None = None

    @property
    def size(self) -> int:
        return page_size(self.first, self.default_size, self.max_size)


async def newest_first(query: QuerySet[M], request: PageRequest) -> Page[M]:
    """The keyset page of a query, newest (highest id) first: inserts never shift a page."""
    return _page(list(await _newest(query, request)), request)


async def newest_rows_first_with(
    shape: Shape,
    query: QuerySet[M],
    request: PageRequest,
    more: str,
    join: str = "",
    alias: str = "p",
) -> Page[tuple[Any, tuple[Any, ...]]]:
    """`newest_first` as rows of `shape` (models/rows.py) with more columns per row, in the
    same statement (`rows_of_with`), for the pages every client reads: items are (row, the
    rest)."""
    found = await rows_of_with(shape, _newest(query, request), more, join, alias)
    return _page_of(found, request, [row.id for row, _ in found])


def _newest(query: QuerySet[M], request: PageRequest) -> QuerySet[M]:
    refuse_ranked(request)
    if request.after_id is not None:
        query = query.filter(id__lt=request.after_id)
    return query.order_by("-id").limit(request.size + 1)


def refuse_ranked(request: PageRequest) -> None:
    """VALIDATION on `after` when a list by id alone is given a ranked page's cursor."""
    if request.after_rank is not None:
        raise DomainError(ErrorCode.VALIDATION, "a cursor of another list", ["after"])


def page_of(
    items: list[Any], request: PageRequest, ids: list[int], ranks: dict[int, int] | None = None
) -> Page[Any]:
    """A page of `items` read one beyond the size, in their order, `ids` their keys (and
    `ranks` their ranks on a ranked page)."""
    page = _page_of(items, request, ids)
    page.ranks = ranks
    return page


def _page(rows: list[Any], request: PageRequest) -> Page[Any]:
    return _page_of(rows, request, [row.id for row in rows])


def _page_of(items: list[Any], request: PageRequest, ids: list[int]) -> Page[Any]:
    """A page of `items` read one beyond the size (to know whether more follow); `ids` are
    the items' keys."""
    size = request.size
    more = len(items) > size
    return Page(items[:size], more, request.after_id is not None, ids[size - 1] if more else None)


class SharedRows:
    """Rows read once for several viewers at one moment: the subscribers of one live event in
    one process. It holds rows and policy facts, never views: each viewer's view is still made
    for that viewer by the functions below.

    It also orders the viewers (`take_turn`, `served`): the first goes at once, the others wait
    until it has been served. Its reads (and its answer, schema/compiled/executor.py) are then
    done, and each of the others goes through without waiting. Let all go at once and each of
    thousands stops, half-way through its answer (its executor, loaders and keys: 10 KiB), at the
    first read still under way: held all at the same moment, that peak stays in the process's
    memory after the event."""

    # A first viewer still not served after this long no longer holds the others back.
    TURN_SECONDS = 0.5

    def __init__(self) -> None:
        self._reads: dict[Hashable, asyncio.Future[Any]] = {}
        self._started = False
        self._open = False
        self._served: asyncio.Future[None] | None = None

    async def take_turn(self) -> None:
        """Return at once to the first viewer; the others wait until it has been `served`."""
        if not self._started:
            self._started = True
            return
        if self._open:
            return
        served = self._served
        if served is None:
            loop = asyncio.get_running_loop()
            served = self._served = loop.create_future()
            loop.call_later(self.TURN_SECONDS, self.served)
        await _outcome_of(served)

    def served(self) -> None:
        """The first viewer was served, or gave up: the others go on (idempotent)."""
        self._open = True
        served = self._served
        if served is not None and not served.done():
            served.set_result(None)

    async def read(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        """What `fetch()` returns, fetched by the first to ask; the others wait for it. The
        fetch goes on if the one who started it goes away."""
        future = self._reads.get(key)
        if future is None:
            future = self._reads[key] = asyncio.ensure_future(fetch())
        elif future.done():  # the common case with many viewers: no waiting at all
            return future.result()  # type: ignore[no-any-return]
        return await _outcome_of(future)  # type: ignore[no-any-return]


def _outcome_of(future: asyncio.Future[T]) -> asyncio.Future[T]:
    """A future of this waiter's own that gets `future`'s outcome: cancelling the waiter leaves
    `future` running for the others. (asyncio.shield does the same, but each shield removes its
    callback from `future` when done, a scan of all the others: quadratic with 2,000 viewers.)"""
    # (Its loop is `future`'s: asking asyncio for the running loop is a system call on 3.11.)
    waiter: asyncio.Future[T] = future.get_loop().create_future()

    def settle(done: asyncio.Future[T]) -> None:
        if waiter.done():
            return
        if done.cancelled():
            waiter.cancel()
        elif (error := done.exception()) is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(done.result())

    future.add_done_callback(settle)
    return waiter


async def shared_rows(
    shared: SharedRows | None, key: Hashable, fetch: Callable[[], Awaitable[T]]
) -> T:
    """What `fetch()` returns: read once for every viewer with `shared` rows, else now."""
    return await (shared.read(key, fetch) if shared is not None else fetch())


def page_size(first: int | None, default: int, maximum: int) -> int:
    """How many items a page holds: `first`, within 0 and `maximum`; `default` when omitted."""
    if first is None:
        return default
    if first < 0 or first > maximum:
        raise DomainError(ErrorCode.VALIDATION, f"first must be between 0 and {maximum}", ["first"])
    return first
