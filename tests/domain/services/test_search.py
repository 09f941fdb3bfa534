"""Search and similar reports (issue 15, docs/adr/0028) on a small fixed Indonesian corpus, on
PostgreSQL: affixes (jalan/jalanan, rusak/kerusakan), word order, typos and partial words find
the expected reports first; ranked pages page by (rank, id); and what a viewer may not read
changes nothing in what they get, neither which reports nor their order."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.actor import PUBLIC, Actor
from domain.errors import DomainError
from domain.services import reports, search
from domain.services.reading import PageRequest
from domain.services.reports import ReportQuery, SimilarQuery
from models import Report, rows
from tests.factories import actor_for, demo_agency, demo_region, new_complaint, utc

NOW = utc(2026, 3, 2, 2, 0)  # a Monday morning in Jember
COORDINATOR = "koordinator@jember.demo"
# The corpus: (key, title, body), all public in Jember unless a test says otherwise.
CORPUS = [
    ("kalimantan", "Jalan rusak parah di Jalan Kalimantan", "Banyak lubang, motor sering jatuh."),
    ("pasar", "Kerusakan jalanan dekat Pasar Tanjung", "Aspal mengelupas sepanjang 200 meter."),
    ("lampu", "Lampu penerangan jalan mati", "Sudah seminggu gelap di malam hari."),
    ("sampah", "Sampah menumpuk di selokan", "Bau busuk dan banjir kalau hujan deras."),
    ("puskesmas", "Puskesmas tutup siang hari", "Pasien ditolak petugas jaga."),
    ("banjir", "Banjir di perumahan Mastrip", "Air masuk rumah warga setinggi lutut."),
]
# Places in Jember (WGS84): Kalimantan street, and 300 m from it, and across town.
KALIMANTAN = (-8.1650, 113.7170)
NEARBY = (-8.1677, 113.7170)
ACROSS_TOWN = (-8.2000, 113.6500)


async def _public(title: str, body: str, at: datetime, **fields: object) -> Report:
    """A complaint verified to Dinkes at `at`: in progress, public unless confidential."""
    report = await new_complaint(at, title=title, body=body, **fields)
    dinkes = await demo_agency("DINKES")
    await reports.verify(await actor_for(COORDINATOR), at, report.id, [dinkes.id], None, None)
    return report


async def _corpus(**places: tuple[float, float]) -> dict[str, int]:
    made = {}
    for i, (key, title, body) in enumerate(CORPUS):
        lat, lon = places.get(key, (None, None))
        at = NOW - timedelta(days=10 - i)
        made[key] = (await _public(title, body, at, latitude=lat, longitude=lon)).id
    return made


async def _search(actor: Actor, term: str, first: int = 20, after: tuple[int, int] | None = None):  # type: ignore[no-untyped-def]
    request = PageRequest(first, after[1] if after else None, 20, 100, after[0] if after else None)
    return await reports.list_reports(actor, NOW, ReportQuery(search=term), request)


async def _found(actor: Actor, term: str) -> list[int]:
    return [v.id for v in (await _search(actor, term)).items]


@pytest.mark.parametrize(
    ("term", "first", "also"),
    [
        ("jalan rusak", "kalimantan", {"pasar"}),  # kerusakan jalanan: the affixes stripped
        ("rusak jalan", "kalimantan", {"pasar"}),  # the order of words does not matter
        ("kerusakan jalanan", "pasar", {"kalimantan"}),
        ("jalan rsak", "kalimantan", set()),  # a typo
        ("kerusakn", "pasar", set()),  # a typo of an affixed word
        ("sampa", "sampah", set()),  # a word not finished
        ("banjir", "banjir", {"sampah"}),  # title before body
        ("lampu jalan", "lampu", set()),
    ],
)
async def test_search_finds_the_expected_reports_first(
    db: str, term: str, first: str, also: set[str]
) -> None:
    made = await _corpus()
    key = {v: k for k, v in made.items()}
    found = [key[i] for i in await _found(PUBLIC, term)]
    assert found[:1] == [first], found
    assert also <= set(found[1:]), found
    assert "puskesmas" not in found


async def test_search_does_not_find_what_shares_no_word(db: str) -> None:
    await _corpus()
    assert await _found(PUBLIC, "ambulans terlambat") == []


async def test_a_tracking_code_still_finds_its_report_alone(db: str) -> None:
    made = await _corpus()
    code = (await Report.get(id=made["lampu"])).tracking_code
    assert await _found(PUBLIC, code.lower()) == [made["lampu"]]


async def _by_pages(actor: Actor, term: str, first: int) -> list[int]:
    """What a search finds, following its cursors page after page to the end."""
    seen: list[int] = []
    after = None
    while True:
        page = await _search(actor, term, first=first, after=after)
        seen += [v.id for v in page.items]
        if not page.has_next:
            return seen
        assert page.scanned_to is not None and page.ranks is not None
        after = (page.ranks[page.scanned_to], page.scanned_to)


async def test_ranked_pages_neither_repeat_nor_skip(db: str) -> None:
    await _corpus()
    for i in range(7):
        await _public(f"Jalan berlubang nomor {i}", "jalan rusak lagi", NOW)
    everything = await _found(PUBLIC, "jalan")
    seen = await _by_pages(PUBLIC, "jalan", 3)
    assert seen == everything and len(seen) == len(set(seen)) >= 10


async def test_a_ranked_cursor_is_refused_by_a_list_by_id(db: str) -> None:
    with pytest.raises(DomainError) as refused:
        await reports.list_reports(PUBLIC, NOW, ReportQuery(), PageRequest(5, 10, 20, 100, 7))
    assert refused.value.field == ["after"]


@pytest.mark.parametrize("flag", ["confidential", "unverified"])
async def test_a_report_the_viewer_may_not_read_changes_nothing_they_get(
    db: str, flag: str
) -> None:
    """Neither which reports, nor their order, nor the pages' cursors."""
    await _corpus(kalimantan=KALIMANTAN)
    citizen = await actor_for("warga@jember.demo")
    other = await actor_for(COORDINATOR)
    probe = SimilarQuery(
        "Jalan rusak parah", "lubang", (await demo_region()).id, *NEARBY, first=100
    )

    async def answers(actor: Actor) -> list[object]:
        page = await _search(actor, "jalan rusak", first=1)
        public = await reports.similar_public_reports(actor, NOW, probe)
        return [
            [(v.id, v.title) for v in page.items],
            (page.has_next, page.scanned_to, page.ranks),
            [(s.report.id, s.likeness) for s in public],
        ]

    public_before = await answers(PUBLIC)
    neighbour_before = await answers(await actor_for_neighbour())
    title, body = "Jalan rusak parah sekali RAHASIA", "Jalan Kalimantan berlubang, rusak parah."
    if flag == "confidential":
        hidden = await _public(title, body, NOW, confidential=True, latitude=KALIMANTAN[0])
    else:
        hidden = await new_complaint(NOW, title=title, body=body)
    assert public_before == await answers(PUBLIC)
    assert neighbour_before == await answers(await actor_for_neighbour())
    # Those who may read it find it: the search is the same one.
    assert hidden.id in await _found(other, "jalan rusak")
    assert hidden.id in await _found(citizen, "jalan rusak")


async def actor_for_neighbour() -> Actor:
    """A signed-in citizen who reported none of these (the demo's officer of another region
    would do too): the Jayapura coordinator reads nothing of Jember's but the public."""
    return await actor_for("koordinator@jayapura.demo")


async def test_similar_public_reports_ranks_words_then_place(db: str) -> None:
    made = await _corpus(kalimantan=KALIMANTAN, pasar=ACROSS_TOWN)
    region = (await demo_region()).id
    query = SimilarQuery("Jalan berlubang dan rusak", "motor jatuh di lubang", region, *NEARBY)
    found = await reports.similar_public_reports(PUBLIC, NOW, query)
    assert [s.report.id for s in found][:2] == [made["kalimantan"], made["pasar"]]
    best = found[0].likeness
    assert best.distance_km is not None and 0.2 < best.distance_km < 0.4
    assert {"rusak", "lubang", "motor", "jatuh"} <= set(best.words)
    assert made["puskesmas"] not in [s.report.id for s in found]


async def test_similar_public_reports_refuses_a_province(db: str) -> None:
    jatim = await demo_region("35")
    with pytest.raises(DomainError) as refused:
        await reports.similar_public_reports(PUBLIC, NOW, SimilarQuery("Jalan", None, jatim.id))
    assert refused.value.field == ["regionId"]


async def test_similar_reports_are_for_the_desk_and_say_why(db: str) -> None:
    made = await _corpus(kalimantan=KALIMANTAN, pasar=ACROSS_TOWN)
    twin = await _public(
        "Jalan Kalimantan rusak, banyak lubang",
        "Lubang besar bikin motor jatuh.",
        NOW,
        latitude=NEARBY[0],
        longitude=NEARBY[1],
    )
    coordinator = await actor_for(COORDINATOR)
    (view,) = (await reports.reports_by_ids(coordinator, [twin.id])).values()
    found = await reports.similar_reports(coordinator, NOW, view, None)
    assert [s.report.id for s in found][:2] == [made["kalimantan"], made["pasar"]]
    assert twin.id not in [s.report.id for s in found]
    best = found[0].likeness
    assert best.place is not None and best.place > 0.7 and best.text > 0.3
    assert best.score > found[1].likeness.score
    # The reporter and the public read the report but are not its desk.
    for actor in (await actor_for("warga@jember.demo"), PUBLIC):
        (theirs,) = (await reports.reports_by_ids(actor, [twin.id])).values()
        assert await reports.similar_reports(actor, NOW, theirs, None) == []


async def test_the_search_expressions_are_those_of_the_migrations_indexes(db: str) -> None:
    """The planner uses an expression index only for the same expression: a change on one
    side alone would make every search a sequential scan."""
    await _corpus()
    async with in_transaction() as conn:
        await conn.execute_script("SET LOCAL enable_seqscan = off")
        _, plan = await conn.execute_query(
            f"EXPLAIN SELECT r.id FROM report r WHERE {search.VECTOR} @@ to_tsquery("
            f"'indonesian', 'jalan') OR 'jalan' <% {search.TEXT}"
        )
    text = "\n".join(row[0] for row in plan)
    assert "report_search_vector" in text and "report_search_trigrams" in text, text


@pytest.mark.parametrize(
    "term",
    [
        "jalan' & | ! (rusak",
        "a\\b 'c' \"d\"",
        "yang di ke",
        "!!!",
        "jalan:* <-> rusak",
        "a-b jum'at",
    ],
)
async def test_any_text_is_words_never_query_syntax(db: str, term: str) -> None:
    made = await _corpus()
    found = await _found(PUBLIC, term)
    assert made["puskesmas"] not in found
    region = (await demo_region()).id
    await reports.similar_public_reports(PUBLIC, NOW, SimilarQuery(term, term, region))
    if term.startswith("jalan"):
        assert made["kalimantan"] in found


async def test_a_search_ranks_the_newest_matches_of_its_window_only(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window bounds the work: older matches are not found, and its pages are whole."""
    monkeypatch.setattr(search, "SEARCH_WINDOW", 4)
    made = [
        (await _public(f"Jalan rusak nomor {i}", "aspal hancur", NOW - timedelta(days=9 - i))).id
        for i in range(6)
    ]
    everything = await _found(PUBLIC, "jalan rusak")
    assert sorted(everything) == sorted(made[2:])
    assert await _by_pages(PUBLIC, "jalan rusak", 1) == everything
    # Narrowing the search moves the window to older matches.
    older = ReportQuery(search="jalan rusak", created_before=NOW - timedelta(days=6))
    page = await reports.list_reports(PUBLIC, NOW, older, PageRequest(20, None, 20, 100))
    assert sorted(v.id for v in page.items) == sorted(made[:3])


@pytest.mark.parametrize("flag", ["confidential", "unverified"])
async def test_newer_reports_the_viewer_may_not_read_take_no_place_in_the_window(
    db: str, flag: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The windows come after the access filter: a flood of unreadable matches newer than
    the public ones pushes none of these out of a search nor of the similar reports."""
    monkeypatch.setattr(search, "SEARCH_WINDOW", 3)
    monkeypatch.setattr(search, "SIMILAR_WINDOW", 3)
    await _corpus(kalimantan=KALIMANTAN)
    probe = SimilarQuery("Jalan rusak parah", "lubang", (await demo_region()).id, *NEARBY)

    async def answers() -> list[object]:
        page = await _search(PUBLIC, "jalan rusak", first=20)
        similar = await reports.similar_public_reports(PUBLIC, NOW, probe)
        return [[(v.id, page.ranks) for v in page.items], [s.report.id for s in similar]]

    before = await answers()
    assert before[0] and before[1]
    for i in range(4):
        title, body = f"Jalan rusak parah RAHASIA {i}", "Jalan Kalimantan berlubang, rusak."
        if flag == "confidential":
            await _public(title, body, NOW, confidential=True)
        else:
            await new_complaint(NOW, title=title, body=body)
    assert await answers() == before


async def test_spelling_is_looked_at_only_when_the_words_find_too_few(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Close spellings (a typo's matches) are added when the words fill less than the window."""
    words = [(await _public(f"Jalan rusak nomor {i}", "aspal", NOW)).id for i in range(2)]
    typo = (await _public("Jalan rsak sekali", "aspal hancur", NOW)).id
    monkeypatch.setattr(search, "SEARCH_WINDOW", 3)
    assert sorted(await _found(PUBLIC, "jalan rusak")) == sorted([*words, typo])
    monkeypatch.setattr(search, "SEARCH_WINDOW", 2)
    assert sorted(await _found(PUBLIC, "jalan rusak")) == sorted(words)


async def test_a_typo_is_looked_for_among_the_newest_readable_reports_only(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spelling is measured on the newest SPELLING_SCAN reports the viewer may read: an older
    close spelling is found by narrowing the search, and newer reports the viewer may not read
    take no place in the scan."""
    monkeypatch.setattr(search, "SPELLING_SCAN", 2)
    old = (await _public("Lampu penerangan padam", "gelap", NOW - timedelta(days=5))).id
    for i in range(2):
        await _public(f"Sampah menumpuk {i}", "bau", NOW)
    assert await _found(PUBLIC, "penerangn") == []
    older = ReportQuery(search="penerangn", created_before=NOW - timedelta(days=1))
    page = await reports.list_reports(PUBLIC, NOW, older, PageRequest(20, None, 20, 100))
    assert [v.id for v in page.items] == [old]
    # Two reports the public may not read, newer than the old one: the scan still reaches it
    # once the newest readable reports are out of the way.
    await _public("Lampu penerangan rusak RAHASIA", "gelap", NOW, confidential=True)
    await new_complaint(NOW, title="Lampu penerangan mati", body="gelap")
    monkeypatch.setattr(search, "SPELLING_SCAN", 3)
    assert await _found(PUBLIC, "penerangn") == [old]


async def test_a_search_filters_the_rows_itself_with_the_policys_whole_condition(db: str) -> None:
    """The policy's condition comes in parentheses (an OR of it cannot swallow the search's
    AND), and a query with an order or a limit, which a condition cannot carry, is refused."""
    assert rows.where_of(Report.all()) == ("TRUE", [])
    either = Report.filter(Q(confidential=False) | Q(reporter_id=7))
    condition, params = rows.where_of(either)
    assert condition.startswith("(") and condition.endswith(")") and " OR " in condition
    assert params == [False, 7]
    for ordered in (Report.all().order_by("-id"), Report.all().limit(5)):
        with pytest.raises(ValueError):
            rows.where_of(ordered)
