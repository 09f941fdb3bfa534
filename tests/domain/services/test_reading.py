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


async def test_viewers_take_turns_behind_the_first_until_it_is_served() -> None:
    shared = SharedRows()
    order: list[int] = []

    async def viewer(number: int) -> None:
        await shared.take_turn()
        order.append(number)

    await viewer(0)  # the first goes at once
    others = [asyncio.ensure_future(viewer(n)) for n in range(1, 6)]
    await asyncio.sleep(0.01)
    assert order == [0]
    others[0].cancel()  # one who leaves while waiting holds nobody up
    await asyncio.sleep(0)
    shared.served()
    await asyncio.gather(*others[1:])
    assert order == [0, 2, 3, 4, 5]
    await viewer(6)  # once served, later ones go at once
    shared.served()  # and saying so again changes nothing
    assert order[-1] == 6


async def test_a_first_viewer_never_served_holds_the_others_only_briefly() -> None:
    class Brief(SharedRows):
        TURN_SECONDS = 0.05

    shared = Brief()
    await shared.take_turn()  # the first, which then never says it was served
    await asyncio.wait_for(shared.take_turn(), timeout=2)
