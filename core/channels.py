"""Redis pub/sub channels: the live side of events and notifications (at most once), with one
encoder and one decoder for each message, used by whoever publishes and whoever listens.

`lapor:events`: one message per committed timeline event, published after its commit by the
process that committed it; the outbox relays of the workers wake on it too.
`lapor:notifications`: one message per fanned-out event, listing its stored in-app
notifications and their users.
Listeners must tolerate loss and duplicates (dedupe by id); clients catch up with
`updatedAfter` queries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EVENTS_CHANNEL = "lapor:events"
NOTIFICATIONS_CHANNEL = "lapor:notifications"


def _int(value: object) -> int | None:
    """A database id, or None for anything else (a bool, a string, zero or less)."""
    return value if type(value) is int and value > 0 else None


def _object(data: str | bytes) -> dict[str, Any] | None:
    try:
        found = json.loads(data)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


@dataclass(frozen=True)
class EventMessage:
    """A committed timeline event, as the outbox row that carries it describes it."""

    event_id: int
    report_id: int | None
    assignment_id: int | None
    agency_id: int | None
    kind: str
    request_id: str | None = None

    @classmethod
    def of(cls, payload: Mapping[str, Any]) -> EventMessage | None:
        """From an outbox payload (or a decoded message); None when it names no event."""
        event_id = _int(payload.get("event_id"))
        if event_id is None:
            return None
        request_id = payload.get("request_id")
        return cls(
            event_id=event_id,
            report_id=_int(payload.get("report_id")),
            assignment_id=_int(payload.get("assignment_id")),
            agency_id=_int(payload.get("agency_id")),
            kind=str(payload.get("kind") or ""),
            request_id=request_id if isinstance(request_id, str) else None,
        )

    def encode(self) -> str:
        return json.dumps(
            {
                "event_id": self.event_id,
                "report_id": self.report_id,
                "assignment_id": self.assignment_id,
                "agency_id": self.agency_id,
                "kind": self.kind,
                "request_id": self.request_id,
            }
        )

    @classmethod
    def decode(cls, data: str | bytes) -> EventMessage | None:
        payload = _object(data)
        return cls.of(payload) if payload is not None else None


@dataclass(frozen=True)
class NotificationsMessage:
    """The in-app notifications one event stored: (notification id, user id) pairs."""

    notifications: tuple[tuple[int, int], ...]

    def encode(self) -> str:
        return json.dumps({"notifications": [list(pair) for pair in self.notifications]})

    @classmethod
    def decode(cls, data: str | bytes) -> NotificationsMessage | None:
        payload = _object(data)
        if payload is None or not isinstance(payload.get("notifications"), list):
            return None
        pairs = []
        for pair in payload["notifications"]:
            if isinstance(pair, list) and len(pair) == 2:
                nid, uid = _int(pair[0]), _int(pair[1])
                if nid is not None and uid is not None:
                    pairs.append((nid, uid))
        return cls(tuple(pairs))
