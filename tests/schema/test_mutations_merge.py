"""reportMerge and reportUnmerge over HTTP (issue 15): what each side reads afterwards, retries
under an Idempotency-Key, and refusals that change nothing."""

from __future__ import annotations

import uuid
from typing import Any

from models import ReportEvent
from tests.app_fixtures import People
from tests.factories import ERRORS, REPORT, in_progress, ok, refused, state, submit

MERGE = f"""mutation($id: ID!, $into: ID!) {{
  reportMerge(reportId: $id, intoReportId: $into, note: "Masalah yang sama") {{
    report {{ {REPORT} }} {ERRORS}
  }}
}}"""
UNMERGE = f"""mutation($id: ID!) {{
  reportUnmerge(reportId: $id) {{ report {{ {REPORT} }} {ERRORS} }}
}}"""
TIMELINE = """query($id: ID!) { node(id: $id) { ... on Report {
  status timeline(first: 100) { edges { node { kind message actedAs actor { name } } } } } } }"""


async def _timeline(client: Any, report_id: str) -> list[dict[str, Any]] | None:
    found = (await client(TIMELINE, {"id": report_id}))["node"]
    return None if found is None else [e["node"] for e in found["timeline"]["edges"]]


async def test_a_merge_and_its_undo_as_each_side_reads_them(people: People) -> None:
    original, _ = await in_progress(people, "DINKES")
    duplicate = await submit(people["citizen"], anonymous=True)
    coordinator = people["coordinator"]

    merged = await ok(coordinator, MERGE, id=duplicate["id"], into=original)

    assert (merged["status"], merged["dueAt"]) == ("ARCHIVED", None)
    (line,) = [
        e
        for e in await _timeline(people["citizen"], duplicate["id"]) or []
        if e["kind"] == "report.merged"
    ]
    # Its reporter reads the line on their report, by the desk, never a coordinator's name.
    assert (line["message"], line["actor"]) == ("Masalah yang sama", None)
    assert line["actedAs"] is not None
    # The original's reporter and the public see no trace of the duplicate on the original.
    for reader in ("reporter", "public", "citizen"):
        kinds = [e["kind"] for e in await _timeline(people[reader], original) or []]
        assert "report.duplicate_merged" not in kinds, reader
    assert "report.duplicate_merged" in (await state(people, original))["timeline"]
    # ... nor the duplicate itself, archived at the desk.
    assert await _timeline(people["reporter"], duplicate["id"]) is None
    assert (await state(people, original))["supportCount"] == 1

    restored = await ok(coordinator, UNMERGE, id=duplicate["id"])

    assert restored["status"] == "SUBMITTED" and restored["dueAt"] is not None
    assert (await state(people, original))["supportCount"] == 0


async def test_a_retried_merge_answers_as_the_first_and_writes_nothing(people: People) -> None:
    original = await submit(people["reporter"])
    duplicate = await submit(people["citizen"])
    keyed = people["coordinator"].with_headers(Idempotency_Key=str(uuid.uuid4()))
    first = await ok(keyed, MERGE, id=duplicate["id"], into=original["id"])
    written = await ReportEvent.all().count()

    again = await ok(keyed, MERGE, id=duplicate["id"], into=original["id"])

    assert again == first
    assert await ReportEvent.all().count() == written


async def test_merge_refusals_change_nothing(people: People) -> None:
    # The original is public: a citizen reads both, and may merge neither.
    original = {"id": (await in_progress(people, "DINKES"))[0]}
    duplicate = await submit(people["citizen"])
    before = [await state(people, r["id"]) for r in (original, duplicate)]
    coordinator = people["coordinator"]

    await refused(
        coordinator, MERGE, "VALIDATION", ["intoReportId"], id=duplicate["id"], into=duplicate["id"]
    )
    await refused(people["citizen"], MERGE, "FORBIDDEN", id=duplicate["id"], into=original["id"])
    await refused(
        people["jayapura"],
        MERGE,
        "NOT_FOUND",
        ["reportId"],
        id=duplicate["id"],
        into=original["id"],
    )
    await refused(coordinator, UNMERGE, "INVALID_TRANSITION", ["reportId"], id=duplicate["id"])

    assert [await state(people, r["id"]) for r in (original, duplicate)] == before
