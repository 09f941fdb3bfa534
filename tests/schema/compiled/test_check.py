"""The check that runs every compiled operation of the suite on the generic executor too
(tests/conftest.py) sees a difference: in a query, and in a mutation's payload."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schema.compiled.executor import Mismatch
from schema.compiled.run import PlanRun
from tests.app_fixtures import GQL, People
from tests.factories import submit


def _shout(value: Any) -> Any:
    if isinstance(value, str):
        return value.upper()
    if isinstance(value, dict):
        return {k: _shout(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shout(v) for v in value]
    return value


@pytest.fixture
def broken_leaves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiled execution that writes every string leaf upper-cased (whether a generated
    builder or the general path wrote it): a bug to be caught."""
    original = PlanRun.execute

    async def shouting(self: PlanRun) -> Any:
        return _shout(await original(self))

    monkeypatch.setattr(PlanRun, "execute", shouting)


async def test_a_query_that_differs_is_reported(
    gql: GQL, broken_leaves: None, compiled_matches_generic: list[Mismatch]
) -> None:
    await gql("{ regions { name } }")
    (mismatch,) = compiled_matches_generic
    assert b"KABUPATEN JEMBER" in mismatch.compiled and b"Kabupaten Jember" in mismatch.generic
    compiled_matches_generic.clear()  # seen: the test passes


async def test_a_mutation_payload_that_differs_is_reported(
    people: People, broken_leaves: None, compiled_matches_generic: list[Mismatch]
) -> None:
    compiled_matches_generic.clear()  # the sign-ins of `people` differ too
    await submit(people["reporter"])
    (mismatch,) = [m for m in compiled_matches_generic if "reportSubmit" in m.document]
    # The payload's global id, upper-cased by the broken executor, is not the generic one.
    generic_id = orjson.loads(mismatch.generic.split(b"\n")[0])["data"]["reportSubmit"]["report"][
        "id"
    ]
    assert generic_id.upper() != generic_id and generic_id.upper().encode() in mismatch.compiled
    compiled_matches_generic.clear()
