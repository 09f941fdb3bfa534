"""Statements the ORM cannot make in one round trip, for the workers' hot path: claiming an
outbox row, and storing all the notifications of one event. They run on the connection of the
caller's transaction (Tortoise's current connection)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import connections

from models.enums import Channel, DeliveryStatus

# Rows per INSERT: one statement per event up to this many notifications.
INSERT_BATCH = 5000


@dataclass(frozen=True)
class EventContext:
    """One timeline event with what its fan-out needs of its report and assignment, read in
    the statement that reads the event."""

    event_id: int
    kind: str
    internal: bool
    data: dict[str, Any]
    actor_id: int | None
    report_id: int
    tracking_code: str
    title: str
    confidential: bool
    anonymous: bool
    status: str
    region_id: int
    reporter_id: int
    handed_over: bool
    assignment_id: int | None
    assignment_agency_id: int | None
    # Every assignment of the report as (agency id, status), for the access policy's facts,
    # and the agencies whose assignment is still open, as `open_statuses` says.
    assignments: tuple[tuple[int, str], ...]
    open_agency_ids: frozenset[int]
    follower_ids: tuple[int, ...]


@dataclass(frozen=True)
class ClaimedOutbox:
    """An outbox row this transaction holds, marked relayed (undone if it rolls back), and the
    event it carries (None for another topic, or an event that is gone)."""

    id: int
    topic: str
    payload: dict[str, Any]
    event: EventContext | None


def _json(value: object) -> dict[str, Any]:
    if isinstance(value, str | bytes):
        value = json.loads(value)
    return dict(value) if isinstance(value, dict) else {}


_EVENT_COLUMNS = """
    e.id AS event_id, e.kind, e.visibility, e.data, e.actor_id,
    r.id AS report_id, r.tracking_code, r.title, r.confidential, r.anonymous, r.status,
    r.region_id, r.reporter_id, r.escalated_at IS NOT NULL AS handed_over,
    a.id AS assignment_id, a.agency_id AS assignment_agency_id,
    ARRAY(SELECT x.agency_id FROM assignment x WHERE x.report_id = r.id ORDER BY x.id)
        AS assigned_agency_ids,
    ARRAY(SELECT x.status FROM assignment x WHERE x.report_id = r.id ORDER BY x.id)
        AS assigned_statuses,
    ARRAY(SELECT x.agency_id FROM assignment x
          WHERE x.report_id = r.id AND x.status = ANY({open_statuses}::text[])) AS open_agency_ids,
    ARRAY(SELECT s.user_id FROM support s WHERE s.report_id = r.id ORDER BY s.user_id)
        AS follower_ids
"""
_EVENT_JOINS = """
    JOIN report r ON r.id = e.report_id
    LEFT JOIN assignment a ON a.id = e.assignment_id
"""
_LOAD_EVENT = (
    f"SELECT {_EVENT_COLUMNS.format(open_statuses='$2')} FROM report_event e {_EVENT_JOINS} "
    "WHERE e.id = $1"
)
_CLAIM = (
    "WITH claimed AS (UPDATE outbox_message SET attempts = attempts + 1, dispatched_at = $1 "
    "WHERE id = (SELECT id FROM outbox_message WHERE dispatched_at IS NULL AND {which} "
    "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, topic, event_id, payload) "
    f"SELECT c.id AS outbox_id, c.topic, c.payload, {_EVENT_COLUMNS.format(open_statuses='$3')} "
    "FROM claimed c LEFT JOIN (report_event e "
    f"{_EVENT_JOINS}) ON e.id = c.event_id"
)
_CLAIM_ONE = _CLAIM.format(which="id = $2")
_CLAIM_NEXT = _CLAIM.format(which="id <> ALL($2::bigint[])")


def _event(row: dict[str, Any]) -> EventContext | None:
    if row["event_id"] is None:
        return None
    return EventContext(
        event_id=row["event_id"],
        kind=row["kind"],
        internal=row["visibility"] != "public",
        data=_json(row["data"]),
        actor_id=row["actor_id"],
        report_id=row["report_id"],
        tracking_code=row["tracking_code"],
        title=row["title"],
        confidential=row["confidential"],
        anonymous=row["anonymous"],
        status=row["status"],
        region_id=row["region_id"],
        reporter_id=row["reporter_id"],
        handed_over=row["handed_over"],
        assignment_id=row["assignment_id"],
        assignment_agency_id=row["assignment_agency_id"],
        assignments=tuple(zip(row["assigned_agency_ids"], row["assigned_statuses"], strict=True)),
        open_agency_ids=frozenset(row["open_agency_ids"]),
        follower_ids=tuple(row["follower_ids"]),
    )


async def claim_outbox(
    now: datetime,
    open_statuses: Sequence[str],
    outbox_id: int | None = None,
    skip: Sequence[int] = (),
) -> ClaimedOutbox | None:
    """Lock a row not yet relayed (`outbox_id`, or else the oldest one not in `skip`), mark it
    relayed at `now` and read its event, in one statement; None when there is none, it was
    relayed already, or another transaction holds it (SKIP LOCKED)."""
    sql, key = (_CLAIM_ONE, outbox_id) if outbox_id is not None else (_CLAIM_NEXT, list(skip))
    rows = await connections.get("default").execute_query_dict(sql, [now, key, list(open_statuses)])
    if not rows:
        return None
    row = rows[0]
    return ClaimedOutbox(row["outbox_id"], row["topic"], _json(row["payload"]), _event(row))


async def load_event(event_id: int, open_statuses: Sequence[str]) -> EventContext | None:
    """The event with what its fan-out needs, as `claim_outbox` reads it."""
    rows = await connections.get("default").execute_query_dict(
        _LOAD_EVENT, [event_id, list(open_statuses)]
    )
    return _event(rows[0]) if rows else None


@dataclass(frozen=True)
class NewNotification:
    """A notification of one event to a user (or, for webhooks, an agency) over one channel."""

    user_id: int | None
    agency_id: int | None
    event_id: int
    report_id: int | None
    channel: Channel
    kind: str
    message: str
    created_at: datetime
    status: DeliveryStatus
    delivered_at: datetime | None
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class StoredNotification:
    id: int
    user_id: int | None
    channel: Channel
    round: int
    status: DeliveryStatus


_COLUMNS = (
    ("user_id", "bigint"),
    ("agency_id", "bigint"),
    ("event_id", "bigint"),
    ("report_id", "bigint"),
    ("channel", "text"),
    ("kind", "text"),
    ("message", "text"),
    ("created_at", "timestamptz"),
    ("status", "text"),
    ("delivered_at", "timestamptz"),
    ("next_attempt_at", "timestamptz"),
)
_INSERT = (
    f"INSERT INTO notification ({', '.join(c for c, _ in _COLUMNS)}, attempts, round) "
    f"SELECT *, 0, 0 FROM unnest("
    + ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(_COLUMNS, start=1))
    + ") ON CONFLICT DO NOTHING RETURNING id, user_id, channel, round, status"
)
_STORED = (
    "SELECT id, user_id, channel, round, status FROM notification WHERE event_id = $1 ORDER BY id"
)


def _stored(rows: Sequence[dict[str, Any]]) -> list[StoredNotification]:
    return [
        StoredNotification(
            r["id"], r["user_id"], Channel(r["channel"]), r["round"], DeliveryStatus(r["status"])
        )
        for r in rows
    ]


async def insert_notifications(
    event_id: int, rows: Sequence[NewNotification]
) -> list[StoredNotification]:
    """Store the rows (one statement per INSERT_BATCH; those that exist are kept) and return
    every notification of the event, in id order."""
    connection = connections.get("default")
    inserted: list[dict[str, Any]] = []
    for start in range(0, len(rows), INSERT_BATCH):
        batch = rows[start : start + INSERT_BATCH]
        values = [[getattr(row, column) for row in batch] for column, _ in _COLUMNS]
        inserted += await connection.execute_query_dict(_INSERT, values)
    if len(inserted) == len(rows):
        return sorted(_stored(inserted), key=lambda n: n.id)
    # Some existed already (a rerun): the event's notifications are all of them.
    return _stored(await connection.execute_query_dict(_STORED, [event_id]))
