"""Caches of what rarely changes and is read on every request or job: people with their roles
(the actor behind a token), and the reference data (regions, agencies, categories, calendars,
routing rules, who holds which role where).

A cache answers only while this process's change feed listens (models/changes.py): every
committed change to a cached table reaches every process at once and drops what it concerns.
Without a live feed (commands, the tests' in-process app, a lost connection) every read goes
to the database. A read that began before a change is not kept, so a cache never holds what
a committed change replaced (docs/adr/0015-caches-and-the-change-feed.md).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

from models.changes import EVERYTHING, ChangeFeed

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# A safety net only: changes invalidate at once; nothing is kept longer than this.
DEFAULT_TTL_SECONDS = 300.0


class Cache(Generic[K, V]):
    """Values by key, dropped when a change to one of `tables` is announced: only the key the
    change names when `keyed` (people by user id), else all of them."""

    def __init__(
        self,
        name: str,
        tables: Iterable[str],
        *,
        keyed: Callable[[str], K] | None = None,
        ttl: float = DEFAULT_TTL_SECONDS,
        maxsize: int = 20_000,
    ) -> None:
        self.name = name
        self.tables = frozenset(tables)
        self.keyed = keyed
        self.ttl = ttl
        self.maxsize = maxsize
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        # Bumped by every change that concerns this cache: a read that began before is not kept.
        self._generation = 0
        self.hits = 0
        self.misses = 0
        _CACHES.append(self)

    def invalidate(self, table: str, key: str) -> None:
        if table != EVERYTHING and table not in self.tables:
            return
        self._generation += 1
        if table != EVERYTHING and self.keyed is not None and key:
            self._entries.pop(self.keyed(key), None)
        else:
            self._entries.clear()

    async def get_many(
        self, keys: Iterable[K], fetch: Callable[[list[K]], Awaitable[dict[K, V]]]
    ) -> dict[K, V]:
        """The values of `keys`: cached ones, and the others from `fetch(missing)` (which leaves
        out keys that have no value; those are not cached)."""
        wanted = list(dict.fromkeys(keys))
        if not trusted():
            return await fetch(wanted) if wanted else {}
        now = time.monotonic()
        found: dict[K, V] = {}
        missing: list[K] = []
        for key in wanted:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                found[key] = entry[1]
            else:
                missing.append(key)
        self.hits += len(found)
        self.misses += len(missing)
        if missing:
            generation = self._generation
            fetched = await fetch(missing)
            found.update(fetched)
            if generation == self._generation and trusted():
                expires = time.monotonic() + self.ttl
                for key, value in fetched.items():
                    self._entries[key] = (expires, value)
                    self._entries.move_to_end(key)
                while len(self._entries) > self.maxsize:
                    self._entries.popitem(last=False)
        return found

    def peek(self, key: K) -> V | None:
        """The cached value of `key` if the cache may answer and holds it; None otherwise (ask
        `get_many`, which fetches)."""
        if not trusted():
            return None
        entry = self._entries.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        self.hits += 1
        return entry[1]

    async def get(self, key: K, fetch: Callable[[], Awaitable[V]]) -> V:
        """One value (a whole table's worth, say), fetched when it is not cached."""

        async def one(keys: list[K]) -> dict[K, V]:
            return {key: await fetch()}

        return (await self.get_many([key], one))[key]


_CACHES: list[Cache[Any, Any]] = []
_feed: ChangeFeed | None = None


def trusted() -> bool:
    """Whether caches may answer: this process's change feed is listening."""
    return _feed is not None and _feed.live


def _invalidate(table: str, key: str) -> None:
    for cache in _CACHES:
        cache.invalidate(table, key)


async def start(database_url: str) -> ChangeFeed:
    """Listen for changes (API and worker processes, at start): caches answer from now on."""
    global _feed
    feed = ChangeFeed(database_url)
    feed.subscribe(_invalidate)
    await feed.start()
    _feed = feed
    return feed


async def stop() -> None:
    global _feed
    feed, _feed = _feed, None
    _invalidate(EVERYTHING, "")
    if feed is not None:
        await feed.close()


def changed(table: str, key: str = "") -> None:
    """This process changed `table` itself: drop what it concerns now, before the feed's
    announcement comes back."""
    _invalidate(table, key)
