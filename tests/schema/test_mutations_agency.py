"""The agency desk's mutations over HTTP: assignmentAccept, assignmentReturn,
assignmentForward and assignmentFollowUp.

A refused mutation changes nothing: each refusal test compares `state` before and after.
"""

from __future__ import annotations

from datetime import datetime

from schema.ids import to_global_id
from tests.app_fixtures import People, agency_gid, pk
from tests.factories import (
    ACCEPT,
    ASSIGN,
    FOLLOW_UP,
    FORWARD,
    RETURN,
    in_progress,
    ok,
    refused,
    state,
)

# ---------------------------------------------------------------------- assignmentAccept


async def test_assignment_accept_sets_tier_and_deadline(people: People) -> None:
    report_id, (assignment_id,) = await in_progress(people)

    accepted = await ok(people["officer"], ACCEPT, id=assignment_id, tier="FIELD")

    assert (accepted["status"], accepted["tier"]) == ("ACCEPTED", "FIELD")
    assert accepted["dueAt"] is not None
    assert (await state(people, report_id))["timeline"][-1] == "assignment.accepted"


async def test_assignment_accept_refusals(people: People) -> None:
    report_id, (assignment_id,) = await in_progress(people)
    before = await state(people, report_id)

    await refused(people["dpupr"], ACCEPT, "FORBIDDEN", id=assignment_id, tier="SIMPLE")
    await refused(people["coordinator"], ACCEPT, "FORBIDDEN", id=assignment_id, tier="SIMPLE")
    await refused(
        people["officer"], ACCEPT, "VALIDATION", ["assignmentId"], id=report_id, tier="SIMPLE"
    )
    assert await state(people, report_id) == before

    await ok(people["head"], ACCEPT, id=assignment_id, tier="STANDARD")
    accepted = await state(people, report_id)
    await refused(people["officer"], ACCEPT, "CONFLICT", id=assignment_id, tier="SIMPLE")
    assert await state(people, report_id) == accepted
    assert accepted["assignments"][0]["tier"] == "STANDARD"


# ---------------------------------------------------------------------- assignmentReturn


async def test_assignment_return_names_the_agency_that_should_act(people: People) -> None:
    report_id, (assignment_id,) = await in_progress(people, "DPUPR")

    returned = await ok(
        people["dpupr"], RETURN, id=assignment_id, suggested=await agency_gid("DINKES")
    )

    assert returned["status"] == "RETURNED"
    assert returned["returnReason"] == "bukan kewenangan kami"
    assert returned["suggestedAgency"] == {"code": "DINKES"}
    after = await state(people, report_id)
    assert after["status"] == "IN_PROGRESS"
    assert after["timeline"][-1] == "assignment.returned"
    assert after["dueAt"] is not None  # the coordinator now owes a new forward


async def test_assignment_return_refuses_suggesting_itself(people: People) -> None:
    report_id, (assignment_id,) = await in_progress(people, "DPUPR")
    before = await state(people, report_id)

    await refused(
        people["dpupr"],
        RETURN,
        "VALIDATION",
        ["suggestedAgencyId"],
        id=assignment_id,
        suggested=await agency_gid("DPUPR"),
    )
    await refused(people["officer"], RETURN, "FORBIDDEN", id=assignment_id, suggested=None)

    assert await state(people, report_id) == before


async def test_assignment_return_stops_at_the_transfer_cap(people: People) -> None:
    """Three transfers are allowed (the cap setting is 3); the fourth goes to the coordinator."""
    report_id, (assignment_id,) = await in_progress(people, "DPUPR")
    desks = ["dpupr", "officer", "dpupr", "officer"]
    agencies = {"dpupr": "DPUPR", "officer": "DINKES"}
    for turn, desk in enumerate(desks[:3]):
        await ok(people[desk], RETURN, id=assignment_id, suggested=None)
        following = desks[turn + 1]
        assignment = await ok(
            people["coordinator"],
            ASSIGN,
            id=report_id,
            agency=await agency_gid(agencies[following]),
        )
        assignment_id = assignment["id"]
    before = await state(people, report_id)

    await refused(people["officer"], RETURN, "TRANSFER_CAP", id=assignment_id, suggested=None)

    assert await state(people, report_id) == before
    assert before["assignments"][-1] == {
        "status": "PENDING",
        "tier": None,
        "agency": {"code": "DINKES"},
    }


# --------------------------------------------------------------------- assignmentForward


async def test_assignment_forward_to_a_sub_unit(people: People) -> None:
    report_id, (assignment_id,) = await in_progress(people)
    await ok(people["officer"], ACCEPT, id=assignment_id, tier="FIELD")

    child = await ok(
        people["officer"], FORWARD, id=assignment_id, agency=await agency_gid("PKM-SUMBERSARI")
    )

    assert (child["status"], child["agency"]["code"]) == ("PENDING", "PKM-SUMBERSARI")
    assert child["id"] != assignment_id
    after = await state(people, report_id)
    assert [(a["agency"]["code"], a["status"]) for a in after["assignments"]] == [
        ("DINKES", "FORWARDED"),
        ("PKM-SUMBERSARI", "PENDING"),
    ]
    assert after["timeline"][-2:] == ["assignment.forwarded", "assignment.created"]
    inbox = await people["puskesmas"](
        "query($ag: ID!) { inbox(agencyId: $ag) { edges { node { id status } } } }",
        {"ag": await agency_gid("PKM-SUMBERSARI")},
    )
    assert [e["node"] for e in inbox["inbox"]["edges"]] == [
        {"id": child["id"], "status": "PENDING"}
    ]
    accepted = await ok(people["puskesmas"], ACCEPT, id=child["id"], tier="SIMPLE")
    assert accepted["status"] == "ACCEPTED"


async def test_assignment_forward_refuses_an_agency_that_is_not_a_sub_unit(people: People) -> None:
    report_id, (assignment_id,) = await in_progress(people)
    pending = await state(people, report_id)
    await refused(
        people["officer"],
        FORWARD,
        "INVALID_TRANSITION",
        id=assignment_id,
        agency=await agency_gid("PKM-SUMBERSARI"),
    )
    assert await state(people, report_id) == pending
    await ok(people["officer"], ACCEPT, id=assignment_id, tier="FIELD")
    before = await state(people, report_id)

    await refused(
        people["officer"],
        FORWARD,
        "VALIDATION",
        ["agencyId"],
        id=assignment_id,
        agency=await agency_gid("DPUPR"),
    )

    assert await state(people, report_id) == before


# -------------------------------------------------------------------- assignmentFollowUp


async def test_assignment_follow_up_interim_keeps_the_work_open(people: People) -> None:
    report_id, (assignment_id,) = await in_progress(people)
    accepted = await ok(people["officer"], ACCEPT, id=assignment_id, tier="STANDARD")

    interim = await ok(people["officer"], FOLLOW_UP, id=assignment_id, final=False, resolution=None)

    assert interim["status"] == "ACCEPTED"
    assert interim["followUps"] == [{"final": False, "resolution": None}]
    # After the first answer the resolution deadline runs (not earlier than the first one).
    assert interim["dueAt"] is not None
    assert datetime.fromisoformat(interim["dueAt"]) >= datetime.fromisoformat(accepted["dueAt"])
    after = await state(people, report_id)
    assert (after["status"], after["timeline"][-1]) == ("IN_PROGRESS", "assignment.follow_up")


async def test_assignment_follow_up_refusals(people: People) -> None:
    report_id, (assignment_id,) = await in_progress(people)
    before = await state(people, report_id)
    await refused(
        people["officer"],
        FOLLOW_UP,
        "INVALID_TRANSITION",
        id=assignment_id,
        final=False,
        resolution=None,
    )
    assert await state(people, report_id) == before
    await ok(people["officer"], ACCEPT, id=assignment_id, tier="STANDARD")
    before = await state(people, report_id)

    await refused(
        people["officer"],
        FOLLOW_UP,
        "VALIDATION",
        ["resolution"],
        id=assignment_id,
        final=True,
        resolution=None,
    )
    await refused(
        people["officer"],
        FOLLOW_UP,
        "VALIDATION",
        ["resolution"],
        id=assignment_id,
        final=False,
        resolution="RESOLVED",
    )
    await refused(
        people["dpupr"], FOLLOW_UP, "FORBIDDEN", id=assignment_id, final=True, resolution="RESOLVED"
    )

    assert await state(people, report_id) == before


async def test_assignment_follow_up_final_on_the_last_open_assignment_responds(
    people: People,
) -> None:
    report_id, (dinkes, dpupr) = await in_progress(people, "DINKES", "DPUPR")
    await ok(people["officer"], ACCEPT, id=dinkes, tier="SIMPLE")
    await ok(people["dpupr"], ACCEPT, id=dpupr, tier="SIMPLE")

    first = await ok(people["officer"], FOLLOW_UP, id=dinkes, final=True, resolution="RESOLVED")
    halfway = await state(people, report_id)
    last = await ok(people["dpupr"], FOLLOW_UP, id=dpupr, final=True, resolution="NOT_OUR_REMIT")

    assert (first["status"], first["followUps"]) == (
        "RESPONDED",
        [{"final": True, "resolution": "RESOLVED"}],
    )
    assert halfway["status"] == "IN_PROGRESS"
    assert last["status"] == "RESPONDED"
    after = await state(people, report_id)
    assert after["status"] == "RESPONDED"
    assert after["dueAt"] is not None  # the reporter's window to answer
    assert after["timeline"][-2:] == ["assignment.final_follow_up", "report.responded"]


async def test_assignment_follow_up_final_of_a_sub_unit_responds(people: People) -> None:
    report_id, (parent,) = await in_progress(people)
    await ok(people["officer"], ACCEPT, id=parent, tier="FIELD")
    child = await ok(
        people["officer"], FORWARD, id=parent, agency=await agency_gid("PKM-SUMBERSARI")
    )
    await ok(people["puskesmas"], ACCEPT, id=child["id"], tier="SIMPLE")

    answered = await ok(
        people["puskesmas"], FOLLOW_UP, id=child["id"], final=True, resolution="RESOLVED"
    )

    assert answered["status"] == "RESPONDED"
    after = await state(people, report_id)
    assert after["status"] == "RESPONDED"
    assert [a["status"] for a in after["assignments"]] == ["FORWARDED", "RESPONDED"]


# --------------------------------------------------------- one answer for "not found"


async def test_an_assignment_one_may_not_know_of_is_refused_like_one_that_does_not_exist(
    people: People,
) -> None:
    """Issue 12, finding 10 (low): a desk told "report not found" for an assignment that
    exists and "assignment not found" for one that does not, so ids could be probed."""
    report_id, (assignment_id,) = await in_progress(people, confidential=True)
    missing = to_global_id("Assignment", pk(assignment_id) + 1000)
    before = await state(people, report_id)

    answers = {
        (name, target): await refused(people["dpupr"], mutation, "NOT_FOUND", id=target, **extra)
        for name, mutation, extra in (
            ("accept", ACCEPT, {"tier": "SIMPLE"}),
            ("return", RETURN, {"suggested": None}),
            ("follow-up", FOLLOW_UP, {"final": False, "resolution": None}),
        )
        for target in (assignment_id, missing)
    }

    assert len({(e["code"], e["message"], tuple(e["field"])) for e in answers.values()}) == 1
    assert await state(people, report_id) == before
