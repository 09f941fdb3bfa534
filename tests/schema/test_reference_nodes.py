"""Regions, agencies and categories are made once per record the process holds and shared by
requests (schema/reference.py): with the caches answering (the change feed listening, as in a
service process), a renamed region shows its new name from the next request on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

import schema.reference as schema_reference
from domain.services import caching
from models import Region
from tests.app_fixtures import JEMBER, People, agency_gid
from tests.factories import submit, verify

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


INBOX_REFERENCES = """query($a: ID!) { inbox(agencyId: $a, first: 10) { edges { node {
  agency { name } report { region { name } category { name } } } } } }"""


# Unchecked: the generic executor's run (tests/conftest.py) would resolve every reference.
@pytest.mark.usefixtures("unchecked_execution")
async def test_a_page_resolves_each_reference_once_and_reads_the_rest_from_what_it_made(
    people: People, caches_answering: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compiled page's builder looks in the request's made nodes before calling a reference
    field's resolver (schema/reference.py, `reference_field`): three items naming one region
    and one agency call `reference_of` once for each, not three times, in each request. A null
    reference (no category) has no node to find: its resolver answers it, each time."""
    for _ in range(3):
        report = await submit(people["reporter"])
        await verify(people["coordinator"], report["id"], "DINKES")
    agency = await agency_gid("DINKES")
    calls: list[tuple[type, int | None]] = []
    resolve = schema_reference.reference_of

    def counted(info: Any, cls: type, pk: int | None) -> Any:
        calls.append((cls, pk))
        return resolve(info, cls, pk)

    monkeypatch.setattr(schema_reference, "reference_of", counted)
    for _ in range(2):
        calls.clear()
        page = (await people["officer"](INBOX_REFERENCES, {"a": agency}))["inbox"]["edges"]
        assert len(page) == 3
        assert {e["node"]["agency"]["name"] for e in page} == {page[0]["node"]["agency"]["name"]}
        assert all(e["node"]["report"] == page[0]["node"]["report"] for e in page)
        named = sorted((c.__name__, pk is None) for c, pk in calls)
        assert named == [("Agency", False), *[("Category", True)] * 3, ("Region", False)]
