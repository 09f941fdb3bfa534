"""Regions, agencies and categories are made once per record the process holds and shared by
requests (schema/reference.py): with the caches answering (the change feed listening, as in a
service process), a renamed region shows its new name from the next request on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from domain.services import caching
from models import Region
from tests.app_fixtures import JEMBER, People
from tests.factories import submit

REGION_OF = "query($c: String!) { report(trackingCode: $c) { region { id name } } }"


@pytest.fixture
async def caches_answering(db: str) -> AsyncIterator[None]:
    await caching.start(db)
    try:
        for _ in range(100):  # until the feed listens
            if caching.trusted():
                break
            await asyncio.sleep(0.05)
        assert caching.trusted()
        yield
    finally:
        await caching.stop()


async def test_a_renamed_region_shows_its_new_name_from_the_next_request(
    people: People, caches_answering: None
) -> None:
    reporter = people["reporter"]
    code = (await submit(reporter))["trackingCode"]
    region = await Region.get(code=JEMBER)
    old_name = region.name
    first = (await reporter(REGION_OF, {"c": code}))["report"]["region"]
    again = (await reporter(REGION_OF, {"c": code}))["report"]["region"]
    assert first == again == {"id": first["id"], "name": old_name}
    try:
        await Region.filter(id=region.id).update(name="Kabupaten Jember (baru)")
        shown = old_name
        for _ in range(100):  # the feed's announcement arrives within moments
            shown = (await reporter(REGION_OF, {"c": code}))["report"]["region"]["name"]
            if shown != old_name:
                break
            await asyncio.sleep(0.05)
        assert shown == "Kabupaten Jember (baru)"
    finally:
        await Region.filter(id=region.id).update(name=old_name)
