"""Finding reports by their words (issue 15, docs/adr/0028): ranked search over title and body,
and the candidates most like a given text. Reading mechanics only: the callers give the query
already filtered by the access policy's SQL twin (domain/services/reports.py), so a match is
only ever looked for among what the viewer may read.

The expressions below are those of the indexes of models/migrations/0007_search.py (a test
holds them together): full-text search with PostgreSQL's Snowball `indonesian` configuration,
which strips Indonesian affixes (jalanan -> jalan, kerusakan -> rusak), and pg_trgm's word
similarity for typos and partial words. Every score is a function of one report and the
query alone (no corpus statistics): a report the viewer may not read cannot move another's.
The work is bounded: only the newest matches the viewer may read are ranked (the windows
below), whatever the number of reports that share a common word."""

from __future__ import annotations

from typing import Any

from tortoise.queryset import QuerySet

from domain.errors import DomainError, ErrorCode
from domain.services.reading import Page, PageRequest, page_of
from models import rows

# The document's lexemes, its title's weighing more than its body's: a column PostgreSQL
# generates from them (models/migrations/0007_search.py).
VECTOR = "r.search_vector"
# The same text for trigrams.
TEXT = "(r.title || ' ' || r.body)"
# Words too common to say anything (the Snowball configuration has no Indonesian stop list);
# they are stemmed by the same configuration before they are compared.
STOP_WORDS = (
    "yang dan di ke dari untuk dengan pada ini itu ada tidak sudah belum akan juga atau "
    "karena oleh saya kami kita mereka dia sangat lagi masih sejak sampai agar bisa dapat "
    "mohon tolong harap pak bu bapak ibu"
)
# A rank is the score times this, as an integer: a cursor carries it exactly.
RANK_SCALE = 1_000_000
# Ranks are bigints (a score is about 2 at most): a cursor's beyond that is refused.
MAX_RANK = 2**63 - 1
# How many candidates of the best text are scored on place, category and time.
CANDIDATES = 100

# How many candidates PostgreSQL orders by a cheap measure (the titles' trigrams and the rank
# of any shared word) before it measures their text part.
PRESELECTED = 5 * CANDIDATES
# A search ranks the newest this many matches the viewer may read (docs/adr/0028): the work
# is bounded by it, not by how many reports share a common word. Older matches are reached
# by narrowing the search (createdBefore, region, category), which the window comes after.
SEARCH_WINDOW = 500
# Similar reports are looked for among the newest this many of the region's reports (within
# the caller's window of time) that share a word.
SIMILAR_WINDOW = 1000
# When the words find fewer reports than the window, the newest this many close in spelling
# (trigrams) are added: a typo's matches, each of which costs a word similarity of its text.
SPELLING_WINDOW = 100
# ... looked for among the newest this many reports the viewer may read, at most: a word
# similarity costs about 25 µs a text, and a typo of a rare word would otherwise be measured
# against every report back to its hundredth close spelling (257 to 344 ms at 1,000,000).
# Further back, a misspelt word is found by narrowing the search, as older matches are.
SPELLING_SCAN = 1000

# Words of a tsvector: its lexemes less the stop words, and less words of one or two letters.
_WORDS = """ARRAY(
    SELECT l FROM unnest(tsvector_to_array({vector})) l
    WHERE length(l) > 2 AND l <> ALL(
        tsvector_to_array(to_tsvector('indonesian'::regconfig, {stop}::text))))"""


def _words(text: str, stop: str) -> str:
    """The words of a text (an SQL expression)."""
    return _WORDS.format(vector=f"to_tsvector('indonesian'::regconfig, {text})", stop=stop)


def _every_word(words: str) -> str:
    """A tsquery of every lexeme of `words` (an SQL array); NULL when there are none. The
    `simple` configuration takes the lexemes as they are: they are stemmed already, and no
    text is parsed as tsquery syntax."""
    return f"plainto_tsquery('simple'::regconfig, NULLIF(array_to_string({words}, ' '), ''))"


def _any_word(words: str) -> str:
    """A tsquery of any lexeme of `words` (an SQL array); NULL when there are none."""
    return (
        f"websearch_to_tsquery('simple'::regconfig, NULLIF(array_to_string({words}, ' or '), ''))"
    )


def _newest(readable: str, by_words: str, by_spelling: str, window: str, spelled: str) -> str:
    """CTEs ending in `matched`: the ids of the newest `window` reports of `readable` (an SQL
    condition on report r: what the viewer may read, filtered) that match `by_words`; when
    fewer than `window` do, with the newest `spelled` of the newest SPELLING_SCAN that match
    `by_spelling` too. The words' branch stops a backward scan of the primary key early when
    they are common, or takes the index's bitmap when they are rare (the planner tells them
    apart by the words' statistics, given their values: rows.planned_for_values); spelling,
    dear to measure on every report, is looked at only when the words find too few, and on
    the newest reports only. Each limit comes after the access filter: what the viewer may
    not read takes no place in a window, nor in the scan, nor decides for spelling."""
    return f"""
        by_words AS MATERIALIZED (
            SELECT r.id FROM report r
            WHERE {readable} AND {by_words} ORDER BY r.id DESC LIMIT {window}),
        by_spelling AS (
            SELECT r.id FROM (
                SELECT r.id, r.title, r.body FROM report r
                WHERE (SELECT count(*) FROM by_words) < {window} AND {readable}
                ORDER BY r.id DESC LIMIT {SPELLING_SCAN}) r
            WHERE {by_spelling} ORDER BY r.id DESC LIMIT {spelled}),
        matched AS (
            SELECT id FROM by_words UNION SELECT id FROM by_spelling
            ORDER BY id DESC LIMIT {window})"""


async def ranked_page(
    query: QuerySet[Any], term: str, request: PageRequest, more: str
) -> Page[tuple[Any, tuple[Any, ...]]]:
    """Rows of `query` whose title or body matches `term` (every word, affixes aside, or the
    term's trigrams when the words find few), best first then newest, among the newest
    SEARCH_WINDOW matches: a keyset page on (rank, id). Items are (report row, `more`'s
    columns)."""
    if request.after_id is not None and request.after_rank is None:
        raise DomainError(ErrorCode.VALIDATION, "a cursor of another list", ["after"])
    sql, params = rows.where_of(query)
    n = len(params)
    t, every_word, after_rank, after_id, limit, window, spelled = (f"${n + i}" for i in range(1, 8))
    matches = _newest(
        sql, f"{VECTOR} @@ {every_word}::tsquery", f"{t}::text <% {TEXT}", window, spelled
    )
    statement = f"""
        WITH {matches},
        hit AS (
            SELECT r.id, ({RANK_SCALE} * (
                coalesce(ts_rank({VECTOR}, {every_word}::tsquery), 0)
                + word_similarity({t}::text, {TEXT})))::bigint AS rank
            FROM matched m JOIN report r ON r.id = m.id
        )
        SELECT {rows.REPORT.columns_of("r")}, {more}, hit.rank
        FROM hit JOIN report r ON r.id = hit.id
        WHERE {after_rank}::bigint IS NULL OR (hit.rank, hit.id) < ({after_rank}, {after_id})
        ORDER BY hit.rank DESC, hit.id DESC LIMIT {limit}
    """
    # Only with the term's lexemes as a value can PostgreSQL tell a common word (walk back
    # the newest reports) from a rare one (the index's bitmap).
    async with rows.planned_for_values() as conn:
        words = await conn.fetchval(
            f"SELECT {_every_word(_words('$1::text', '$2'))}::text", term, STOP_WORDS
        )
        found = await rows.select_on(
            conn,
            rows.REPORT,
            statement,
            *params,
            term,
            words,
            request.after_rank,
            request.after_id,
            request.size + 1,
            SEARCH_WINDOW,
            SPELLING_WINDOW,
        )
    items = [(row, rest[:-1]) for row, rest in found]
    ranks = {row.id: rest[-1] for row, rest in found}
    return page_of(items, request, [row.id for row, _ in found], ranks)


async def alike(
    query: QuerySet[Any], title: str, body: str, more: str
) -> list[tuple[Any, tuple[Any, ...], float, tuple[str, ...]]]:
    """The rows of `query` whose words are most like `title` and `body`, best first, at most
    CANDIDATES: (report row, `more`'s columns, text part in [0, 1], the words shared). The
    text part is half the trigram similarity of the titles, half the Dice coefficient of the
    two texts' words; a candidate is among the newest SIMILAR_WINDOW that share a word (or
    most of the title's trigrams, when few share one), and among the PRESELECTED best of
    those by the titles' trigrams and the rank of the shared words."""
    sql, params = rows.where_of(query)
    n = len(params)
    t, words, any_word, stop, limit, preselected, window, spelled = (
        f"${n + i}" for i in range(1, 9)
    )
    doc_words = _WORDS.format(vector=VECTOR, stop=stop)
    probe = _words("$1::text || ' ' || $2::text", "$3")
    matches = _newest(
        sql, f"{VECTOR} @@ {any_word}::tsquery", f"{t}::text <% {TEXT}", window, spelled
    )
    statement = f"""
        WITH {matches},
        preselected AS (
            SELECT r.id, similarity(r.title, {t}::text) AS titles
            FROM matched m JOIN report r ON r.id = m.id
            ORDER BY similarity(r.title, {t}::text)
                     + coalesce(ts_rank({VECTOR}, {any_word}::tsquery), 0) DESC, r.id DESC
            LIMIT {preselected}
        ),
        candidate AS (
            SELECT p.id, p.titles, {doc_words} AS words
            FROM preselected p JOIN report r ON r.id = p.id
        ),
        scored AS (
            SELECT c.id, shared.words AS shared,
                   0.5 * c.titles + 0.5 * coalesce(2.0 * cardinality(shared.words)
                       / NULLIF(cardinality(c.words) + cardinality({words}::text[]), 0), 0)
                   AS text
            FROM candidate c,
                 LATERAL (SELECT ARRAY(SELECT unnest(c.words)
                                       INTERSECT SELECT unnest({words}::text[])
                                       ORDER BY 1) AS words) shared
            ORDER BY text DESC, c.id DESC LIMIT {limit}
        )
        SELECT {rows.REPORT.columns_of("r")}, {more}, scored.text::float8, scored.shared
        FROM scored JOIN report r ON r.id = scored.id
        ORDER BY scored.text DESC, scored.id DESC
    """
    async with rows.planned_for_values() as conn:
        probe_words, any_words = await conn.fetchrow(
            f"SELECT w.words, {_any_word('w.words')}::text FROM (SELECT {probe} AS words) w",
            title,
            body,
            STOP_WORDS,
        )
        found = await rows.select_on(
            conn,
            rows.REPORT,
            statement,
            *params,
            title,
            probe_words,
            any_words,
            STOP_WORDS,
            CANDIDATES,
            PRESELECTED,
            SIMILAR_WINDOW,
            SPELLING_WINDOW,
        )
    return [(row, rest[:-2], float(rest[-2]), tuple(rest[-1])) for row, rest in found]
