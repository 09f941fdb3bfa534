"""Rows read once for many viewers (domain/services/reading.py SharedRows): one fetch for all
who ask, and a viewer that goes away does not take the fetch with it."""

from __future__ import annotations

import asyncio

import pytest

from domain.services.reading import SharedRows


async def test_many_viewers_share_one_fetch_and_a_cancelled_one_leaves_it_running() -> None:
    shared = SharedRows()
    release = asyncio.Event()
    fetches = 0

    async def fetch() -> str:
        nonlocal fetches
        fetches += 1
        await release.wait()
        return "rows"

    viewers = [asyncio.ensure_future(shared.read("key", fetch)) for _ in range(50)]
    await asyncio.sleep(0)
    viewers[0].cancel()  # the first asker started the fetch; it leaves
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*viewers[1:]) == ["rows"] * 49
    with pytest.raises(asyncio.CancelledError):
        await viewers[0]
    assert fetches == 1
    assert await shared.read("key", fetch) == "rows"  # later readers get it at once
    assert fetches == 1


async def test_a_failed_fetch_fails_every_viewer_of_it() -> None:
    shared = SharedRows()

    async def fetch() -> str:
        await asyncio.sleep(0)
        raise RuntimeError("database gone")

    results = await asyncio.gather(
        *(shared.read("key", fetch) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
