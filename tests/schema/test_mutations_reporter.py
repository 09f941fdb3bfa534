"""The reporter's mutations over HTTP: reportSubmit, reportAddInfo, reportSupport, reportRate,
reportDispute and notificationsMarkRead, and the whole story of a complaint.

A refused mutation changes nothing: each refusal test compares `state` before and after.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from models import Category, Notification, Report, User
from schema.ids import to_global_id
from tests.app_fixtures import DEMO_VIEWERS, JEMBER, People, agency_gid, pk, region_gid
from tests.factories import (
    ACCEPT,
    ADD_INFO,
    ASSIGN,
    DISPUTE,
    FOLLOW_UP,
    HOLD,
    MARK_READ,
    RATE,
    RETURN,
    SUBMIT,
    SUPPORT,
    in_progress,
    ok,
    refused,
    report_input,
    responded,
    state,
    submit,
    verify,
)

TRACKING_CODE = re.compile(r"^LPR-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$")


async def category_gid(code: str) -> str:
    return to_global_id("Category", (await Category.get(code=code)).id)


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


# (A title longer than any text the service stores, 100 kB say, is refused before the mutation
# runs: tests/api/test_bad_input.py.)
@pytest.mark.parametrize("title", ["", "   ", "x" * 201], ids=["empty", "blank", "201 characters"])
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
