"""Open311 GeoReport v2 over HTTP: the spec's field names and filters, and the privacy rules
of GraphQL's public view: no confidential or unverified report, no anonymous reporter's
identity, address or coordinates, nobody's name or e-mail."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models import Category, User
from schema.ids import to_global_id
from tests.app_fixtures import GQL, JAYAPURA, JEMBER, People, region_gid
from tests.factories import ok, report_input, submit, verify
from tests.files import authored_pdf, leaked, phone_jpeg
from tests.schema.privacy import ANSWER

BASE = "/open311/v2"
HIDE_FILE = """mutation($id: ID!, $reason: String!) {
  attachmentHide(attachmentId: $id, reason: $reason) { attachment { id } errors { code } } }"""
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
WHERE = {"address": "Jl. Kalimantan 37, Sumbersari", "latitude": -8.16, "longitude": 113.72}


async def _get(gql: GQL, path: str, **params: Any) -> Any:
    response = await gql.client.get(BASE + path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return response.json()


async def _a_category() -> str:
    category = await Category.all().order_by("code").first()
    assert category is not None
    return to_global_id("Category", category.id)


@pytest.fixture
async def reports(people: People) -> dict[str, dict[str, str]]:
    """Reports of every kind the privacy rules tell apart, by name."""
    reporter, coordinator, officer = people["reporter"], people["coordinator"], people["officer"]
    category = await _a_category()
    made = {
        "public": await submit(reporter, categoryId=category, **WHERE),
        "anonymous": await submit(reporter, anonymous=True, categoryId=category, **WHERE),
        "confidential": await submit(reporter, confidential=True, **WHERE),
        "unverified": await submit(reporter, **WHERE),
    }
    for name in ("public", "anonymous", "confidential"):
        (assignment,) = await verify(coordinator, made[name]["id"], "DINKES")
        made[name]["assignment"] = assignment
    await ok(
        officer,
        """mutation($id: ID!) { assignmentAccept(assignmentId: $id, tier: SIMPLE) {
         assignment { id } errors { code field message } } }""",
        id=made["public"]["assignment"],
    )
    await ok(officer, ANSWER, id=made["public"]["assignment"])
    return made


async def test_services_are_the_categories(gql: GQL) -> None:
    services = await _get(gql, "/services.json")
    codes = {c.code: c.name for c in await Category.all()}
    assert {s["service_code"]: s["service_name"] for s in services} == codes
    for service in services:
        assert set(service) == {
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group",
        }
        assert service["metadata"] is False and service["type"] == "realtime"


async def test_requests_are_the_public_reports_with_the_specs_fields(
    gql: GQL, reports: dict[str, dict[str, str]]
) -> None:
    listed = await _get(gql, "/requests.json")
    by_id = {r["service_request_id"]: r for r in listed}
    assert set(by_id) == {reports["public"]["trackingCode"], reports["anonymous"]["trackingCode"]}
    for request in listed:
        assert set(request) == REQUEST_FIELDS
        assert request["status"] == "open"
        assert request["agency_responsible"] == "Dinas Kesehatan"
        assert request["requested_datetime"].endswith("+07:00")  # Jember keeps WIB
        datetime.fromisoformat(request["updated_datetime"])
        assert request["service_code"] is not None
    public = by_id[reports["public"]["trackingCode"]]
    assert public["address"] == WHERE["address"]
    assert (public["lat"], public["long"]) == (WHERE["latitude"], WHERE["longitude"])
    assert public["status_notes"] == "Sudah"  # the agency's final answer
    assert public["description"].startswith("Antrean puskesmas terlalu lama\n\n")


async def test_an_anonymous_report_shows_no_place_and_nobody_is_named(
    gql: GQL, reports: dict[str, dict[str, str]]
) -> None:
    anonymous = (await _get(gql, f"/requests/{reports['anonymous']['trackingCode']}.json"))[0]
    assert (anonymous["address"], anonymous["lat"], anonymous["long"]) == (None, None, None)
    reporter = await User.get(email="warga@jember.demo")
    everything = (await gql.client.get(BASE + "/requests.json")).text
    assert reporter.name not in everything and reporter.email not in everything


@pytest.mark.parametrize("which", ["confidential", "unverified"])
async def test_a_report_the_public_may_not_read_is_not_found(
    gql: GQL, reports: dict[str, dict[str, str]], which: str
) -> None:
    code = reports[which]["trackingCode"]
    response = await gql.client.get(f"{BASE}/requests/{code}.json")
    assert response.status_code == 404
    assert response.json() == [
        {"code": 404, "description": "no public service request with this id"}
    ]
    assert await _get(gql, "/requests.json", service_request_id=code) == []


async def test_the_filters_of_the_spec(gql: GQL, reports: dict[str, dict[str, str]]) -> None:
    public, anonymous = reports["public"]["trackingCode"], reports["anonymous"]["trackingCode"]
    codes = f"{public},{anonymous},{reports['confidential']['trackingCode']}"
    assert {
        r["service_request_id"] for r in await _get(gql, "/requests.json", service_request_id=codes)
    } == {public, anonymous}
    assert await _get(gql, "/requests.json", status="closed") == []
    assert len(await _get(gql, "/requests.json", status="open,closed")) == 2
    service = (await _get(gql, f"/requests/{public}.json"))[0]["service_code"]
    assert len(await _get(gql, "/requests.json", service_code=service)) == 2
    assert await _get(gql, "/requests.json", service_code="NO-SUCH-SERVICE") == []
    now = datetime.now(UTC)
    window = {"start_date": (now - timedelta(hours=1)).isoformat(), "end_date": now.isoformat()}
    assert len(await _get(gql, "/requests.json", **window)) == 2
    earlier = {
        "start_date": (now - timedelta(days=30)).isoformat(),
        "end_date": (now - timedelta(days=29)).isoformat(),
    }
    assert await _get(gql, "/requests.json", **earlier) == []
    assert len(await _get(gql, "/requests.json", jurisdiction_id=JEMBER)) == 2
    assert await _get(gql, "/requests.json", jurisdiction_id=JAYAPURA) == []


async def test_a_closed_report_is_closed(
    gql: GQL, people: People, reports: dict[str, dict[str, str]]
) -> None:
    await ok(
        people["reporter"],
        """mutation($id: ID!) { reportRate(reportId: $id, rating: 5) {
         report { id } errors { code field message } } }""",
        id=reports["public"]["id"],
    )
    (closed,) = await _get(gql, "/requests.json", status="closed")
    assert closed["service_request_id"] == reports["public"]["trackingCode"]
    assert closed["status"] == "closed"


async def test_a_page_is_limited_and_links_to_the_next(gql: GQL, people: People) -> None:
    made = [await submit(people["reporter"]) for _ in range(3)]
    for report in made:
        await verify(people["coordinator"], report["id"], "DINKES")
    first = await gql.client.get(BASE + "/requests.json", params={"page_size": 2})
    assert [r["service_request_id"] for r in first.json()] == [
        made[2]["trackingCode"],
        made[1]["trackingCode"],
    ]
    link = first.headers["link"]
    assert link.endswith('; rel="next"')
    second = await gql.client.get(link[1 : link.index(">")])
    assert [r["service_request_id"] for r in second.json()] == [made[0]["trackingCode"]]
    assert "link" not in second.headers


CURSOR_BEYOND_BIGINT = base64.urlsafe_b64encode(f"k:{10**30}".encode()).decode()


@pytest.mark.parametrize(
    ("path", "params", "status", "words"),
    [
        ("/requests.json", {"start_date": "yesterday"}, 400, "W3C date-time"),
        ("/requests.json", {"start_date": "2026-01-05T00:00:00"}, 400, "time zone"),
        (
            "/requests.json",
            {"start_date": "2026-01-05T00:00:00Z", "end_date": "2026-06-05T00:00:00Z"},
            400,
            "90 days",
        ),
        (
            "/requests.json",
            {"start_date": "2026-02-05T00:00:00Z", "end_date": "2026-01-05T00:00:00Z"},
            400,
            "after end_date",
        ),
        ("/requests.json", {"status": "pending"}, 400, "open or closed"),
        ("/requests.json", {"page_size": "1000"}, 400, "page_size"),
        ("/requests.json", {"after": "garbage"}, 400, "cursor"),
        # Issue 13: each of these was a bare 500 (a value out of PostgreSQL's bounds).
        ("/requests.json", {"jurisdiction_id": "x" * 10_000}, 400, "jurisdiction_id"),
        ("/requests.json", {"jurisdiction_id": "35.09\x00"}, 400, "jurisdiction_id"),
        ("/requests.json", {"after": CURSOR_BEYOND_BIGINT}, 400, "after"),
        ("/requests.json", {"end_date": "9999-12-31T23:59:59-14:00"}, 400, "end_date"),
        ("/requests.json", {"start_date": "0001-01-01T00:00:00+14:00"}, 400, "start_date"),
        ("/requests.json", {"page_size": "\u00b2"}, 400, "page_size"),
        ("/requests.json", {"service_code": "a\x00"}, 400, "service_code"),
        ("/requests/LPR-AAAA-AAA%00.json", {}, 400, "service request id"),
        ("/requests.json", {"jurisdiction_id": "99.99"}, 404, "jurisdiction"),
        ("/requests.xml", {}, 400, "json"),
        ("/services.xml", {}, 400, "json"),
    ],
)
async def test_bad_input_gets_a_clear_error_in_the_specs_format(
    gql: GQL, path: str, params: dict[str, str], status: int, words: str
) -> None:
    response = await gql.client.get(BASE + path, params=params)
    assert response.status_code == status, response.text
    (error,) = response.json()
    assert error["code"] == status and words in error["description"]


async def test_discovery_names_the_endpoint(gql: GQL) -> None:
    discovery = await _get(gql, "/discovery.json")
    (endpoint,) = discovery["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://lapor.test/open311/v2"


async def test_the_reading_functions_agree_with_graphql(
    gql: GQL, reports: dict[str, dict[str, str]]
) -> None:
    # The same public list as GraphQL gives the public, in the same order.
    data = await gql("{ reports(first: 100) { edges { node { trackingCode address } } } }")
    from_graphql = [
        (e["node"]["trackingCode"], e["node"]["address"]) for e in data["reports"]["edges"]
    ]
    from_open311 = [
        (r["service_request_id"], r["address"]) for r in await _get(gql, "/requests.json")
    ]
    assert from_open311 == from_graphql
    assert len(from_graphql) == 2


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "9999-12-30T00:00:00Z"},  # its window would end after year 9999
        {"end_date": "0001-01-02T00:00:00Z"},  # and this one's start before year 1
    ],
)
async def test_a_window_at_the_edge_of_time_is_held_within_it(
    gql: GQL, params: dict[str, str]
) -> None:
    assert await _get(gql, "/requests.json", **params) == []


async def test_media_url_is_the_first_public_photo_without_its_metadata(
    gql: GQL, people: People
) -> None:
    """A public report's first photo (a PDF does not count) is `media_url`, a signed link whose
    bytes carry no GPS or device tags; once the desk hides it, the report has no media_url."""
    files = {
        "variables.input.attachments.0": ("surat.pdf", authored_pdf(), "application/pdf"),
        "variables.input.attachments.1": ("foto.jpg", phone_jpeg(), "image/jpeg"),
    }
    region = await region_gid(JEMBER)
    sent = await people["reporter"].upload(
        "mutation($input: ReportSubmitInput!) { reportSubmit(input: $input) {"
        " report { id trackingCode attachments { id contentType } } errors { code } } }",
        {"input": {**report_input(region), "attachments": [None, None]}},
        files,
    )
    report = sent.json()["data"]["reportSubmit"]["report"]
    path = f"/requests/{report['trackingCode']}.json"
    await verify(people["coordinator"], report["id"], "DINKES")

    (listed,) = await _get(gql, path)
    served = await gql.client.get(listed["media_url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert leaked(served.content) == []

    photo = report["attachments"][1]["id"]
    await ok(people["coordinator"], HIDE_FILE, id=photo, reason="Wajah terlihat")
    assert (await _get(gql, path))[0]["media_url"] is None
    assert (await gql.client.get(listed["media_url"])).status_code == 404
