"""Privacy over GraphQL, who reads a report: a confidential one only its desks (and the
Ombudsman once handed over), an unverified one only its reporter and coordinators, the
internal timeline lines only the desks. Every path is tried (tests/schema/privacy.py); the
last tests check that the SQL filter of lists and the pure policy agree.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.actor import PUBLIC, Actor
from domain.policy import Action, allowed_on_report
from domain.services.common import report_facts
from domain.services.reports import readable_reports_q
from models import Report
from schema.ids import to_global_id
from tests.app_fixtures import CITIZEN_EMAIL, DEMO_VIEWERS, GQL, People, agency_gid
from tests.factories import actor_for, ok, submit, verify
from tests.schema.privacy import (
    ACCEPT,
    ASSIGN,
    HOLD,
    INTERIM,
    RETURN,
    SUPPORT,
    WHERE,
    escalate,
    identity_by_path,
    listed,
    population,
)


async def actor_of(who: str) -> Actor:
    """The policy's Actor for a viewer name of `people`."""
    if who == "public":
        return PUBLIC
    email = CITIZEN_EMAIL if who == "citizen" else DEMO_VIEWERS[who]
    return await actor_for(email)


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
    return (
        report,
        assignment_id,
        {
            "node": report["id"],
            "assignment node": assignment_id,
            "follow-up node": interim["followUps"][0]["id"],
            "event node": (await line_ids(coord, report["id"]))[0],
        },
    )


async def line_ids(coordinator: GQL, report_id: str) -> list[str]:
    """The global ids of a report's timeline lines, oldest first, as its coordinator sees them."""
    data = await coordinator(
        "query($id: ID!) { node(id: $id) { ... on Report {"
        " timeline { edges { node { id } } } } } }",
        {"id": report_id},
    )
    return [e["node"]["id"] for e in data["node"]["timeline"]["edges"]]


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
        # DPUPR returned it: no longer involved, it reads the public report as anyone does.
        "dpupr": outsider,
        "officer": desk,
    }
    # Nor are the lines reachable through `node(id:)` by those who may not see them.
    for who in ("public", "reporter", "citizen"):
        for event_id in event_ids[:2]:
            data = await people[who]("query($id: ID!) { node(id: $id) { id } }", {"id": event_id})
            assert data["node"] is None, who


# ------------------------------------------------------ the SQL filter and the pure policy


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
    await population(people)
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


# ------------------------------------------------------------- access follows involvement

RECORD = """query($ag: ID!) { inbox(agencyId: $ag) { edges { node {
  id status returnReason assignedAt suggestedAgency { code } followUps { message }
  report { trackingCode title body withheld address latitude longitude reporter { name }
           assignments { id } timeline { edges { node { kind } } } rating } } } } }"""


async def test_an_agency_that_returned_a_report_keeps_only_the_record_of_its_assignment(
    people: People,
) -> None:
    """Issue 12, finding 2 (high): after DPUPR returned a confidential report it kept reading
    it, DINKES's later follow-up included. Access now follows current involvement."""
    coord, dpupr, officer = people["coordinator"], people["dpupr"], people["officer"]
    report = await submit(people["reporter"], confidential=True, **WHERE)
    (wrong,) = await verify(coord, report["id"], "DPUPR")
    while_assigned = await readable_via(dpupr, report, {"node": report["id"]})
    await ok(dpupr, RETURN, id=wrong, suggested=await agency_gid("DINKES"))
    right = (await ok(coord, ASSIGN, id=report["id"], agency=await agency_gid("DINKES")))["id"]
    await ok(officer, ACCEPT, id=right)
    interim = await ok(officer, INTERIM, id=right)
    nodes = {
        "node": report["id"],
        "DINKES's assignment": right,
        "DINKES's follow-up": interim["followUps"][0]["id"],
        "event node": (await line_ids(coord, report["id"]))[-1],
    }

    after = await readable_via(dpupr, report, nodes)
    inbox = await dpupr(RECORD, {"ag": await agency_gid("DPUPR")})
    (own,) = [e["node"] for e in inbox["inbox"]["edges"] if e["node"]["id"] == wrong]
    by_node = await dpupr("query($id: ID!) { node(id: $id) { id } }", {"id": wrong})

    assert while_assigned == dict.fromkeys(while_assigned, True)
    assert after == dict.fromkeys(after, False)
    # It keeps the record of its own assignment: the tracking code, dates, its reason.
    assert by_node["node"] == {"id": wrong}
    assert own["status"] == "RETURNED"
    assert own["returnReason"] == "not ours"
    assert own["suggestedAgency"] == {"code": "DINKES"}
    assert own["report"] == {
        "trackingCode": report["trackingCode"],
        "title": "",
        "body": "",
        "withheld": True,
        "address": None,
        "latitude": None,
        "longitude": None,
        "reporter": None,
        "assignments": [],
        "timeline": {"edges": []},
        "rating": None,
    }
    # DINKES, involved now, reads all of it.
    assert (await readable_via(officer, report, nodes)) == dict.fromkeys(nodes, True) | {
        "list": True,
        "search": True,
        "detail": True,
    }
