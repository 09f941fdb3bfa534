"""Redis pub/sub channels: the live side of events and notifications (at most once).

`lapor:events` carries {"topic": "report.event", "event_id", "report_id", "assignment_id",
"agency_id", "kind"}: one message per committed timeline event, published after commit.
`lapor:notifications` carries {"notification_id", "user_id"}: one message per stored in-app
notification, published by the fan-out job. Listeners must tolerate loss and duplicates
(dedupe by id); clients catch up with `updatedAfter` queries."""

from __future__ import annotations

EVENTS_CHANNEL = "lapor:events"
NOTIFICATIONS_CHANNEL = "lapor:notifications"
