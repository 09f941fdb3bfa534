"""The coordinator desk's mutations over HTTP: reportVerify, reportHold, reportArchive,
reportAssign and reportEscalate, and the Ombudsman's reportClose after a hand-over.

A refused mutation changes nothing: each refusal test compares `state` before and after.
"""

from __future__ import annotations

from schema.ids import to_global_id
from tests.app_fixtures import JAYAPURA, People, agency_gid, region_gid
from tests.factories import (
    ARCHIVE,
    ASSIGN,
    CLOSE,
    ESCALATE,
    HOLD,
    RETURN,
    SUBMIT,
    VERIFY,
    in_progress,
    miss_deadline,
    ok,
    refused,
    report_input,
    state,
    submit,
    verify,
)

# -------------------------------------------------------------------------- reportVerify


async def test_report_verify_forwards_to_the_agencies(people: People) -> None:
    report = await submit(people["reporter"])
    agencies = [await agency_gid("DINKES"), await agency_gid("DPUPR")]

    verified = await ok(people["coordinator"], VERIFY, id=report["id"], agencies=agencies)

    assert verified["status"] == "IN_PROGRESS"
    assert verified["dueAt"] is not None
    assert sorted((a["agency"]["code"], a["status"]) for a in verified["assignments"]) == [
        ("DINKES", "PENDING"),
        ("DPUPR", "PENDING"),
    ]
    assert all(a["dueAt"] is not None for a in verified["assignments"])
    assert (await state(people, report["id"]))["timeline"] == [
        "report.submitted",
        "report.verified",
        "assignment.created",
        "assignment.created",
    ]


async def test_report_verify_is_refused_to_non_coordinators(people: People) -> None:
    report = await submit(people["reporter"])
    dinkes = [await agency_gid("DINKES")]
    before = await state(people, report["id"])

    # The reporter may read the report but not verify it. An officer, or another region's
    # coordinator, may not even read an unverified report: the domain does not reveal it.
    await refused(people["reporter"], VERIFY, "FORBIDDEN", id=report["id"], agencies=dinkes)
    await refused(people["officer"], VERIFY, "NOT_FOUND", id=report["id"], agencies=dinkes)
    await refused(people["jayapura"], VERIFY, "NOT_FOUND", id=report["id"], agencies=dinkes)
    assert await state(people, report["id"]) == before

    # An officer who can read the report (it is public now) is refused for what they are.
    await verify(people["coordinator"], report["id"], "DPUPR")
    before = await state(people, report["id"])
    await refused(people["officer"], VERIFY, "FORBIDDEN", id=report["id"], agencies=dinkes)
    assert await state(people, report["id"]) == before


async def test_report_verify_refuses_an_agency_of_another_region(people: People) -> None:
    report = await submit(people["reporter"])
    before = await state(people, report["id"])
    jayapura_dinkes = await agency_gid("DINKES", JAYAPURA)

    await refused(
        people["coordinator"],
        VERIFY,
        "VALIDATION",
        ["agencyIds"],
        id=report["id"],
        agencies=[await agency_gid("DPUPR"), jayapura_dinkes],
    )

    assert await state(people, report["id"]) == before
    assert before["status"] == "SUBMITTED" and before["assignments"] == []


async def test_report_verify_twice_is_a_conflict(people: People) -> None:
    report_id, _ = await in_progress(people)
    before = await state(people, report_id)

    await refused(
        people["coordinator"], VERIFY, "CONFLICT", id=report_id, agencies=[await agency_gid("DLH")]
    )

    assert await state(people, report_id) == before


# ---------------------------------------------------------------------------- reportHold


async def test_report_hold_stops_the_clock(people: People) -> None:
    report = await submit(people["reporter"])

    held = await ok(people["coordinator"], HOLD, id=report["id"], reason="Di desa mana?")

    assert (held["status"], held["dueAt"]) == ("ON_HOLD", None)
    assert (await state(people, report["id"]))["timeline"][-1] == "report.held"


async def test_report_hold_refusals(people: People) -> None:
    report = await submit(people["reporter"])
    before = await state(people, report["id"])

    await refused(people["reporter"], HOLD, "FORBIDDEN", id=report["id"], reason="Tunggu")
    await refused(
        people["coordinator"], HOLD, "VALIDATION", ["reason"], id=report["id"], reason=" "
    )
    assert await state(people, report["id"]) == before

    await ok(people["coordinator"], HOLD, id=report["id"], reason="Di desa mana?")
    held = await state(people, report["id"])
    await refused(people["coordinator"], HOLD, "CONFLICT", id=report["id"], reason="Lagi")
    assert await state(people, report["id"]) == held


# ------------------------------------------------------------------------- reportArchive


async def test_report_archive_marks_a_duplicate(people: People) -> None:
    original = await submit(people["reporter"])
    duplicate = await submit(people["reporter"])

    archived = await ok(
        people["coordinator"], ARCHIVE, id=duplicate["id"], duplicateOf=original["id"]
    )

    assert (archived["status"], archived["dueAt"]) == ("ARCHIVED", None)
    assert (await state(people, duplicate["id"]))["timeline"][-1] == "report.archived"
    assert (await state(people, original["id"]))["status"] == "SUBMITTED"


async def test_report_archive_refusals(people: People) -> None:
    report = await submit(people["reporter"])
    before = await state(people, report["id"])
    coord = people["coordinator"]

    await refused(
        coord, ARCHIVE, "VALIDATION", ["duplicateOfId"], id=report["id"], duplicateOf=report["id"]
    )
    await refused(
        coord,
        ARCHIVE,
        "NOT_FOUND",
        ["duplicateOfId"],
        id=report["id"],
        duplicateOf=to_global_id("Report", 987_654),
    )
    await refused(
        coord, ARCHIVE, "VALIDATION", ["duplicateOfId"], id=report["id"], duplicateOf="garbage"
    )
    await refused(people["reporter"], ARCHIVE, "FORBIDDEN", id=report["id"], duplicateOf=None)

    assert await state(people, report["id"]) == before


async def test_report_archive_refuses_a_duplicate_the_coordinator_cannot_read(
    people: People,
) -> None:
    """A report the viewer may not read is "not found" (README): that holds for the report
    named as the original too, or archiving reveals which report ids exist elsewhere."""
    elsewhere = await ok(
        people["citizen"],
        SUBMIT,
        input=report_input(await region_gid(JAYAPURA), confidential=True),
    )
    report = await submit(people["reporter"])
    before = await state(people, report["id"])

    await refused(
        people["coordinator"],
        ARCHIVE,
        "NOT_FOUND",
        ["duplicateOfId"],
        id=report["id"],
        duplicateOf=elsewhere["id"],
    )

    assert await state(people, report["id"]) == before


# -------------------------------------------------------------------------- reportAssign


async def test_report_assign_after_a_return(people: People) -> None:
    report_id, (wrong,) = await in_progress(people, "DPUPR")
    await ok(people["dpupr"], RETURN, id=wrong, suggested=await agency_gid("DINKES"))

    assigned = await ok(
        people["coordinator"], ASSIGN, id=report_id, agency=await agency_gid("DINKES")
    )

    assert (assigned["status"], assigned["agency"]["code"]) == ("PENDING", "DINKES")
    assert assigned["dueAt"] is not None
    after = await state(people, report_id)
    assert after["status"] == "IN_PROGRESS"
    assert [(a["agency"]["code"], a["status"]) for a in after["assignments"]] == [
        ("DPUPR", "RETURNED"),
        ("DINKES", "PENDING"),
    ]


async def test_report_assign_refuses_an_agency_that_has_it_open(people: People) -> None:
    report_id, _ = await in_progress(people, "DINKES")
    before = await state(people, report_id)
    dinkes = await agency_gid("DINKES")

    await refused(
        people["coordinator"], ASSIGN, "ALREADY_DONE", ["agencyId"], id=report_id, agency=dinkes
    )
    await refused(
        people["officer"], ASSIGN, "FORBIDDEN", id=report_id, agency=await agency_gid("DLH")
    )

    assert await state(people, report_id) == before


# ------------------------------------------------------------------------ reportEscalate


async def test_report_escalate_needs_the_reporters_consent(people: People) -> None:
    report_id, (assignment_id,) = await in_progress(people)
    await miss_deadline(assignment_id)
    before = await state(people, report_id)

    await refused(people["coordinator"], ESCALATE, "CONSENT_MISSING", id=report_id)

    assert await state(people, report_id) == before


async def test_report_escalate_needs_a_missed_deadline(people: People) -> None:
    report_id, _ = await in_progress(people, ombudsmanConsent=True)
    before = await state(people, report_id)

    await refused(people["coordinator"], ESCALATE, "DEADLINE_NOT_PASSED", id=report_id)
    await refused(people["officer"], ESCALATE, "FORBIDDEN", id=report_id)

    assert await state(people, report_id) == before


async def test_report_escalate_hands_over_to_the_ombudsman(people: People) -> None:
    report_id, (assignment_id,) = await in_progress(
        people, ombudsmanConsent=True, confidential=True
    )
    query = "query($id: ID!) { node(id: $id) { ... on Report { status } } }"
    assert (await people["ombudsman"](query, {"id": report_id}))["node"] is None
    await miss_deadline(assignment_id)

    escalated = await ok(people["coordinator"], ESCALATE, id=report_id)

    assert (escalated["status"], escalated["dueAt"]) == ("ESCALATED", None)
    assert (await state(people, report_id))["timeline"][-1] == "report.escalated"
    seen = await people["ombudsman"](query, {"id": report_id})
    assert seen["node"] == {"status": "ESCALATED"}


async def test_report_close_by_the_ombudsman_after_hand_over(people: People) -> None:
    """Not in the contract (the schema adds it): only the Ombudsman closes what it was given."""
    report_id, (assignment_id,) = await in_progress(people, ombudsmanConsent=True)
    await refused(people["ombudsman"], CLOSE, "FORBIDDEN", id=report_id)
    await miss_deadline(assignment_id)
    await ok(people["coordinator"], ESCALATE, id=report_id)
    before = await state(people, report_id)
    await refused(people["coordinator"], CLOSE, "FORBIDDEN", id=report_id)
    assert await state(people, report_id) == before

    closed = await ok(people["ombudsman"], CLOSE, id=report_id)

    assert closed["status"] == "CLOSED"
    assert (await state(people, report_id))["timeline"][-1] == "report.closed"
