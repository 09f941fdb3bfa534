"""The statements of the transparency figures (models/migrations/0006_transparency.py): the
tables have composite keys and are written by whole batches, which the ORM cannot say. They
run on the connection of the caller's transaction (Tortoise's current connection)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tortoise import connections

# (scope, scope id, first day of the month, measure, value)
CellKey = tuple[str, int, date, str, int]


def _db() -> Any:
    return connections.get("default")


async def claim_dirty(limit: int) -> list[int]:
    """Take up to `limit` marks of changed reports that no other transaction holds (SKIP
    LOCKED); they are gone when the caller commits and back if it rolls back. Returns the
    distinct report ids, ascending."""
    rows = await _db().execute_query_dict(
        """
        DELETE FROM perf_dirty WHERE id IN (
            SELECT id FROM perf_dirty ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
        ) RETURNING report_id
        """,
        [limit],
    )
    return sorted({int(r["report_id"]) for r in rows})


async def dirty_count() -> int:
    """How many marks of changed reports wait."""
    rows = await _db().execute_query_dict("SELECT count(*) AS n FROM perf_dirty")
    return int(rows[0]["n"])


async def lock_sources(report_ids: Sequence[int]) -> dict[int, dict[CellKey, int]]:
    """Lock what each report contributed (a fresh empty row for one never counted), in id
    order so that two workers never wait on each other in a cycle; returns it."""
    if not report_ids:
        return {}
    ids = sorted(report_ids)
    db = _db()
    await db.execute_query(
        "INSERT INTO perf_source (report_id) SELECT unnest($1::bigint[]) ORDER BY 1 "
        "ON CONFLICT (report_id) DO NOTHING",
        [ids],
    )
    rows = await db.execute_query_dict(
        "SELECT report_id, cells FROM perf_source WHERE report_id = ANY($1::bigint[]) "
        "ORDER BY report_id FOR UPDATE",
        [ids],
    )
    return {int(r["report_id"]): _cells(r["cells"]) for r in rows}


def _cells(raw: object) -> dict[CellKey, int]:
    items: Any = json.loads(raw) if isinstance(raw, str | bytes) else raw
    found: dict[CellKey, int] = {}
    for scope, sid, month, measure, value, n in items or []:
        found[(scope, int(sid), date.fromisoformat(month), measure, int(value))] = int(n)
    return found


def _encode(cells: Mapping[CellKey, int]) -> str:
    return json.dumps(
        [[s, sid, m.isoformat(), ms, v, n] for (s, sid, m, ms, v), n in sorted(cells.items())]
    )


async def save_sources(sources: Mapping[int, Mapping[CellKey, int]], now: datetime) -> None:
    """Store what each report contributes now (rows locked by `lock_sources`)."""
    if not sources:
        return
    ids = sorted(sources)
    await _db().execute_query(
        """
        INSERT INTO perf_source (report_id, cells, updated_at)
        SELECT id, cells::jsonb, $3 FROM unnest($1::bigint[], $2::text[]) AS t(id, cells)
        ON CONFLICT (report_id) DO UPDATE SET cells = EXCLUDED.cells, updated_at = $3
        """,
        [ids, [_encode(sources[i]) for i in ids], now],
    )


async def apply_deltas(deltas: Mapping[CellKey, int]) -> None:
    """Add each delta to its count, in key order (two batches lock cells in the same order),
    in one statement; counts that fall to zero are removed."""
    if not deltas:
        return
    keys = sorted(deltas)
    columns = list(zip(*keys, strict=True))
    db = _db()
    await db.execute_query(
        """
        INSERT INTO perf_cell AS c (scope, scope_id, month, measure, value, n)
        SELECT * FROM unnest($1::text[], $2::bigint[], $3::date[], $4::text[], $5::int[],
                             $6::bigint[])
        ON CONFLICT (scope, month, scope_id, measure, value) DO UPDATE SET n = c.n + EXCLUDED.n
        """,
        [*(list(c) for c in columns), [deltas[k] for k in keys]],
    )
    await db.execute_query(
        "DELETE FROM perf_cell WHERE n = 0 AND (scope, month, scope_id, measure, value) IN "
        "(SELECT * FROM unnest($1::text[], $2::date[], $3::bigint[], $4::text[], $5::int[]))",
        [list(columns[0]), list(columns[2]), list(columns[1]), list(columns[3]), list(columns[4])],
    )


async def clear() -> None:
    """Forget every count and contribution (a rebuild starts here, in its transaction). DELETE,
    not TRUNCATE: TRUNCATE would lock readers out until the rebuild commits."""
    db = _db()
    await db.execute_query("DELETE FROM perf_cell")
    await db.execute_query("DELETE FROM perf_source")


async def report_ids_after(after: int, limit: int) -> list[int]:
    """Report ids greater than `after`, ascending, at most `limit` (a rebuild's keyset)."""
    rows = await _db().execute_query_dict(
        "SELECT id FROM report WHERE id > $1 ORDER BY id LIMIT $2", [after, limit]
    )
    return [int(r["id"]) for r in rows]


async def report_count() -> int:
    rows = await _db().execute_query_dict("SELECT count(*) AS n FROM report")
    return int(rows[0]["n"])


@dataclass(frozen=True)
class StoredHistory:
    """A report's rows as the figures read them (see domain/transparency.py)."""

    report: dict[str, Any]
    assignments: list[dict[str, Any]]
    events: list[dict[str, Any]]


# The kinds of events the figures read (the rest of a timeline changes no figure).
async def histories(report_ids: Sequence[int], kinds: Iterable[str]) -> list[StoredHistory]:
    """The reports with these ids (those that exist), each with its assignments and the events
    of these kinds, in the order they were written: three statements for the whole batch."""
    if not report_ids:
        return []
    ids = sorted(report_ids)
    db = _db()
    reports = await db.execute_query_dict(
        "SELECT id, region_id, created_at FROM report WHERE id = ANY($1::bigint[]) ORDER BY id",
        [ids],
    )
    assignments = await db.execute_query_dict(
        "SELECT id, report_id, agency_id, assigned_at, first_response_due_at, resolution_due_at "
        "FROM assignment WHERE report_id = ANY($1::bigint[]) ORDER BY id",
        [ids],
    )
    events = await db.execute_query_dict(
        "SELECT report_id, kind, at, assignment_id, data FROM report_event "
        "WHERE report_id = ANY($1::bigint[]) AND kind = ANY($2::text[]) ORDER BY id",
        [ids, list(kinds)],
    )
    by_report: dict[int, StoredHistory] = {int(r["id"]): StoredHistory(r, [], []) for r in reports}
    for a in assignments:
        if (h := by_report.get(int(a["report_id"]))) is not None:
            h.assignments.append(a)
    for e in events:
        if (h := by_report.get(int(e["report_id"]))) is not None:
            data = e["data"]
            e["data"] = json.loads(data) if isinstance(data, str | bytes) else (data or {})
            h.events.append(e)
    return list(by_report.values())


async def read_cells(
    scope: str, months: Sequence[date], scope_ids: Sequence[int] | None
) -> list[tuple[int, str, int, int]]:
    """The counts of a scope over some months, summed over the months: (scope id, measure,
    value, n). By the primary key: the cost follows the cells, not the reports."""
    sql = (
        "SELECT scope_id, measure, value, sum(n)::bigint AS n FROM perf_cell "
        "WHERE scope = $1 AND month = ANY($2::date[])"
    )
    args: list[Any] = [scope, list(months)]
    if scope_ids is not None:
        sql += " AND scope_id = ANY($3::bigint[])"
        args.append(list(scope_ids))
    sql += " GROUP BY scope_id, measure, value"
    rows = await _db().execute_query_dict(sql, args)
    return [(int(r["scope_id"]), r["measure"], int(r["value"]), int(r["n"])) for r in rows]
