"""Privacy over GraphQL: who sees an anonymous reporter, who reads a confidential report.

Every path that returns a report is exercised: the list (`reports`), the detail
(`report(trackingCode:)`), `node(id:)`, nested reports (`inbox`, `Assignment.report`,
mutation payloads) and timelines (`Report.timeline`, `node` of a ReportEvent).
The last test checks that the SQL filter of lists and the pure policy agree.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.actor import PUBLIC, Actor
from domain.policy import Action, allowed_on_report
from domain.services.accounts import actor_for_user
from domain.services.common import report_facts
from domain.services.reports import readable_reports_q
from models import Report, User
from schema.ids import to_global_id
from tests.app_fixtures import CITIZEN_EMAIL, DEMO_VIEWERS, GQL, JAYAPURA, People, agency_gid
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

# ---------------------------------------------------------------------------------- helpers


async def actor_of(who: str) -> Actor:
    """The policy's Actor for a viewer name of `people`."""
    if who == "public":
        return PUBLIC
    email = CITIZEN_EMAIL if who == "citizen" else DEMO_VIEWERS[who]
    return await actor_for_user((await User.get(email=email)).id)


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


async def readable_via(
    client: GQL, report: dict[str, str], nodes: dict[str, str]
) -> dict[str, bool]:
    """Whether each path hands the report (or an object of it, by `node(id:)`) to the viewer."""
    aliases = " ".join(f'n{i}: node(id: "{gid}") {{ id }}' for i, gid in enumerate(nodes.values()))
    data = await client(
        f"""query($code: String!) {{
              report(trackingCode: $code) {{ id }}
              search: reports(filter: {{ search: $code }}) {{ edges {{ node {{ id }} }} }}
              {aliases}
            }}""",
        {"code": report["trackingCode"]},
    )
    return {
        "list": report["trackingCode"] in await listed(client),
        "search": bool(data["search"]["edges"]),
        "detail": data["report"] is not None,
        **{name: data[f"n{i}"] is not None for i, name in enumerate(nodes)},
    }


async def worked_report(
    people: People, **fields: Any
) -> tuple[dict[str, str], str, dict[str, str]]:
    """A report DINKES accepted and answered in the interim: the report, its assignment id, and
    the global ids of the report and its objects, by name."""
    coord, officer = people["coordinator"], people["officer"]
    report = await submit(people["reporter"], **fields)
    (assignment_id,) = await verify(coord, report["id"], "DINKES")
    await ok(officer, ACCEPT, id=assignment_id)
    interim = await ok(officer, INTERIM, id=assignment_id)
    timeline = await coord(
        "query($id: ID!) { node(id: $id) { ... on Report {"
        " timeline { edges { node { id } } } } } }",
        {"id": report["id"]},
    )
    return (
        report,
        assignment_id,
        {
            "node": report["id"],
            "assignment node": assignment_id,
            "follow-up node": interim["followUps"][0]["id"],
            "event node": timeline["node"]["timeline"]["edges"][0]["node"]["id"],
        },
    )


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

# ------------------------------------------------------------------------ anonymous reports

SEE_ANONYMOUS = ["reporter", "coordinator"]
BLIND_TO_ANONYMOUS = ["officer", "head", "citizen", "public", "jayapura", "admin"]


@pytest.mark.parametrize("who", SEE_ANONYMOUS + BLIND_TO_ANONYMOUS)
async def test_anonymous_reporter_is_shown_only_to_reporter_and_coordinator(
    people: People, who: str
) -> None:
    report = await submit(people["reporter"], anonymous=True, **WHERE)
    (assignment_id,) = await verify(people["coordinator"], report["id"], "DINKES")
    name = (await User.get(email=DEMO_VIEWERS["reporter"])).name
    visible = who in SEE_ANONYMOUS
    expected = (name, WHERE["address"], WHERE["latitude"], WHERE["longitude"])

    seen = await identity_by_path(people[who], who, report, assignment_id)

    want: dict[str, Any] = {
        path: (expected if visible else (None, None, None, None)) for path in seen
    }
    want["timeline actor"] = want["ReportEvent node actor"] = name if visible else None
    assert seen == want


async def test_anonymous_reporter_is_hidden_in_mutation_payloads(people: People) -> None:
    report = await submit(people["reporter"], anonymous=True, **WHERE)
    (assignment_id,) = await verify(people["coordinator"], report["id"], "DINKES")

    accepted = await ok(people["officer"], ACCEPT, id=assignment_id)
    supported = await ok(people["citizen"], SUPPORT, id=report["id"])

    assert identity(accepted["report"]) == (None, None, None, None)
    assert identity(supported) == (None, None, None, None)


REPORTER_LINES = ["report.submitted", "report.info_added", "report.disputed", "report.rated"]
TIMELINE = "trackingCode timeline { edges { node { kind actor { name } } } }"


def authored(report: dict[str, Any], name: str) -> tuple[list[tuple[str, Any]], bool]:
    """The reporter-authored lines (kind, actor name), and whether any line names `name`."""
    lines = [
        (e["node"]["kind"], (e["node"]["actor"] or {}).get("name"))
        for e in report["timeline"]["edges"]
    ]
    return [line for line in lines if line[0] in REPORTER_LINES], any(a == name for _, a in lines)


@pytest.mark.parametrize("who", SEE_ANONYMOUS + BLIND_TO_ANONYMOUS)
async def test_anonymous_reporter_is_no_actor_of_any_timeline_line(
    people: People, who: str
) -> None:
    reporter, coord, officer = people["reporter"], people["coordinator"], people["officer"]
    named = await submit(reporter)
    await verify(coord, named["id"], "DINKES")
    report = await submit(reporter, anonymous=True)
    await ok(coord, HOLD, id=report["id"])
    await ok(reporter, ADD_INFO, id=report["id"])
    (assignment_id,) = await verify(coord, report["id"], "DINKES")
    await ok(officer, ACCEPT, id=assignment_id)
    await ok(officer, ANSWER, id=assignment_id)
    await ok(reporter, DISPUTE, id=report["id"])
    await ok(officer, ANSWER, id=assignment_id)
    await ok(reporter, RATE, id=report["id"])
    name = (await User.get(email=DEMO_VIEWERS["reporter"])).name
    client = people[who]

    # Detail, list (both reports batched in one request) and, for the desks, the inbox.
    found: dict[str, dict[str, Any]] = {}
    detail = await client(
        f"query($c: String!) {{ report(trackingCode: $c) {{ {TIMELINE} }} }}",
        {"c": report["trackingCode"]},
    )
    found["detail"] = detail["report"]
    listed_ = await client(f"{{ reports(first: 100) {{ edges {{ node {{ {TIMELINE} }} }} }} }}")
    by_code = {e["node"]["trackingCode"]: e["node"] for e in listed_["reports"]["edges"]}
    found["list"] = by_code[report["trackingCode"]]
    found["list, named report"] = by_code[named["trackingCode"]]
    if who in {"officer", "head", "coordinator"}:
        inbox = await client(
            f"""query($ag: ID!) {{ inbox(agencyId: $ag) {{ edges {{ node {{
                  report {{ {TIMELINE} }} }} }} }} }}""",
            {"ag": await agency_gid("DINKES")},
        )
        rows = {
            e["node"]["report"]["trackingCode"]: e["node"]["report"]
            for e in inbox["inbox"]["edges"]
        }
        found["inbox"] = rows[report["trackingCode"]]
        found["inbox, named report"] = rows[named["trackingCode"]]

    actor = name if who in SEE_ANONYMOUS else None
    want = {
        path: ([(kind, actor) for kind in REPORTER_LINES], actor is not None)
        for path in found
        if "named" not in path
    }
    want |= {path: ([("report.submitted", name)], True) for path in found if "named" in path}
    assert {path: authored(r, name) for path, r in found.items()} == want


async def test_named_report_shows_reporter_but_not_email_to_others(people: People) -> None:
    report = await submit(people["reporter"], **WHERE)
    await verify(people["coordinator"], report["id"], "DINKES")
    reporter = await User.get(email=DEMO_VIEWERS["reporter"])
    query = """query($code: String!) { report(trackingCode: $code) {
                 reporter { name email }
                 timeline { edges { node { kind actor { name email } } } } } }"""

    for who in ("citizen", "public"):
        data = await people[who](query, {"code": report["trackingCode"]})
        assert data["report"]["reporter"] == {"name": reporter.name, "email": None}, who
        actors = [e["node"]["actor"] for e in data["report"]["timeline"]["edges"]]
        assert {"name": reporter.name, "email": None} in actors, who
        assert all(a is None or a["email"] is None for a in actors), who
        assert listed_email(await listed(people[who]), report["trackingCode"]) is None, who

    own = await people["reporter"](query, {"code": report["trackingCode"]})
    assert own["report"]["reporter"]["email"] == reporter.email


def listed_email(rows: dict[str, dict[str, Any]], code: str) -> str | None:
    return rows[code]["reporter"]["email"]  # type: ignore[no-any-return]


# --------------------------------------------------------------------- confidential reports

READ_CONFIDENTIAL = ["reporter", "coordinator", "officer", "head"]
BLIND_TO_CONFIDENTIAL = ["public", "citizen", "dpupr", "jayapura", "admin", "ombudsman"]


@pytest.mark.parametrize("who", READ_CONFIDENTIAL + BLIND_TO_CONFIDENTIAL)
async def test_confidential_report_is_read_only_by_its_desks(people: People, who: str) -> None:
    report, _, nodes = await worked_report(people, confidential=True)

    paths = await readable_via(people[who], report, nodes)

    readable = who in READ_CONFIDENTIAL
    assert paths == dict.fromkeys(paths, readable)


async def test_confidential_report_is_read_by_ombudsman_after_hand_over(people: People) -> None:
    report, assignment_id, nodes = await worked_report(
        people, confidential=True, anonymous=True, ombudsmanConsent=True, **WHERE
    )
    before = await readable_via(people["ombudsman"], report, nodes)

    await escalate(people["coordinator"], report["id"], assignment_id)

    after = await readable_via(people["ombudsman"], report, nodes)
    assert before == dict.fromkeys(before, False)
    assert after == dict.fromkeys(after, True)
    # Anonymity holds for the Ombudsman too: only the reporter and the coordinator know.
    seen = await identity_by_path(people["ombudsman"], "ombudsman", report, assignment_id)
    assert set(seen.values()) == {(None, None, None, None), None}


# ---------------------------------------------------------------- unverified public reports


async def test_unverified_report_is_public_only_after_verification(people: People) -> None:
    report = await submit(people["reporter"])
    strangers = ("public", "citizen", "dpupr", "jayapura")
    query = """query($code: String!, $id: ID!) {
                 report(trackingCode: $code) { id } node(id: $id) { id } }"""

    async def seen_by(who: str) -> tuple[bool, bool, bool]:
        data = await people[who](query, {"code": report["trackingCode"], "id": report["id"]})
        in_list = report["trackingCode"] in await listed(people[who])
        return in_list, data["report"] is not None, data["node"] is not None

    before = {who: await seen_by(who) for who in strangers}
    await people["coordinator"](HOLD, {"id": report["id"]})
    on_hold = {who: await seen_by(who) for who in strangers}
    await people["reporter"](
        'mutation($id: ID!) { reportAddInfo(reportId: $id, message: "Desa Kebonsari") '
        "{ errors { code } } }",
        {"id": report["id"]},
    )
    await verify(people["coordinator"], report["id"], "DINKES")
    after = {who: await seen_by(who) for who in strangers}

    assert before == dict.fromkeys(strangers, (False, False, False))
    assert on_hold == dict.fromkeys(strangers, (False, False, False))
    assert after == dict.fromkeys(strangers, (True, True, True))


# ------------------------------------------------------------------ internal timeline lines


async def test_internal_timeline_lines_are_shown_to_desks_only(people: People) -> None:
    report = await submit(people["reporter"])
    (wrong,) = await verify(people["coordinator"], report["id"], "DPUPR")
    await ok(people["dpupr"], RETURN, id=wrong, suggested=await agency_gid("DINKES"))
    await ok(people["coordinator"], ASSIGN, id=report["id"], agency=await agency_gid("DINKES"))
    await ok(people["citizen"], SUPPORT, id=report["id"])
    query = """query($code: String!) { report(trackingCode: $code) {
                 assignments { returnReason suggestedAgency { code } }
                 timeline { edges { node { id kind } } } } }"""

    seen: dict[str, tuple[bool, bool, bool]] = {}
    event_ids: list[str] = []
    for who in ("public", "reporter", "citizen", "coordinator", "dpupr", "officer"):
        detail = (await people[who](query, {"code": report["trackingCode"]}))["report"]
        lines = {e["node"]["kind"]: e["node"]["id"] for e in detail["timeline"]["edges"]}
        returned = detail["assignments"][0]  # DPUPR's, the first one
        seen[who] = (
            "assignment.returned" in lines,
            "report.supported" in lines,
            returned["returnReason"] is not None and returned["suggestedAgency"] is not None,
        )
        event_ids += [lines[k] for k in ("assignment.returned", "report.supported") if k in lines]

    outsider, desk = (False, False, False), (True, True, True)
    assert seen == {
        "public": outsider,
        "reporter": outsider,
        "citizen": outsider,
        "coordinator": desk,
        "dpupr": desk,
        "officer": desk,
    }
    # Nor are the lines reachable through `node(id:)` by those who may not see them.
    for who in ("public", "reporter", "citizen"):
        for event_id in event_ids[:2]:
            data = await people[who]("query($id: ID!) { node(id: $id) { id } }", {"id": event_id})
            assert data["node"] is None, who


# ------------------------------------------------------ the SQL filter and the pure policy


async def _population(people: People) -> None:
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
    # Returned by DPUPR (which keeps read access), re-assigned to DINKES.
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


async def _codes_by_path(client: GQL, codes: list[str], ids: list[str]) -> dict[str, set[str]]:
    """Tracking codes the viewer gets from the list, the detail and `node(id:)`."""
    details = " ".join(
        f'r{i}: report(trackingCode: "{c}") {{ trackingCode }}' for i, c in enumerate(codes)
    )
    nodes = " ".join(
        f'n{i}: node(id: "{n}") {{ ... on Report {{ trackingCode }} }}' for i, n in enumerate(ids)
    )
    by_detail = await client(f"{{ {details} }}")
    by_node = await client(f"{{ {nodes} }}")
    return {
        "list": set(await listed(client)),
        "list by pages of 3": await _paged(client, 3),
        "detail": {r["trackingCode"] for r in by_detail.values() if r is not None},
        "node": {r["trackingCode"] for r in by_node.values() if r is not None},
    }


async def _paged(client: GQL, size: int) -> set[str]:
    """The list walked page by page; a short page before the last one is flagged, since it
    means the SQL filter let in rows that the policy then dropped."""
    codes: set[str] = set()
    after = None
    while True:
        data = await client(
            """query($n: Int!, $after: String) { reports(first: $n, after: $after) {
                 edges { node { trackingCode } } pageInfo { hasNextPage endCursor } } }""",
            {"n": size, "after": after},
        )
        page = data["reports"]
        codes |= {e["node"]["trackingCode"] for e in page["edges"]}
        if not page["pageInfo"]["hasNextPage"]:
            return codes
        if len(page["edges"]) < size:
            codes.add("<short page>")
        if not page["edges"]:
            return codes  # no cursor to go on from
        after = page["pageInfo"]["endCursor"]


async def _sql_codes(actor: Actor) -> set[str]:
    """Tracking codes `readable_reports_q` selects, straight from the database."""
    q = readable_reports_q(actor)
    rows = Report.filter(q) if q is not None else Report.all()
    return {str(c) for c in await rows.values_list("tracking_code", flat=True)}


async def test_list_filter_and_policy_agree_on_a_mixed_population(people: People) -> None:
    await _population(people)
    reports = await Report.all().order_by("id")
    assert len(reports) >= 12
    codes = [r.tracking_code for r in reports]
    ids = [to_global_id("Report", r.id) for r in reports]
    facts = [await report_facts(r) for r in reports]

    disagreements: dict[str, dict[str, set[str]]] = {}
    for who, client in people.items():
        actor = await actor_of(who)
        policy = {
            r.tracking_code
            for r, f in zip(reports, facts, strict=True)
            if allowed_on_report(actor, Action.READ, f)
        }
        seen = {"sql": await _sql_codes(actor), **await _codes_by_path(client, codes, ids)}
        if any(paths != policy for paths in seen.values()):
            disagreements[who] = {"policy": policy, **seen}
    assert disagreements == {}
    # The population is not trivial: the public sees some reports but not all.
    public = {
        r.tracking_code
        for r, f in zip(reports, facts, strict=True)
        if allowed_on_report(PUBLIC, Action.READ, f)
    }
    assert 0 < len(public) < len(reports)


async def test_paging_goes_on_past_rows_the_policy_hides(
    people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were the SQL filter ever looser than the policy, hidden rows would leave short pages,
    but the cursor still moves past them: a client never gets stuck and never sees them."""
    reporter, coordinator, stranger = people["reporter"], people["coordinator"], people["dpupr"]
    public = [await submit(reporter, title=f"Publik {i}") for i in range(2)]
    for report in public:
        await verify(coordinator, report["id"], "DINKES")
    hidden = [await submit(reporter, title=f"Belum diverifikasi {i}") for i in range(4)]
    import domain.services.reports as reports

    monkeypatch.setattr(reports, "readable_reports_q", lambda actor: None)
    query = (
        "query($a:String){reports(first:2,after:$a)"
        "{edges{node{trackingCode}} pageInfo{hasNextPage endCursor}}}"
    )
    seen: list[str] = []
    after: str | None = None
    for _ in range(10):
        data = (await stranger(query, {"a": after}))["reports"]
        seen += [e["node"]["trackingCode"] for e in data["edges"]]
        if not data["pageInfo"]["hasNextPage"]:
            break
        assert data["pageInfo"]["endCursor"] is not None
        after = data["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(r["trackingCode"] for r in public)
    assert not {r["trackingCode"] for r in hidden} & set(seen)
