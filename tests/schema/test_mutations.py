"""Every Mutation of the contract over HTTP: what it changes, and what its refusals say.

A refusal carries a stable `errors[].code` (domain/errors.py) and, when an input is at
fault, its `field`; a refused mutation changes nothing, which each refusal test checks by
re-reading the report (status, timeline, assignments) before and after.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models import Category, Notification, Report, User
from schema.ids import to_global_id
from tests.app_fixtures import (
    DEMO_VIEWERS,
    GQL,
    JAYAPURA,
    JEMBER,
    PASSWORD,
    People,
    agency_gid,
    pk,
    region_gid,
)
from tests.factories import (
    ACCEPT,
    ADD_INFO,
    ARCHIVE,
    ASSIGN,
    CLOSE,
    DISPUTE,
    ESCALATE,
    FOLLOW_UP,
    FORWARD,
    HOLD,
    LOGIN,
    MARK_READ,
    RATE,
    REGISTER,
    RETURN,
    SUBMIT,
    SUPPORT,
    VERIFY,
    call,
    in_progress,
    miss_deadline,
    ok,
    refused,
    report_input,
    responded,
    state,
    submit,
    verify,
)

TRACKING_CODE = re.compile(r"^LPR-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$")

# ---------------------------------------------------------------------------------- helpers


async def register(gql: GQL, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """The authRegister payload for a new citizen."""
    return await call(
        gql, REGISTER, input={"name": "Tetangga", "email": email, "password": password}
    )


async def category_gid(code: str) -> str:
    return to_global_id("Category", (await Category.get(code=code)).id)


# ------------------------------------------------------------------------- authRegister


async def test_auth_register_signs_a_new_citizen_in(gql: GQL) -> None:
    email = f"baru-{uuid.uuid4().hex[:8]}@example.org"

    payload = await register(gql, email.upper())

    assert payload["errors"] == []
    assert payload["user"] == {"name": "Tetangga", "email": email, "roles": ["CITIZEN"]}
    me = await GQL(gql.client, payload["token"])("{ me { email roles } }")
    assert me["me"] == {"email": email, "roles": ["CITIZEN"]}


@pytest.mark.parametrize("email", ["warga@jember.demo", "  Warga@Jember.DEMO "])
async def test_auth_register_refuses_a_taken_email(gql: GQL, email: str) -> None:
    await refused(
        gql,
        REGISTER,
        "EMAIL_TAKEN",
        ["email"],
        input={"name": "X", "email": email, "password": "p" * 12},
    )
    # The existing account still signs in with its own password.
    await gql.sign_in("warga@jember.demo", PASSWORD)


async def test_auth_register_refuses_a_short_password(gql: GQL) -> None:
    email = f"pendek-{uuid.uuid4().hex[:8]}@example.org"

    await refused(
        gql,
        REGISTER,
        "VALIDATION",
        ["password"],
        input={"name": "X", "email": email, "password": "1234567"},
    )

    # No account was made: signing in fails, and the address is still free.
    await refused(gql, LOGIN, "INVALID_CREDENTIALS", email=email, password="1234567")
    assert (await register(gql, email))["errors"] == []


async def test_auth_register_refuses_a_malformed_email(gql: GQL) -> None:
    await refused(
        gql,
        REGISTER,
        "VALIDATION",
        ["email"],
        input={"name": "X", "email": "warga@", "password": "p" * 12},
    )


# ---------------------------------------------------------------------------- authLogin


async def test_auth_login_returns_a_working_token(gql: GQL) -> None:
    payload = await call(gql, LOGIN, email="koordinator@jember.demo", password=PASSWORD)

    assert payload["errors"] == []
    assert payload["user"] == {"email": "koordinator@jember.demo", "roles": ["COORDINATOR"]}
    me = await GQL(gql.client, payload["token"])("{ me { email } }")
    assert me["me"] == {"email": "koordinator@jember.demo"}


@pytest.mark.parametrize(
    ("email", "password"),
    [("warga@jember.demo", "lapor-demo-salah"), ("tidak-ada@jember.demo", PASSWORD)],
    ids=["wrong password", "unknown email"],
)
async def test_auth_login_refuses_wrong_credentials(gql: GQL, email: str, password: str) -> None:
    error = await refused(gql, LOGIN, "INVALID_CREDENTIALS", email=email, password=password)
    assert error["field"] is None  # the same answer whether the e-mail exists or not


# --------------------------------------------------------------------------- reportSubmit


async def test_report_submit_stores_a_submitted_report(people: People) -> None:
    before = datetime.now(UTC)

    report = await submit(
        people["reporter"], address="Jl. Kenanga 12", latitude=-8.17, longitude=113.72
    )

    assert report["status"] == "SUBMITTED"
    assert TRACKING_CODE.match(report["trackingCode"]), report["trackingCode"]
    assert report["dueAt"] is not None and datetime.fromisoformat(report["dueAt"]) > before
    assert report["reporter"] == {"email": DEMO_VIEWERS["reporter"]}
    assert (report["supportCount"], report["reopenCount"], report["rating"]) == (0, 0, None)
    assert (await state(people, report["id"]))["timeline"] == ["report.submitted"]
    found = await people["reporter"](
        "query($c: String!) { report(trackingCode: $c) { id } }", {"c": report["trackingCode"]}
    )
    assert found["report"] == {"id": report["id"]}


async def test_report_submit_requires_sign_in(people: People) -> None:
    await refused(
        people["public"], SUBMIT, "UNAUTHENTICATED", input=report_input(await region_gid(JEMBER))
    )

    listed = await people["coordinator"]("{ reports { edges { node { id } } } }")
    assert listed["reports"]["edges"] == []


@pytest.mark.parametrize("title", ["", "   ", "x" * 100_000], ids=["empty", "blank", "100 kB"])
async def test_report_submit_validates_the_title(people: People, title: str) -> None:
    await refused(
        people["reporter"],
        SUBMIT,
        "VALIDATION",
        ["title"],
        input=report_input(await region_gid(JEMBER), title=title),
    )

    listed = await people["coordinator"]("{ reports { edges { node { id } } } }")
    assert listed["reports"]["edges"] == []


async def test_report_submit_refuses_an_unknown_region(people: People) -> None:
    unknown = to_global_id("Region", 987_654)
    await refused(
        people["reporter"], SUBMIT, "NOT_FOUND", ["regionId"], input=report_input(unknown)
    )


@pytest.mark.parametrize("kind", ["garbage", "agency id", "province"])
async def test_report_submit_refuses_a_malformed_region_id(people: People, kind: str) -> None:
    region = {
        "garbage": "not-a-global-id",
        "agency id": await agency_gid("DINKES"),
        "province": await region_gid("35"),
    }[kind]
    await refused(
        people["reporter"], SUBMIT, "VALIDATION", ["regionId"], input=report_input(region)
    )


# ------------------------------------------------------------------------- reportAddInfo


async def test_report_add_info_resumes_a_report_on_hold(people: People) -> None:
    report = await submit(people["reporter"])
    held = await ok(people["coordinator"], HOLD, id=report["id"], reason="Di desa mana?")
    assert (held["status"], held["dueAt"]) == ("ON_HOLD", None)

    resumed = await ok(people["reporter"], ADD_INFO, id=report["id"], message="Desa Kebonsari")

    assert resumed["status"] == "SUBMITTED"
    assert resumed["dueAt"] is not None
    assert (await state(people, report["id"]))["timeline"][-1] == "report.info_added"


@pytest.mark.parametrize(
    ("stage", "code"), [("ON_HOLD", "NOT_FOUND"), ("IN_PROGRESS", "FORBIDDEN")]
)
async def test_report_add_info_is_refused_to_a_stranger(
    people: People, stage: str, code: str
) -> None:
    report = await submit(people["reporter"])
    if stage == "ON_HOLD":
        await ok(people["coordinator"], HOLD, id=report["id"], reason="Di desa mana?")
    else:
        await verify(people["coordinator"], report["id"], "DINKES")
    before = await state(people, report["id"])

    # A stranger cannot read an unverified report (NOT_FOUND), nor add to a public one.
    await refused(people["citizen"], ADD_INFO, code, id=report["id"], message="Bukan laporan saya")

    assert await state(people, report["id"]) == before


# ------------------------------------------------------------------------- reportSupport


async def test_report_support_counts_once_per_user(people: People) -> None:
    report_id, _ = await in_progress(people)

    supported = await ok(people["citizen"], SUPPORT, id=report_id)
    assert supported["supportCount"] == 1
    before = await state(people, report_id)

    await refused(people["citizen"], SUPPORT, "ALREADY_DONE", ["reportId"], id=report_id)

    assert await state(people, report_id) == before
    assert before["supportCount"] == 1


async def test_report_support_refuses_an_unverified_report(people: People) -> None:
    report = await submit(people["reporter"])
    before = await state(people, report["id"])

    await refused(people["citizen"], SUPPORT, "NOT_FOUND", ["reportId"], id=report["id"])
    await refused(people["public"], SUPPORT, "UNAUTHENTICATED", id=report["id"])

    assert await state(people, report["id"]) == before


# ---------------------------------------------------------------------------- reportRate


async def test_report_rate_closes_the_report(people: People) -> None:
    report_id, _ = await responded(people)

    rated = await ok(people["reporter"], RATE, id=report_id, rating=5)

    assert (rated["status"], rated["rating"], rated["dueAt"]) == ("CLOSED", 5, None)
    assert (await state(people, report_id))["timeline"][-1] == "report.rated"


@pytest.mark.parametrize("rating", [0, 6])
async def test_report_rate_refuses_a_rating_out_of_range(people: People, rating: int) -> None:
    report_id, _ = await responded(people)
    before = await state(people, report_id)

    await refused(people["reporter"], RATE, "VALIDATION", ["rating"], id=report_id, rating=rating)

    assert await state(people, report_id) == before


async def test_report_rate_refuses_a_report_not_yet_answered(people: People) -> None:
    report_id, _ = await in_progress(people)
    before = await state(people, report_id)

    await refused(people["reporter"], RATE, "INVALID_TRANSITION", id=report_id, rating=4)
    await refused(people["citizen"], RATE, "FORBIDDEN", id=report_id, rating=4)

    assert await state(people, report_id) == before


# ------------------------------------------------------------------------- reportDispute


async def test_report_dispute_reopens_the_agencys_work(people: People) -> None:
    report_id, _ = await responded(people)

    disputed = await ok(people["reporter"], DISPUTE, id=report_id)

    assert disputed["status"] == "IN_PROGRESS"
    assert disputed["reopenCount"] == 1
    assert disputed["dueAt"] is not None
    assert disputed["assignments"] == [{"status": "ACCEPTED"}]
    assert (await state(people, report_id))["timeline"][-2:] == [
        "assignment.reopened",
        "report.disputed",
    ]


async def test_report_dispute_is_refused_after_the_window(people: People) -> None:
    report_id, _ = await responded(people)
    await Report.filter(id=pk(report_id)).update(due_at=datetime.now(UTC) - timedelta(hours=1))
    before = await state(people, report_id)

    await refused(people["reporter"], DISPUTE, "INVALID_TRANSITION", id=report_id)

    assert await state(people, report_id) == before


@pytest.mark.parametrize("who", ["citizen", "officer", "coordinator"])
async def test_report_dispute_is_refused_to_anyone_but_the_reporter(
    people: People, who: str
) -> None:
    report_id, _ = await responded(people)
    before = await state(people, report_id)

    await refused(people[who], DISPUTE, "FORBIDDEN", id=report_id)

    assert await state(people, report_id) == before


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


# ------------------------------------------------------------------ notificationsMarkRead


async def test_notifications_mark_read_counts_what_changed(people: People) -> None:
    citizen = await User.get(email=DEMO_VIEWERS["reporter"])
    now = datetime.now(UTC)
    for kind in ("report.verified", "assignment.accepted"):
        await Notification.create(user_id=citizen.id, kind=kind, message=kind, created_at=now)
    unread = "{ notifications(unreadOnly: true) { edges { node { id read } } } }"
    assert len((await people["reporter"](unread))["notifications"]["edges"]) == 2
    # Another user's call marks none of them.
    assert (await people["citizen"](MARK_READ))["notificationsMarkRead"] == 0

    first = await people["reporter"](MARK_READ)
    second = await people["reporter"](MARK_READ)

    assert first == {"notificationsMarkRead": 2}
    assert second == {"notificationsMarkRead": 0}
    assert (await people["reporter"](unread))["notifications"]["edges"] == []


async def test_notifications_mark_read_by_id(people: People) -> None:
    citizen = await User.get(email=DEMO_VIEWERS["reporter"])
    now = datetime.now(UTC)
    rows = [
        await Notification.create(user_id=citizen.id, kind="k", message="m", created_at=now)
        for _ in range(2)
    ]
    ids = [to_global_id("Notification", rows[0].id)]

    assert (await people["reporter"](MARK_READ, {"ids": ids}))["notificationsMarkRead"] == 1
    assert (await people["reporter"](MARK_READ, {"ids": ids}))["notificationsMarkRead"] == 0
    assert (await people["reporter"](MARK_READ))["notificationsMarkRead"] == 1


async def test_notifications_mark_read_requires_sign_in(people: People) -> None:
    response = await people["public"].raw(MARK_READ)

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


# ------------------------------------------------------------------------------ the public


async def test_the_public_is_asked_to_sign_in(people: People) -> None:
    """On a report anyone may read, a signed-out caller is told to sign in (UNAUTHENTICATED,
    as reportSubmit and reportSupport do), not that the act is forbidden."""
    report_id, assignment_id = await responded(people)
    dlh = await agency_gid("DLH")
    attempts = {
        "reportAddInfo": (ADD_INFO, {"id": report_id, "message": "Tambahan"}),
        "reportRate": (RATE, {"id": report_id, "rating": 5}),
        "reportDispute": (DISPUTE, {"id": report_id}),
        "reportVerify": (VERIFY, {"id": report_id, "agencies": [dlh]}),
        "reportHold": (HOLD, {"id": report_id, "reason": "Tunggu"}),
        "reportAssign": (ASSIGN, {"id": report_id, "agency": dlh}),
        "reportEscalate": (ESCALATE, {"id": report_id}),
        "assignmentAccept": (ACCEPT, {"id": assignment_id, "tier": "SIMPLE"}),
        "assignmentFollowUp": (
            FOLLOW_UP,
            {"id": assignment_id, "final": False, "resolution": None},
        ),
    }
    before = await state(people, report_id)

    codes: dict[str, list[str]] = {}
    for name, (mutation, variables) in attempts.items():
        payload = await call(people["public"], mutation, **variables)
        codes[name] = [e["code"] for e in payload["errors"]]

    assert await state(people, report_id) == before
    assert codes == {name: ["UNAUTHENTICATED"] for name in attempts}


# --------------------------------------------------------------------------- the whole story


async def test_the_whole_story_of_a_complaint(people: People) -> None:
    """The README's story: a wrong first forward, a return, the right agency, a rating."""
    health = (await submit(people["reporter"], categoryId=await category_gid("KESEHATAN")))["id"]

    (wrong,) = await verify(people["coordinator"], health, "DPUPR")
    returned = await ok(people["dpupr"], RETURN, id=wrong, suggested=await agency_gid("DINKES"))
    assert returned["suggestedAgency"] == {"code": "DINKES"}
    right = await ok(people["coordinator"], ASSIGN, id=health, agency=await agency_gid("DINKES"))
    accepted = await ok(people["officer"], ACCEPT, id=right["id"], tier="STANDARD")
    assert (accepted["status"], accepted["tier"]) == ("ACCEPTED", "STANDARD")
    answered = await ok(
        people["officer"], FOLLOW_UP, id=right["id"], final=True, resolution="RESOLVED"
    )
    assert answered["status"] == "RESPONDED"
    rated = await ok(people["reporter"], RATE, id=health, rating=5)

    assert (rated["status"], rated["rating"]) == ("CLOSED", 5)
    story = [
        "report.submitted",
        "report.verified",
        "assignment.created",
        "assignment.returned",
        "assignment.created",
        "assignment.accepted",
        "assignment.final_follow_up",
        "report.responded",
        "report.rated",
    ]
    assert (await state(people, health))["timeline"] == story
    # The reporter follows the same story, without the desks' internal line.
    own = await people["reporter"](
        "query($id: ID!) { node(id: $id) { ... on Report {"
        " timeline { edges { node { kind } } } } } }",
        {"id": health},
    )
    kinds = [e["node"]["kind"] for e in own["node"]["timeline"]["edges"]]
    assert kinds == [k for k in story if k != "assignment.returned"]
