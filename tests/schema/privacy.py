"""What the privacy tests share (test_privacy_anonymity.py, test_privacy_access.py): the
mutations they send (those whose payload could reveal the reporter ask for the reporter's
identity), the hand-over to the Ombudsman, a viewer's list, and the reporter's identity as
each read path shows it.

Every path that returns a report is exercised: the list (`reports`), the detail
(`report(trackingCode:)`), `node(id:)`, nested reports (`inbox`, `Assignment.report`,
mutation payloads) and timelines (`Report.timeline`, `node` of a ReportEvent).
"""

from __future__ import annotations

from typing import Any

from tests.app_fixtures import GQL, JAYAPURA, People, agency_gid
from tests.factories import ERRORS, miss_deadline, ok, submit, verify

ASSIGN = f"""mutation($id: ID!, $agency: ID!) {{
  reportAssign(reportId: $id, agencyId: $agency) {{ assignment {{ id }} {ERRORS} }}
}}"""
ARCHIVE = f"""mutation($id: ID!) {{
  reportArchive(reportId: $id, reason: "spam") {{ report {{ id }} {ERRORS} }}
}}"""
HOLD = f"""mutation($id: ID!) {{
  reportHold(reportId: $id, reason: "which village?") {{ report {{ id }} {ERRORS} }}
}}"""
ESCALATE = f"""mutation($id: ID!) {{
  reportEscalate(reportId: $id, reason: "no answer") {{ report {{ status }} {ERRORS} }}
}}"""
RETURN = f"""mutation($id: ID!, $suggested: ID) {{
  assignmentReturn(assignmentId: $id, reason: "not ours", suggestedAgencyId: $suggested) {{
    assignment {{ id status }} {ERRORS}
  }}
}}"""
ACCEPT = f"""mutation($id: ID!) {{
  assignmentAccept(assignmentId: $id, tier: STANDARD) {{
    assignment {{ report {{ reporter {{ name }} address latitude longitude }} }} {ERRORS}
  }}
}}"""
ADD_INFO = f"""mutation($id: ID!) {{
  reportAddInfo(reportId: $id, message: "Desa Kebonsari") {{ report {{ id }} {ERRORS} }}
}}"""
INTERIM = f"""mutation($id: ID!) {{
  assignmentFollowUp(assignmentId: $id, message: "Sedang dicek", final: false) {{
    assignment {{ followUps {{ id }} }} {ERRORS}
  }}
}}"""
ANSWER = f"""mutation($id: ID!) {{
  assignmentFollowUp(assignmentId: $id, message: "Sudah", final: true, resolution: RESOLVED) {{
    assignment {{ id }} {ERRORS}
  }}
}}"""
DISPUTE = f"""mutation($id: ID!) {{
  reportDispute(reportId: $id, reason: "Belum beres") {{ report {{ id }} {ERRORS} }}
}}"""
RATE = f"""mutation($id: ID!) {{
  reportRate(reportId: $id, rating: 4) {{ report {{ id }} {ERRORS} }}
}}"""
SUPPORT = f"""mutation($id: ID!) {{
  reportSupport(reportId: $id) {{
    report {{ reporter {{ name }} address latitude longitude }} {ERRORS}
  }}
}}"""


async def escalate(coord: GQL, report_id: str, assignment_id: str) -> None:
    """Hand over to the Ombudsman: the agency's deadline is moved into the past as setup."""
    await miss_deadline(assignment_id)
    assert (await ok(coord, ESCALATE, id=report_id))["status"] == "ESCALATED"


async def listed(client: GQL) -> dict[str, dict[str, Any]]:
    """Reports in the viewer's list, by tracking code."""
    data = await client(
        """{ reports(first: 100) { edges { node {
             trackingCode reporter { name email } address latitude longitude } } } }"""
    )
    return {e["node"]["trackingCode"]: e["node"] for e in data["reports"]["edges"]}


IDENTITY = "reporter { name } address latitude longitude"


def identity(report: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """What a report tells of who sent it: (reporter name, address, latitude, longitude)."""
    if report is None:
        return None
    reporter = report["reporter"]
    return (
        reporter["name"] if reporter else None,
        report["address"],
        report["latitude"],
        report["longitude"],
    )


async def identity_by_path(
    client: GQL, who: str, report: dict[str, str], assignment_id: str
) -> dict[str, Any]:
    """The reporter's identity as each read path shows it to one viewer."""
    data = await client(
        f"""query($code: String!, $rid: ID!, $aid: ID!) {{
              report(trackingCode: $code) {{
                {IDENTITY}
                assignments {{ report {{ {IDENTITY} }} }}
                timeline {{ edges {{ node {{ id kind actor {{ name }} }} }} }}
              }}
              byId: node(id: $rid) {{ ... on Report {{ {IDENTITY} }} }}
              assignment: node(id: $aid) {{ ... on Assignment {{ report {{ {IDENTITY} }} }} }}
            }}""",
        {"code": report["trackingCode"], "rid": report["id"], "aid": assignment_id},
    )
    detail = data["report"]
    assert detail is not None, f"{who} cannot read the report at all"
    submitted = next(
        e["node"] for e in detail["timeline"]["edges"] if e["node"]["kind"] == "report.submitted"
    )
    event = await client(
        "query($id: ID!) { node(id: $id) { ... on ReportEvent { actor { name } } } }",
        {"id": submitted["id"]},
    )
    seen: dict[str, Any] = {
        "list": identity((await listed(client)).get(report["trackingCode"])),
        "detail": identity(detail),
        "node": identity(data["byId"]),
        "Assignment.report": identity(data["assignment"]["report"]),
        "Report.assignments.report": identity(detail["assignments"][0]["report"]),
        "timeline actor": (submitted["actor"] or {}).get("name"),
        "ReportEvent node actor": (event["node"]["actor"] or {}).get("name"),
    }
    if who in {"officer", "head", "coordinator"}:
        inbox = await client(
            f"""query($ag: ID!) {{ inbox(agencyId: $ag) {{ edges {{ node {{
                  report {{ trackingCode {IDENTITY} }} }} }} }} }}""",
            {"ag": await agency_gid("DINKES")},
        )
        (row,) = [
            e["node"]["report"]
            for e in inbox["inbox"]["edges"]
            if e["node"]["report"]["trackingCode"] == report["trackingCode"]
        ]
        seen["inbox.report"] = identity(row)
    return seen


WHERE = {"address": "Jl. Kenanga 12, Sumbersari", "latitude": -8.1724, "longitude": 113.7161}


async def population(people: People) -> None:
    """Every anonymous x confidential x status combination, plus the desks' edge cases."""
    reporter, coord = people["reporter"], people["coordinator"]
    for anonymous in (False, True):
        for confidential in (False, True):
            for status in ("SUBMITTED", "IN_PROGRESS", "ARCHIVED"):
                r = await submit(reporter, anonymous=anonymous, confidential=confidential)
                if status == "IN_PROGRESS":
                    await verify(coord, r["id"], "DINKES")
                elif status == "ARCHIVED":
                    await ok(coord, ARCHIVE, id=r["id"])
    # Another region: its own coordinator verifies it to its own Dinkes.
    r = await submit(reporter, region=JAYAPURA, confidential=True)
    await verify(people["jayapura"], r["id"], "DINKES", region=JAYAPURA)
    await submit(people["citizen"], region=JAYAPURA)
    # Returned by DPUPR (which no longer reads it), re-assigned to DINKES.
    r = await submit(people["citizen"], confidential=True)
    (wrong,) = await verify(coord, r["id"], "DPUPR")
    await ok(people["dpupr"], RETURN, id=wrong, suggested=None)
    await ok(coord, ASSIGN, id=r["id"], agency=await agency_gid("DINKES"))
    # Forwarded to the Puskesmas.
    r = await submit(people["citizen"], confidential=True, anonymous=True)
    (parent,) = await verify(coord, r["id"], "DINKES")
    await ok(people["officer"], ACCEPT, id=parent)
    await ok(
        people["officer"],
        "mutation($id: ID!, $to: ID!) { assignmentForward(assignmentId: $id, agencyId: $to) "
        "{ assignment { id } errors { code field message } } }",
        id=parent,
        to=await agency_gid("PKM-SUMBERSARI"),
    )
    # Handed over to the Ombudsman; and one waiting for more information.
    r = await submit(reporter, confidential=True, ombudsmanConsent=True)
    (assignment_id,) = await verify(coord, r["id"], "DPUPR")
    await escalate(coord, r["id"], assignment_id)
    r = await submit(reporter, confidential=True)
    await ok(coord, HOLD, id=r["id"])
