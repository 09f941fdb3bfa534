"""Privacy over GraphQL, who learns who reported: an anonymous reporter is shown only to
the reporter and the region's coordinator, by every path (tests/schema/privacy.py) and in
mutation payloads, and is the actor of no timeline line; a named reporter is shown to other
citizens and the public without an e-mail address.
"""

from __future__ import annotations

from typing import Any

import pytest

from models import User
from tests.app_fixtures import DEMO_VIEWERS, People, agency_gid
from tests.factories import ok, submit, verify
from tests.schema.privacy import (
    ACCEPT,
    ADD_INFO,
    ANSWER,
    DISPUTE,
    HOLD,
    RATE,
    SUPPORT,
    WHERE,
    identity,
    identity_by_path,
    listed,
)

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
