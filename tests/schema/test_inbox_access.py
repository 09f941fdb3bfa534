"""Who may open an agency's inbox: its officers and head, and its region's coordinators."""

from __future__ import annotations

import pytest

from schema.ids import to_global_id
from tests.app_fixtures import GQL, agency_gid

INBOX = "query($a:ID!){inbox(agencyId:$a){edges{node{id}} pageInfo{hasNextPage}}}"


@pytest.mark.parametrize(
    ("email", "code"),
    [
        (None, "UNAUTHENTICATED"),
        ("warga@jember.demo", "FORBIDDEN"),
        ("pupr@jember.demo", "FORBIDDEN"),
        ("puskesmas@jember.demo", "FORBIDDEN"),
        ("koordinator@jayapura.demo", "FORBIDDEN"),
        ("admin@lapor.demo", "FORBIDDEN"),
        ("dinkes@jember.demo", None),
        ("kepala.dinkes@jember.demo", None),
        ("koordinator@jember.demo", None),
    ],
)
async def test_inbox_access(gql: GQL, email: str | None, code: str | None) -> None:
    client = await gql.sign_in(email) if email else gql
    response = await client.raw(INBOX, {"a": await agency_gid("DINKES")})
    body = response.json()
    if code is None:
        assert "errors" not in body, body
        assert body["data"]["inbox"]["pageInfo"]["hasNextPage"] is False
    else:
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == code


async def test_unknown_agency_is_not_found(gql: GQL) -> None:
    officer = await gql.sign_in("dinkes@jember.demo")
    body = (await officer.raw(INBOX, {"a": to_global_id("Agency", 999_999)})).json()
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert body["errors"][0]["extensions"]["field"] == ["agencyId"]
