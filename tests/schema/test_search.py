"""Search and similar reports over GraphQL (issue 15): ranked pages follow their cursors to the
end, a cursor of one kind of list is refused by another, `similarPublicReports` shows citizens
public reports alone (an anonymous one's place never counts for them), and `Report.similar`
is for the report's desk and says why each report matched."""

from __future__ import annotations

from typing import Any

import pytest

from domain.services import search
from tests.app_fixtures import JEMBER, People, pk, region_gid
from tests.factories import in_progress, submit, verify

SEARCH = """query($q: String!, $first: Int, $after: String) {
  reports(filter: {search: $q}, first: $first, after: $after) {
    edges { cursor node { id title } }
    pageInfo { hasNextPage endCursor }
  }
}"""
SIMILAR_PUBLIC = """query($title: String!, $region: ID!, $lat: Float, $lon: Float) {
  similarPublicReports(title: $title, body: "lubang besar", regionId: $region,
                       latitude: $lat, longitude: $lon) { id title latitude }
}"""
SIMILAR = """query($id: ID!) { node(id: $id) { ... on Report {
  similar(first: 10) {
    score text words place distanceKm sameCategory time daysApart report { id title }
  }
} } }"""
ROAD = {"title": "Jalan rusak parah di Jalan Kalimantan", "body": "Banyak lubang besar."}
# Jalan Kalimantan, Jember, and a spot 300 m from it.
PLACE = {"latitude": -8.1650, "longitude": 113.7170}
NEAR = {"lat": -8.1677, "lon": 113.7170}


async def _pages(client: Any, term: str, first: int) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        found = (await client(SEARCH, {"q": term, "first": first, "after": after}))["reports"]
        ids += [e["node"]["id"] for e in found["edges"]]
        if not found["pageInfo"]["hasNextPage"]:
            return ids
        after = found["pageInfo"]["endCursor"]


async def test_a_search_pages_to_the_end_by_its_cursors(people: People) -> None:
    made = [
        (await in_progress(people, title=f"Jalan rusak nomor {i}", body="aspal hancur"))[0]
        for i in range(5)
    ]
    await in_progress(people, title="Puskesmas tutup", body="pasien ditolak")
    everything = await _pages(people["public"], "jalanan rusak", 100)
    assert sorted(everything) == sorted(made)
    assert await _pages(people["public"], "jalanan rusak", 2) == everything


async def test_a_cursor_of_a_search_is_refused_by_a_list_by_id_and_the_reverse(
    people: People,
) -> None:
    for i in range(3):
        await in_progress(people, title=f"Jalan rusak nomor {i}")
    public = people["public"]
    ranked = (await public(SEARCH, {"q": "jalan", "first": 1}))["reports"]["pageInfo"]
    plain = await public("{ reports(first: 1) { pageInfo { endCursor } } }")
    by_id = plain["reports"]["pageInfo"]["endCursor"]
    crossed = [
        ("query($a: String) { reports(first: 1, after: $a) { edges { cursor } } }", ranked),
        (SEARCH, {"endCursor": by_id}),
    ]
    for query, info in crossed:
        variables = {"q": "jalan", "a": info["endCursor"], "after": info["endCursor"]}
        response = await public.raw(query, variables)
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "VALIDATION", body
        assert body["errors"][0]["extensions"]["field"] == ["after"], body


async def test_similar_public_reports_shows_public_reports_alone(people: People) -> None:
    region = await region_gid(JEMBER)
    shown, _ = await in_progress(people, **ROAD, **PLACE)
    await submit(people["reporter"], **ROAD)  # not verified: not public
    await in_progress(people, **ROAD, confidential=True)
    # Anonymous: its place is the reporter's to hide, so it cannot bring it nearer.
    anonymous, _ = await in_progress(people, **ROAD, anonymous=True, **PLACE)
    variables = {"title": "Jalan Kalimantan rusak", "region": region, **NEAR}
    found = (await people["public"](SIMILAR_PUBLIC, variables))["similarPublicReports"]
    assert [r["id"] for r in found] == [shown, anonymous]
    assert found[1]["latitude"] is None
    elsewhere = {**variables, "region": await region_gid("35.78")}
    assert (await people["public"](SIMILAR_PUBLIC, elsewhere))["similarPublicReports"] == []


async def test_report_similar_is_for_its_desk_and_says_why(people: People) -> None:
    first, _ = await in_progress(people, **ROAD, **PLACE)
    await in_progress(people, title="Puskesmas tutup siang", body="pasien ditolak")
    again = await submit(
        people["citizen"],
        title="Jalan Kalimantan berlubang dan rusak",
        body="Lubang besar, motor jatuh.",
        latitude=NEAR["lat"],
        longitude=NEAR["lon"],
    )
    answer = await people["coordinator"](SIMILAR, {"id": again["id"]})
    (match,) = answer["node"]["similar"]
    assert match["report"]["id"] == first
    assert {"jalan", "rusak", "lubang", "besar"} <= set(match["words"])
    assert 0.2 < match["distanceKm"] < 0.4 and match["place"] > 0.7
    assert match["sameCategory"] is None and match["daysApart"] < 1
    assert 0 < match["text"] <= 1 and 0 < match["score"] <= 1
    # The reporter reads the report but is not its desk; an agency is not involved yet.
    assert (await people["citizen"](SIMILAR, {"id": again["id"]}))["node"]["similar"] == []
    assert (await people["officer"](SIMILAR, {"id": again["id"]}))["node"] is None
    # Once it is forwarded to Dinkes, Dinkes's desk sees what it may read: the one it has.
    await verify(people["coordinator"], again["id"], "DINKES")
    found = (await people["officer"](SIMILAR, {"id": again["id"]}))["node"]["similar"]
    assert [m["report"]["id"] for m in found] == [first]
    assert pk(first) != pk(again["id"])


async def test_created_before_reaches_the_matches_older_than_the_window(
    people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = [(await in_progress(people, title=f"Jalan rusak nomor {i}"))[0] for i in range(3)]
    monkeypatch.setattr(search, "SEARCH_WINDOW", 1)
    query = """query($q: String!, $before: DateTime) {
      reports(filter: {search: $q, createdBefore: $before}, first: 10) {
        edges { node { id createdAt } }
      }
    }"""
    public = people["public"]
    (newest,) = (await public(query, {"q": "jalan rusak"}))["reports"]["edges"]
    assert newest["node"]["id"] == made[2]
    before = {"q": "jalan rusak", "before": newest["node"]["createdAt"]}
    (older,) = (await public(query, before))["reports"]["edges"]
    assert older["node"]["id"] == made[1]
