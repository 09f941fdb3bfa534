"""Search and similar reports (issue 15) against a raw SQL floor of the same statement: how much
the service adds to what PostgreSQL takes, and whether the statements use the indexes.

On a throwaway PostgreSQL (tests/harness.py) with the demo data and `--reports` reports (bench/
read_path.py's fill, then words of a vocabulary of Indonesian complaints: a subject drawn with
a skewed law, a problem, a place, a qualifier, and one to six sentences of a pool, so that
"jalan" is in about half the reports, a deliberately common word, and "ktp elektronik" in
under 1 %), each scenario is run in process, one call after the other, `--runs` times after a
warm-up:

- Lapor: the domain's use case as the resolver calls it (the policy's filter, the ORM's SQL,
  the rows, the views and the scores), without HTTP or GraphQL;
- the floor: the very statement Lapor sent (caught on its way, with its parameters) on a
  connection of its own, its rows fetched and nothing else.

It prints p50 and p99 of each and their ratio, and the plan of each statement (EXPLAIN
ANALYZE): the index scans and the rows it scored.

    .venv/bin/python -m bench.search [--reports 20000] [--runs 30] [--warmup 3]
        [--only common,rare,typo,desk,public_similar,similar] [--keep [DIR]]

`--keep` keeps the cluster in DIR (default /tmp/lapor-bench-search) and uses it again when it
holds as many reports, migrated again first; a fill of 1,000,000 takes minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.read_path import fill
from bench.service import (
    STATEMENTS,
    database_exists,
    kept_server,
    login,
    machine,
    prepare,
    production_env,
    start,
    stop,
    wait_healthy,
)
from domain.actor import PUBLIC, Actor
from domain.services import reports, search
from domain.services.accounts import actor_for_user
from domain.services.reading import PageRequest
from lapor.servers import free_port
from models import Region, Report, User, rows
from models.db import apply_migrations, database
from schema.ids import to_global_id
from tests.harness import PostgresCluster, RedisServer

DATABASE = "lapor_bench_search"
WARMUP = 3
KEEP_DIR = "/tmp/lapor-bench-search"
COORDINATOR = "koordinator@jember.demo"
# A server sized for its million reports, as production's would be: the table (1.1 GB at
# 1,000,000 reports) and its indexes fit in PostgreSQL's own cache.
SETTINGS = {**STATEMENTS, "shared_buffers": "2GB"}

# ----------------------------------------------------------------------------- the corpus

# What citizens write about, most common first: a report's subject is drawn with a skewed
# (Zipf-like) law, so "jalan" is in about half the reports and "ktp elektronik" in under 1 %.
SUBJECTS = [
    "Jalan",
    "Lampu penerangan jalan",
    "Sampah",
    "Saluran air",
    "Jalan desa",
    "Drainase",
    "Jembatan",
    "Pelayanan puskesmas",
    "Air PDAM",
    "Trotoar",
    "Antrean rumah sakit",
    "Bantuan sosial",
    "Parkir liar",
    "Pedagang kaki lima",
    "Listrik PLN",
    "Pungutan liar",
    "Sekolah dasar",
    "Angkutan umum",
    "Pohon tumbang",
    "Taman kota",
    "Pasar tradisional",
    "Kartu keluarga",
    "BPJS kesehatan",
    "Izin bangunan",
    "Limbah pabrik",
    "Asap pembakaran",
    "Gas elpiji",
    "Harga pupuk",
    "Irigasi sawah",
    "Posyandu",
    "Sinyal telepon",
    "Internet desa",
    "Anjing liar",
    "Kebisingan pabrik",
    "Terminal bus",
    "Guru honorer",
    "Ambulans desa",
    "Pemadam kebakaran",
    "KTP elektronik",
    "Akta kelahiran",
]
PROBLEMS = [
    "rusak",
    "berlubang",
    "mati",
    "tersumbat",
    "menumpuk",
    "retak",
    "ambruk",
    "tidak berfungsi",
    "lambat",
    "mahal",
    "tidak merata",
    "terlambat",
    "bocor",
    "kotor",
    "macet",
    "dipersulit",
    "tidak jelas",
    "ditutup",
    "tergenang",
    "longsor",
    "hilang",
    "kurang",
    "berbahaya",
    "dibiarkan",
]
# Places of Jember, Surabaya and Jayapura; many are streets ("Jalan ...").
PLACES = [
    "Jalan Kalimantan",
    "Jalan Mastrip",
    "Jalan Gajah Mada",
    "Jalan Trunojoyo",
    "Jalan Sudarman",
    "Jalan Hayam Wuruk",
    "Jalan Basuki Rahmat",
    "Jalan Ahmad Yani",
    "Desa Sukorambi",
    "Kecamatan Patrang",
    "Kelurahan Sumbersari",
    "Pasar Tanjung",
    "Perumahan Bumi Mangli",
    "Desa Ajung",
    "Kecamatan Kaliwates",
    "Desa Panti",
    "Kecamatan Arjasa",
    "Dusun Krajan",
    "Kelurahan Gebang",
    "Desa Antirogo",
    "Kecamatan Wonokromo",
    "Kelurahan Ngagel",
    "Kampung Harapan",
    "Distrik Abepura",
    "Kelurahan Entrop",
    "Desa Sentani",
    "Perumahan Griya Mangli",
    "Desa Kemuning",
    "Kelurahan Tegal Besar",
    "Desa Rambipuji",
]
QUALIFIERS = [
    "",
    "",
    "",
    "parah",
    "sudah lama",
    "sejak bulan lalu",
    "membahayakan warga",
    "tolong segera",
    "berbulan-bulan",
    "setiap hari",
    "lagi",
    "tidak ada perbaikan",
]
SENTENCES = [
    "Sudah beberapa minggu tidak ada perbaikan.",
    "Warga sudah melapor ke kelurahan tetapi belum ada tindakan.",
    "Anak-anak sekolah terpaksa lewat jalan lain.",
    "Motor sering jatuh di malam hari.",
    "Mohon dinas terkait segera turun ke lapangan.",
    "Kami sudah mengirim surat ke kecamatan.",
    "Petugas tidak pernah datang.",
    "Kondisi makin parah saat hujan deras.",
    "Banyak lansia yang kesulitan.",
    "Bau busuk tercium sampai ke rumah warga.",
    "Antrean panjang sejak subuh.",
    "Pelayanan sangat lambat dan petugas kurang ramah.",
    "Biaya yang diminta tidak sesuai aturan.",
    "Air keruh dan berbau.",
    "Lubangnya besar dan dalam.",
    "Sudah ada korban kecelakaan bulan ini.",
    "Lampu mati total setiap malam.",
    "Pedagang memakai badan jalan.",
    "Truk besar sering lewat sehingga aspal mengelupas.",
    "Saluran tersumbat sampah plastik.",
    "Rumah warga kebanjiran setinggi lutut.",
    "Pasien ditolak dengan alasan kamar penuh.",
    "Data kami tidak terdaftar di sistem.",
    "Kami diminta datang berkali-kali.",
    "Tidak ada papan informasi.",
    "Pekerjaan proyek ditinggalkan begitu saja.",
    "Tiang listrik miring hampir roboh.",
    "Pohon besar menghalangi jalan.",
    "Anjing berkeliaran dan menggigit anak.",
    "Asap hitam mengganggu pernapasan.",
    "Suara mesin terdengar sampai tengah malam.",
    "Harga di pengecer jauh di atas HET.",
    "Sawah kekeringan karena air tidak mengalir.",
    "Sinyal hilang sejak menara dipindah.",
    "Guru sering tidak hadir.",
    "Jadwal bus tidak menentu.",
    "Sudah difoto dan dilampirkan.",
    "Terima kasih atas perhatiannya.",
    "Mohon ditindaklanjuti.",
    "Kami berharap ada solusi secepatnya.",
]

# Every report's title and body from the vocabulary: "<subject> <problem> di <place>
# [qualifier]", and a body of that sentence and one to six others. random() is seeded by the
# caller, so a fill is the same each time. $1 subjects, $2 problems, $3 places, $4 qualifiers,
# $5 sentences.
CORPUS = """
UPDATE report AS r SET title = w.title, body = w.title || '. ' || w.rest
FROM (
    SELECT p.id, p.subject || ' ' || p.problem || ' di ' || p.place
            || CASE WHEN p.qualifier = '' THEN '' ELSE ' ' || p.qualifier END AS title,
        p.rest
    FROM (
        SELECT r.id,
            ($1::text[])[1 + floor(cardinality($1::text[]) * random() ^ 3)::int] AS subject,
            lower(($2::text[])[1 + floor(cardinality($2::text[]) * random() ^ 1.5)::int])
                AS problem,
            ($3::text[])[1 + floor(cardinality($3::text[]) * random())::int] AS place,
            ($4::text[])[1 + floor(cardinality($4::text[]) * random())::int] AS qualifier,
            array_to_string(ARRAY(
                SELECT ($5::text[])[1 + floor(cardinality($5::text[]) * random())::int]
                FROM generate_series(1, 1 + floor(random() * 6)::int + 0 * r.id)
            ), ' ') AS rest
        FROM report r
    ) AS p
) AS w
WHERE r.id = w.id
"""


async def fill_corpus(url: str, reports: int) -> float:
    """Fill the migrated, seeded database with `reports` reports (bench/read_path.py's fill),
    then give them words of the vocabulary above; the search indexes are built after. Seconds."""
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'report' "
            "AND indexname LIKE 'report_search%'"
        )
        for index in indexes:
            await conn.execute(f"DROP INDEX {index['indexname']}")
    finally:
        await conn.close()
    await fill(url, reports)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET maintenance_work_mem = '512MB'")
        await conn.execute("SELECT setseed(0.15)")
        await conn.execute(CORPUS, SUBJECTS, PROBLEMS, PLACES, QUALIFIERS, SENTENCES)
        for index in indexes:
            await conn.execute(index["indexdef"])
        await conn.execute("VACUUM ANALYZE report")
    finally:
        await conn.close()
    return time.perf_counter() - started


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    call: Callable[[], Awaitable[Any]]
    # The same question over HTTP: a GraphQL query, its variables, and whether it is asked
    # as Jember's coordinator (else anonymously).
    query: str
    variables: dict[str, Any]
    as_coordinator: bool = False


SEARCH = """query($q: String!) { reports(filter: {search: $q}, first: 20) {
  edges { node { id title status createdAt } } pageInfo { endCursor hasNextPage } } }"""
SIMILAR_PUBLIC = """query($title: String!, $body: String, $region: ID!) {
  similarPublicReports(title: $title, body: $body, regionId: $region) { id title } }"""
SIMILAR = """query($id: ID!) { node(id: $id) { ... on Report {
  similar { score words report { id title } } } } }"""


async def _scenarios(now: datetime) -> list[Scenario]:
    jember = await Region.get(code="35.09")
    coordinator = await actor_for_user((await User.get(email=COORDINATOR)).id)
    report = await Report.filter(region_id=jember.id, status="IN_PROGRESS").order_by("-id").first()
    assert report is not None
    (view,) = (await reports.reports_by_ids(coordinator, [report.id])).values()
    page = PageRequest(20, None, 20, 100)

    def search(actor: Actor, term: str) -> Callable[[], Awaitable[Any]]:
        query = reports.ReportQuery(search=term)
        return lambda: reports.list_reports(actor, now, query, page)

    probe = reports.SimilarQuery(
        "Jalan berlubang di dekat pasar", "Lubangnya besar, motor jatuh.", jember.id
    )

    def searched(name: str, title: str, actor: Actor, term: str) -> Scenario:
        return Scenario(name, title, search(actor, term), SEARCH, {"q": term}, actor is not PUBLIC)

    draft = {"title": probe.title, "body": probe.body, "region": to_global_id("Region", jember.id)}
    return [
        searched("common", 'search "jalan", public, first 20', PUBLIC, "jalan"),
        searched("rare", 'search "ktp elektronik", public', PUBLIC, "ktp elektronik"),
        searched("middling", 'search "bantuan sosial", public', PUBLIC, "bantuan sosial"),
        searched("sampah", 'search "sampah", public', PUBLIC, "sampah"),
        searched("typo", 'search "penerangn jalam", public', PUBLIC, "penerangn jalam"),
        searched("rare_typo", 'search "ktp elektronk", public', PUBLIC, "ktp elektronk"),
        searched("desk", 'search "jalan", Jember coordinator', coordinator, "jalan"),
        Scenario(
            "public_similar",
            "similarPublicReports, Jember, public",
            lambda: reports.similar_public_reports(PUBLIC, now, probe),
            SIMILAR_PUBLIC,
            draft,
        ),
        Scenario(
            "similar",
            "Report.similar, Jember coordinator",
            lambda: reports.similar_reports(coordinator, now, view, None),
            SIMILAR,
            {"id": to_global_id("Report", report.id)},
            as_coordinator=True,
        ),
    ]


async def _caught(call: Callable[[], Awaitable[Any]]) -> tuple[str, list[Any]]:
    """The search statement `call` sends (the last one through rows.select_on)."""
    sent: list[tuple[str, list[Any]]] = []
    original = rows.select_on

    async def catching(conn: Any, shape: Any, sql: str, *params: Any) -> Any:
        sent.append((sql, list(params)))
        return await original(conn, shape, sql, *params)

    rows.select_on = catching  # type: ignore[assignment]
    try:
        await call()
    finally:
        rows.select_on = original  # type: ignore[assignment]
    return sent[-1]


def _alone(floor: asyncpg.Connection, sql: str, params: list[Any]) -> Callable[[], Awaitable[Any]]:
    """The statement run alone on the floor's connection, its rows fetched."""
    return lambda: floor.fetch(sql, *params)


async def _timed(call: Callable[[], Awaitable[Any]], runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        await call()
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        took.append(time.perf_counter() - started)
    return took


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


async def run(
    url: str, runs: int, warmup: int, only: set[str] | None = None, api: str | None = None
) -> None:
    """Each scenario in process and its floor (and over HTTP to `api`, when given): p50 and
    p99 of each, then the floor's plans."""
    now = datetime.now(UTC)
    token = login(api, COORDINATOR) if api else None
    http = httpx.AsyncClient(timeout=60)
    floor = await asyncpg.connect(url)
    # As Lapor plans its search statements (search._planned_for_values): for their values.
    await floor.execute("SET plan_cache_mode = force_custom_plan")
    try:
        async with database(url):
            scenarios = await _scenarios(now)
            http_head = f"{'http p50':>11}{'p99':>9}" if api else ""
            print(f"{'scenario':<16}{'lapor p50':>11}{'p99':>9}{'floor p50':>11}{'p99':>9}"
                  f"{'p99 ratio':>11}  rows{http_head}")  # fmt: skip
            plans = []
            for s in scenarios:
                if only is not None and s.name not in only:
                    continue
                sql, params = await _caught(s.call)
                found = await floor.fetch(sql, *params)
                lapor = await _timed(s.call, runs, warmup)
                raw = await _timed(_alone(floor, sql, params), runs, warmup)
                over_http = ""
                if api:
                    headers = {"Authorization": f"Bearer {token}"} if s.as_coordinator else {}
                    asked = await _timed(_asked(http, api, s, headers), runs, warmup)
                    over_http = f"{_p(asked, 50):>9.2f}ms{_p(asked, 99):>7.2f}ms"
                print(
                    f"{s.name:<16}{_p(lapor, 50):>9.2f}ms{_p(lapor, 99):>7.2f}ms"
                    f"{_p(raw, 50):>9.2f}ms{_p(raw, 99):>7.2f}ms"
                    f"{_p(lapor, 99) / _p(raw, 99):>11.2f}  {len(found):>4}{over_http}",
                    flush=True,
                )
                plan = await floor.fetch(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", *params)
                plans.append((s, [r[0] for r in plan]))
            for s, lines in plans:
                print(f"\n{s.name}: {s.title}")
                for line in lines:
                    if any(w in line for w in ("Index", "Scan", "Execution", "Sort", "rows=")):
                        print(f"  {line.strip()[:150]}")
    finally:
        await floor.close()
        await http.aclose()


def _asked(
    http: httpx.AsyncClient, api: str, s: Scenario, headers: dict[str, str]
) -> Callable[[], Awaitable[Any]]:
    """The scenario's GraphQL query posted to the API, its answer read (errors refused)."""

    async def ask() -> None:
        answer = await http.post(
            f"{api}/graphql", json={"query": s.query, "variables": s.variables}, headers=headers
        )
        body = answer.json()
        if answer.status_code != 200 or body.get("errors"):
            raise SystemExit(f"{s.name}: {answer.status_code} {body}")

    return ask


@contextlib.contextmanager
def api_process(url: str) -> Iterator[str]:
    """One `lapor api` on the database at `url` (and a Redis of its own), as in production:
    its base URL. Its log is printed if it does not start."""
    with RedisServer() as redis, tempfile.TemporaryDirectory() as logs:
        port, log = free_port(), Path(logs) / "api.log"
        api = start(
            ["-m", "lapor", "api", "--port", str(port)],
            {**production_env(redis.url), "LAPOR_DATABASE_URL": url},
            log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(f"{base}/healthz", api, log)
            yield base
        finally:
            stop([api])


@contextlib.contextmanager
def filled_database(reports: int, keep: str | None) -> Iterator[str]:
    """The URL of a migrated database with the demo and `reports` reports of the corpus:
    throwaway, or kept in `keep` and used again when it holds as many (migrated again, so
    a new migration applies to it)."""
    if keep is None:
        with PostgresCluster(settings=SETTINGS) as cluster:
            url = cluster.create_database(DATABASE)
            asyncio.run(prepare(url, ()))
            print(f"{reports:,} reports filled in {asyncio.run(fill_corpus(url, reports)):.1f} s")
            yield url
        return
    with kept_server(keep, SETTINGS) as server:
        url = server.database_url(DATABASE)
        if asyncio.run(_kept(server.url, url)) == reports:
            asyncio.run(apply_migrations(url))
            print(f"{reports:,} reports kept in {keep}")
        else:
            url = server.create_database(DATABASE)
            asyncio.run(prepare(url, ()))
            seconds = asyncio.run(fill_corpus(url, reports))
            asyncio.run(_remember(url, reports))
            print(f"{reports:,} reports filled in {seconds:.1f} s, kept in {keep}")
        yield url


async def _kept(server_url: str, url: str) -> int | None:
    """How many reports a kept database was filled with, if it was."""
    if not await database_exists(server_url, DATABASE):
        return None
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT reports FROM bench_search")  # type: ignore[no-any-return]
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()


async def _remember(url: str, reports: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE bench_search (reports int)")
        await conn.execute("INSERT INTO bench_search VALUES ($1)", reports)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=WARMUP, help="calls before the timed runs")
    parser.add_argument(
        "--search-window", type=int, default=search.SEARCH_WINDOW, help="matches a search ranks"
    )
    parser.add_argument(
        "--similar-window",
        type=int,
        default=search.SIMILAR_WINDOW,
        help="reports sharing a word that similar reports are chosen from",
    )
    parser.add_argument(
        "--spelling-window",
        type=int,
        default=search.SPELLING_WINDOW,
        help="close spellings added when the words find too few",
    )
    parser.add_argument(
        "--http", action="store_true", help="ask each question of one `lapor api` too"
    )
    parser.add_argument(
        "--spelling-scan",
        type=int,
        default=search.SPELLING_SCAN,
        help="newest reports a typo is looked for among",
    )
    parser.add_argument("--only", help="scenarios to run, comma separated (all by default)")
    parser.add_argument(
        "--keep", nargs="?", const=KEEP_DIR, help=f"keep the cluster in DIR ({KEEP_DIR})"
    )
    args = parser.parse_args()
    print(machine())
    only = set(args.only.split(",")) if args.only else None
    search.SEARCH_WINDOW, search.SIMILAR_WINDOW = args.search_window, args.similar_window
    search.SPELLING_WINDOW, search.SPELLING_SCAN = args.spelling_window, args.spelling_scan
    print(
        f"windows: search {search.SEARCH_WINDOW:,}, similar {search.SIMILAR_WINDOW:,}, "
        f"spelling {search.SPELLING_WINDOW:,} of the newest {search.SPELLING_SCAN:,}"
    )
    with filled_database(args.reports, args.keep) as url:
        if not args.http:
            asyncio.run(run(url, args.runs, args.warmup, only))
            return
        with api_process(url) as api:
            asyncio.run(run(url, args.runs, args.warmup, only, api))


if __name__ == "__main__":
    main()
