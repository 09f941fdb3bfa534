"""Privacy over GraphQL, who learns who handled a report: staff are named only to staff.
Citizens, followers and the public see the desk, the agency or "Koordinator <region>", never
an officer's or a coordinator's name (issue 12, finding 3)."""

from __future__ import annotations

from typing import Any

import pytest

from lapor.demo import DEMO_ACCOUNTS
from models.enums import Role
from tests.app_fixtures import People, agency_gid
from tests.factories import ACCEPT, FORWARD, ok, submit, verify
from tests.schema.privacy import INTERIM, SUPPORT, escalate

STAFF_NAMES = {a.name for a in DEMO_ACCOUNTS if a.role is not Role.CITIZEN}
REPORTER_NAME = next(a.name for a in DEMO_ACCOUNTS if a.email == "warga@jember.demo")
# The audit's probe, with the desks' names beside the people's.
HANDLED = """query($code: String!) { report(trackingCode: $code) {
  timeline { edges { node { id kind actedAs actor { name } } } }
  assignments { agency { name } followUps { id author { name } } } } }"""
NODES = """query($event: ID!, $followUp: ID!) {
  event: node(id: $event) { ... on ReportEvent { actedAs actor { name } } }
  followUp: node(id: $followUp) { ... on FollowUp { author { name } } } }"""


async def handled_report(people: People) -> dict[str, Any]:
    """A public report the coordinator verified to DINKES, which accepted it, wrote an interim
    answer and forwarded it to its Puskesmas; a neighbour supports it."""
    report = await submit(people["reporter"], ombudsmanConsent=True)
    (dinkes,) = await verify(people["coordinator"], report["id"], "DINKES")
    await ok(people["officer"], ACCEPT, id=dinkes, tier="STANDARD")
    await ok(people["officer"], INTERIM, id=dinkes)
    await ok(people["officer"], FORWARD, id=dinkes, agency=await agency_gid("PKM-SUMBERSARI"))
    await ok(people["citizen"], SUPPORT, id=report["id"])
    return report


def names(found: Any) -> set[str]:
    """Every `name` in an answer."""
    if isinstance(found, dict):
        return {v for k, v in found.items() if k == "name" and isinstance(v, str)} | {
            n for v in found.values() for n in names(v)
        }
    if isinstance(found, list):
        return {n for v in found for n in names(v)}
    return set()


@pytest.mark.parametrize("who", ["public", "citizen", "reporter"])
async def test_citizens_and_the_public_see_desks_never_staff_names(
    people: People, who: str
) -> None:
    """The audit: with no token, the timeline's actors and the follow-ups' authors named the
    coordinator and the officers of a public report."""
    report = await handled_report(people)
    staff_view = await people["coordinator"](HANDLED, {"code": report["trackingCode"]})
    lines = staff_view["report"]["timeline"]["edges"]
    follow_up = staff_view["report"]["assignments"][0]["followUps"][0]["id"]

    seen = await people[who](HANDLED, {"code": report["trackingCode"]})
    by_node = await people[who](NODES, {"event": lines[1]["node"]["id"], "followUp": follow_up})

    assert names(seen) & STAFF_NAMES == set()
    assert names(by_node) & STAFF_NAMES == set()
    desks = {
        e["node"]["kind"]: (e["node"]["actedAs"], e["node"]["actor"])
        for e in seen["report"]["timeline"]["edges"]
    }
    assert desks["report.submitted"] == ("Pelapor", {"name": REPORTER_NAME})
    assert desks["report.verified"] == ("Koordinator Kabupaten Jember", None)
    assert desks["assignment.accepted"] == ("Dinas Kesehatan", None)
    assert desks["assignment.follow_up"] == ("Dinas Kesehatan", None)
    assert desks["assignment.forwarded"] == ("Dinas Kesehatan", None)
    assert by_node == {"event": {"actedAs": "Koordinator Kabupaten Jember", "actor": None},
                       "followUp": {"author": None}}  # fmt: skip


@pytest.mark.parametrize("who", ["coordinator", "officer", "puskesmas", "dpupr", "admin"])
async def test_staff_see_staff_names(people: People, who: str) -> None:
    report = await handled_report(people)

    seen = await people[who](HANDLED, {"code": report["trackingCode"]})

    assert {"Bambang Koordinator", "Dewi Petugas Dinkes"} <= names(seen)
    desks = {e["node"]["kind"]: e["node"]["actedAs"] for e in seen["report"]["timeline"]["edges"]}
    assert desks["report.verified"] == "Koordinator Kabupaten Jember"
    assert desks["assignment.accepted"] == "Dinas Kesehatan"


async def test_the_ombudsman_closing_is_the_ombudsman_to_citizens(people: People) -> None:
    report = await submit(people["reporter"], ombudsmanConsent=True)
    (assignment,) = await verify(people["coordinator"], report["id"], "DINKES")
    await escalate(people["coordinator"], report["id"], assignment)
    await ok(
        people["ombudsman"],
        'mutation($id: ID!) { reportClose(reportId: $id, note: "Selesai") '
        "{ report { id } errors { code field message } } }",
        id=report["id"],
    )

    seen = await people["reporter"](HANDLED, {"code": report["trackingCode"]})

    desks = {e["node"]["kind"]: e["node"]["actedAs"] for e in seen["report"]["timeline"]["edges"]}
    assert desks["report.closed"] == "Ombudsman"
    assert desks["report.escalated"] == "Koordinator Kabupaten Jember"
    assert names(seen) & STAFF_NAMES == set()
