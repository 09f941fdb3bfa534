"""The data the tests make, made one way: every test that needs a complaint, an actor or a report
at some stage of its story asks here rather than writing its own.

Two levels, as the tests have:

- The use cases (domain/services), for tests on PostgreSQL without HTTP: `actor_for` an
  e-mail, `demo_region` and `demo_agency`, and `submit_complaint` / `new_complaint`.
- GraphQL over HTTP (tests.app_fixtures.GQL), for the schema and the app: the documents of
  the contract's mutations, how an answer is read (`call`, `ok`, `refused`), reports at each
  stage (`submit`, `verify`, `in_progress`, `responded`, `miss_deadline`) and `state`, the
  report as its coordinator sees it, which refusal tests compare before and after.

Everything here stands on the demo data the session seeds (lapor/demo.py); the accounts are
those of tests.app_fixtures.DEMO_VIEWERS.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from domain.actor import Actor
from domain.services import reports
from domain.services.accounts import actor_for_user
from domain.services.common import Outcome
from domain.services.reports import SubmitInput
from models import Agency, Assignment, Region, Report, User
from models.enums import ReportKind
from tests.app_fixtures import DEMO_VIEWERS, GQL, JEMBER, People, agency_gid, pk, region_gid


def utc(*args: int) -> datetime:
    """A moment in UTC: utc(2026, 3, 17, 3, 0) is 10:00 WIB on Tuesday 17 March 2026."""
    return datetime(*args, tzinfo=UTC)


# ============================================================= the use cases (no HTTP)


async def actor_for(email: str) -> Actor:
    """The policy's Actor of the user with this e-mail (a demo account or one a test made)."""
    return await actor_for_user((await User.get(email=email)).id)


async def demo_region(code: str = JEMBER) -> Region:
    """A region of the demo data by its code (Jember, 35.09, unless told)."""
    return await Region.get(code=code)


async def demo_agency(code: str, region: str = JEMBER) -> Agency:
    """An agency of the demo data by its code and its region's code (Jember unless told)."""
    return await Agency.get(code=code, region__code=region)


# The text of a complaint unless a test writes its own. It names a patient: what is sent
# about a confidential report must not carry her name (tests/domain/services/test_fanout.py).
COMPLAINT_TITLE = "Puskesmas tutup siang hari"
COMPLAINT_BODY = "Pelayanan berhenti jam 11, pasien Bu Sumiati ditolak."


async def submit_complaint(
    at: datetime,
    *,
    by: str | Actor = DEMO_VIEWERS["reporter"],
    region: str = JEMBER,
    title: str = COMPLAINT_TITLE,
    body: str = COMPLAINT_BODY,
    **fields: Any,
) -> Outcome:
    """A complaint submitted at `at` through the use case (`reports.submit`): its outcome,
    the report with its `report.submitted` event and outbox row, not yet relayed.

    `by` is the reporter, an e-mail (the demo citizen unless told) or an Actor; `region` the
    region's code; `fields` the rest of SubmitInput (anonymous, confidential,
    ombudsman_consent, category_id, ...).
    """
    reporter = by if isinstance(by, Actor) else await actor_for(by)
    return await reports.submit(
        reporter,
        at,
        SubmitInput(
            kind=ReportKind.COMPLAINT,
            title=title,
            body=body,
            region_id=(await demo_region(region)).id,
            **fields,
        ),
    )


async def new_complaint(at: datetime, **options: Any) -> Report:
    """The report of `submit_complaint(at, **options)`, for tests that need no outbox."""
    return (await submit_complaint(at, **options)).report


# ======================================================================= GraphQL over HTTP

# --------------------------------------------------------------- the mutations' documents

ERRORS = "errors { code field message retryAfter }"
REPORT = "id trackingCode status dueAt supportCount reopenCount rating"
ASSIGNMENT = "id status tier dueAt returnReason agency { code } suggestedAgency { code }"

REGISTER = f"""mutation($input: RegisterInput!) {{
  authRegister(input: $input) {{ token user {{ name email roles }} {ERRORS} }}
}}"""
LOGIN = f"""mutation($email: String!, $password: String!) {{
  authLogin(email: $email, password: $password) {{ token user {{ email roles }} {ERRORS} }}
}}"""
SUBMIT = f"""mutation($input: ReportSubmitInput!) {{
  reportSubmit(input: $input) {{ report {{ {REPORT} reporter {{ email }} }} {ERRORS} }}
}}"""
ADD_INFO = f"""mutation($id: ID!, $message: String!) {{
  reportAddInfo(reportId: $id, message: $message) {{ report {{ {REPORT} }} {ERRORS} }}
}}"""
SUPPORT = f"""mutation($id: ID!) {{
  reportSupport(reportId: $id) {{ report {{ {REPORT} }} {ERRORS} }}
}}"""
RATE = f"""mutation($id: ID!, $rating: Int!) {{
  reportRate(reportId: $id, rating: $rating, comment: "Terima kasih") {{
    report {{ {REPORT} }} {ERRORS}
  }}
}}"""
DISPUTE = f"""mutation($id: ID!) {{
  reportDispute(reportId: $id, reason: "Masih antre lima jam") {{
    report {{ {REPORT} assignments {{ status }} }} {ERRORS}
  }}
}}"""
VERIFY = f"""mutation($id: ID!, $agencies: [ID!]!) {{
  reportVerify(reportId: $id, agencyIds: $agencies, note: "mohon ditindaklanjuti") {{
    report {{ {REPORT} assignments {{ {ASSIGNMENT} }} }} {ERRORS}
  }}
}}"""
HOLD = f"""mutation($id: ID!, $reason: String!) {{
  reportHold(reportId: $id, reason: $reason) {{ report {{ {REPORT} }} {ERRORS} }}
}}"""
ARCHIVE = f"""mutation($id: ID!, $duplicateOf: ID) {{
  reportArchive(reportId: $id, reason: "duplikat", duplicateOfId: $duplicateOf) {{
    report {{ {REPORT} }} {ERRORS}
  }}
}}"""
ASSIGN = f"""mutation($id: ID!, $agency: ID!) {{
  reportAssign(reportId: $id, agencyId: $agency, note: "sesuai saran") {{
    assignment {{ {ASSIGNMENT} }} {ERRORS}
  }}
}}"""
ESCALATE = f"""mutation($id: ID!) {{
  reportEscalate(reportId: $id, reason: "tenggat terlewati") {{ report {{ {REPORT} }} {ERRORS} }}
}}"""
CLOSE = f"""mutation($id: ID!) {{
  reportClose(reportId: $id, note: "Sudah diselesaikan Ombudsman") {{
    report {{ {REPORT} }} {ERRORS}
  }}
}}"""
ACCEPT = f"""mutation($id: ID!, $tier: ResolutionTier!) {{
  assignmentAccept(assignmentId: $id, tier: $tier) {{ assignment {{ {ASSIGNMENT} }} {ERRORS} }}
}}"""
RETURN = f"""mutation($id: ID!, $suggested: ID) {{
  assignmentReturn(assignmentId: $id, reason: "bukan kewenangan kami",
                   suggestedAgencyId: $suggested) {{
    assignment {{ {ASSIGNMENT} }} {ERRORS}
  }}
}}"""
FORWARD = f"""mutation($id: ID!, $agency: ID!) {{
  assignmentForward(assignmentId: $id, agencyId: $agency, note: "cek lapangan") {{
    assignment {{ {ASSIGNMENT} }} {ERRORS}
  }}
}}"""
FOLLOW_UP = f"""mutation($id: ID!, $final: Boolean!, $resolution: ResolutionCode) {{
  assignmentFollowUp(assignmentId: $id, message: "Sudah kami tangani", final: $final,
                     resolution: $resolution) {{
    assignment {{ {ASSIGNMENT} followUps {{ final resolution }} }} {ERRORS}
  }}
}}"""
MARK_READ = "mutation($ids: [ID!]) { notificationsMarkRead(ids: $ids) }"
STATE = """query($id: ID!) { node(id: $id) { ... on Report {
  status dueAt supportCount reopenCount assignments { status tier agency { code } }
  timeline(first: 100) { edges { node { kind } } } } } }"""

# ----------------------------------------------------------------- reading the answers


async def call(client: GQL, mutation: str, **variables: Any) -> dict[str, Any]:
    """The payload of a one-mutation document (GraphQL-level errors fail the test)."""
    (payload,) = (await client(mutation, variables)).values()
    return payload  # type: ignore[no-any-return]


async def ok(client: GQL, mutation: str, **variables: Any) -> dict[str, Any]:
    """The report or assignment of an accepted mutation (its payload has no errors)."""
    return accepted(await call(client, mutation, **variables))


def accepted(payload: dict[str, Any]) -> dict[str, Any]:
    """The result of a mutation's payload that has no errors (the report, the assignment)."""
    assert payload["errors"] == [], payload["errors"]
    (result,) = (v for k, v in payload.items() if k != "errors")
    assert result is not None, payload
    return result  # type: ignore[no-any-return]


async def refused(
    client: GQL, mutation: str, code: str, field: list[str] | None = None, **variables: Any
) -> dict[str, Any]:
    """Assert the mutation is refused with `code` (and `field`, when given); return the error.

    A refusal carries a stable `errors[].code` (domain/errors.py) and, when an input is at
    fault, its `field`, and no result. That it changed nothing is for the test to show, by
    re-reading the report with `state` before and after.
    """
    payload = await call(client, mutation, **variables)
    assert [e["code"] for e in payload["errors"]] == [code], payload["errors"]
    assert all(v is None for k, v in payload.items() if k != "errors"), payload
    error: dict[str, Any] = payload["errors"][0]
    if field is not None:
        assert error["field"] == field, error
    assert error["message"], error
    return error


async def state(people: People, report_id: str) -> dict[str, Any]:
    """The report as the Jember coordinator sees it (every timeline line included)."""
    found = (await people["coordinator"](STATE, {"id": report_id}))["node"]
    assert found is not None
    found["timeline"] = [e["node"]["kind"] for e in found["timeline"]["edges"]]
    return found  # type: ignore[no-any-return]


# ------------------------------------------------------------- reports at each stage


def report_input(region_gid_: str, **fields: Any) -> dict[str, Any]:
    """A ReportSubmitInput: a complaint in the region of that global id, `fields` added."""
    return {
        "kind": "COMPLAINT",
        "title": "Antrean puskesmas terlalu lama",
        "body": "Kami menunggu lima jam di Puskesmas Sumbersari tanpa kepastian.",
        "regionId": region_gid_,
        **fields,
    }


async def submit(client: GQL, *, region: str = JEMBER, **fields: Any) -> dict[str, Any]:
    """A new complaint (SUBMITTED) by the signed-in `client` in `region` (a code): the report,
    with REPORT's fields and its reporter's e-mail. `fields` are ReportSubmitInput's."""
    return await ok(client, SUBMIT, input=report_input(await region_gid(region), **fields))


async def submit_files(
    client: GQL,
    document: str,
    files: Sequence[tuple[str, bytes, str]],
    *,
    region: str = JEMBER,
    **fields: Any,
) -> httpx.Response:
    """`document`, a reportSubmit of `$input`, sent by `client` as the GraphQL multipart request:
    a complaint in `region` (a code) with `files` (name, bytes, declared type) as its
    attachments; `fields` are ReportSubmitInput's."""
    given = report_input(await region_gid(region), attachments=[None] * len(files), **fields)
    paths = {f"variables.input.attachments.{i}": f for i, f in enumerate(files)}
    return await client.upload(document, {"input": given}, paths)


def uploaded(response: httpx.Response, name: str) -> dict[str, Any]:
    """The payload `name` of a multipart request's answer (any GraphQL-level error fails)."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"][name]  # type: ignore[no-any-return]


async def verify(coordinator: GQL, report_id: str, *codes: str, region: str = JEMBER) -> list[str]:
    """The coordinator verifies the report and forwards it to the agencies of these codes (of
    `region`); returns the new assignments' ids in `codes` order."""
    agencies = [await agency_gid(code, region) for code in codes]
    report = await ok(coordinator, VERIFY, id=report_id, agencies=agencies)
    by_code = {a["agency"]["code"]: a["id"] for a in report["assignments"]}
    return [by_code[code] for code in codes]


async def in_progress(people: People, *codes: str, **fields: Any) -> tuple[str, list[str]]:
    """The demo citizen's report, verified by the Jember coordinator and forwarded to `codes`
    (DINKES by default): its id and its assignments' ids."""
    report = await submit(people["reporter"], **fields)
    return report["id"], await verify(people["coordinator"], report["id"], *(codes or ("DINKES",)))


async def responded(people: People) -> tuple[str, str]:
    """A report DINKES accepted and answered finally (RESPONDED): its id and the assignment's."""
    report_id, (assignment_id,) = await in_progress(people)
    await ok(people["officer"], ACCEPT, id=assignment_id, tier="STANDARD")
    await ok(people["officer"], FOLLOW_UP, id=assignment_id, final=True, resolution="RESOLVED")
    assert (await state(people, report_id))["status"] == "RESPONDED"
    return report_id, assignment_id


async def miss_deadline(assignment_id: str) -> None:
    """Test setup: the agency's deadlines (current and resolution) passed yesterday."""
    past = datetime.now(UTC) - timedelta(days=1)
    await Assignment.filter(id=pk(assignment_id)).update(due_at=past, resolution_due_at=past)
