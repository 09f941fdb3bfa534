"""The caches' rules, without a database: they answer only while the change feed listens, a
change drops what it names, and a read that began before a change is not kept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.services import caching
from domain.services.caching import Cache
from models.changes import EVERYTHING


class Feed:
    live = True


@pytest.fixture
def feed() -> Iterator[Feed]:
    previous = caching._feed
    caching._feed = Feed()  # type: ignore[assignment]
    yield caching._feed  # type: ignore[misc]
    caching._feed = previous


class Source:
    """A fetch function that counts what it was asked for."""

    def __init__(self, values: dict[int, str]) -> None:
        self.values = values
        self.asked: list[list[int]] = []

    async def __call__(self, keys: list[int]) -> dict[int, str]:
        self.asked.append(keys)
        return {k: self.values[k] for k in keys if k in self.values}


async def test_answers_from_memory_until_a_change_names_the_key(feed: Feed) -> None:
    cache: Cache[int, str] = Cache("t", {"app_user"}, keyed=int)
    source = Source({1: "a", 2: "b"})
    assert await cache.get_many([1, 2, 3], source) == {1: "a", 2: "b"}
    assert await cache.get_many([1, 2], source) == {1: "a", 2: "b"}
    assert source.asked == [[1, 2, 3]]  # 3 has no value: not cached, asked again next time
    source.values[1] = "A"
    caching.changed("app_user", "1")
    caching.changed("region", "")  # another table: nothing to drop
    assert await cache.get_many([1, 2], source) == {1: "A", 2: "b"}
    assert source.asked[-1] == [1]


async def test_a_change_to_an_unkeyed_table_or_everything_drops_all(feed: Feed) -> None:
    cache: Cache[int, str] = Cache("t", {"region"})
    source = Source({1: "a", 2: "b"})
    await cache.get_many([1, 2], source)
    caching.changed("region", "")
    await cache.get_many([1, 2], source)
    cache.invalidate(EVERYTHING, "")
    await cache.get_many([1, 2], source)
    assert source.asked == [[1, 2], [1, 2], [1, 2]]


async def test_a_read_that_began_before_a_change_is_not_kept(feed: Feed) -> None:
    cache: Cache[int, str] = Cache("t", {"app_user"}, keyed=int)

    async def racing(keys: list[int]) -> dict[int, str]:
        # The row changes while it is being read: what was read may be the old value.
        caching.changed("app_user", "1")
        return {1: "old"}

    assert await cache.get_many([1], racing) == {1: "old"}
    fresh = Source({1: "new"})
    assert await cache.get_many([1], fresh) == {1: "new"}
    assert fresh.asked == [[1]]


async def test_without_a_live_feed_every_read_goes_to_the_source(feed: Feed) -> None:
    cache: Cache[int, str] = Cache("t", {"app_user"}, keyed=int)
    source = Source({1: "a"})
    feed.live = False
    await cache.get_many([1], source)
    await cache.get_many([1], source)
    feed.live = True
    await cache.get_many([1], source)
    await cache.get_many([1], source)
    assert source.asked == [[1], [1], [1]]


async def test_the_least_recently_filled_entries_go_first_beyond_maxsize(feed: Feed) -> None:
    cache: Cache[int, str] = Cache("t", {"app_user"}, maxsize=2)
    source = Source({1: "a", 2: "b", 3: "c"})
    for key in (1, 2, 3):
        await cache.get_many([key], source)
    await cache.get_many([2, 3], source)
    await cache.get_many([1], source)
    assert source.asked == [[1], [2], [3], [1]]


async def test_a_peek_answers_only_what_a_trusted_cache_holds(feed: Feed) -> None:
    cache: Cache[int, str] = Cache("t", {"region"})
    assert cache.peek(1) is None  # not fetched yet: the caller fetches
    await cache.get_many([1], Source({1: "a"}))
    assert cache.peek(1) == "a"
    feed.live = False
    assert cache.peek(1) is None  # the feed is down: what is held may be stale
    feed.live = True
    caching.changed("region", "")
    assert cache.peek(1) is None
