"""DateTime values reach clients as `isoformat()` text: the executor hands UTC datetimes to the
response's JSON writer as they are (schema/scalars.py), so the writer is what makes the text."""

from __future__ import annotations

from datetime import timedelta

from tests.app_fixtures import DEMO_VIEWERS, GQL
from tests.factories import new_complaint, utc

PAGE = """query($code: String!) { report(trackingCode: $code) {
  createdAt dueAt timeline(first: 5) { edges { node { at } } } } }"""


async def test_datetimes_are_shown_as_isoformat(gql: GQL) -> None:
    for at in (utc(2026, 3, 17, 3, 0), utc(2026, 3, 17, 3, 0) + timedelta(microseconds=4560)):
        report = await new_complaint(at)
        reporter = await gql.sign_in(DEMO_VIEWERS["reporter"])
        shown = (await reporter(PAGE, {"code": report.tracking_code}))["report"]
        assert shown["createdAt"] == report.created_at.isoformat() == at.isoformat()
        assert report.due_at is not None
        assert shown["dueAt"] == report.due_at.isoformat()
        assert [e["node"]["at"] for e in shown["timeline"]["edges"]] == [at.isoformat()]
