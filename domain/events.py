"""The kinds of timeline events: what the services write, what the audience table and the
messages are keyed by (a kind missing from either is caught by tests/domain/test_events.py).

The values are stored in `report_event.kind` and shown to clients: they never change."""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    REPORT_SUBMITTED = "report.submitted"
    REPORT_INFO_ADDED = "report.info_added"
    REPORT_VERIFIED = "report.verified"
    REPORT_HELD = "report.held"
    REPORT_ARCHIVED = "report.archived"
    REPORT_SUPPORTED = "report.supported"
    REPORT_RESPONDED = "report.responded"
    REPORT_DISPUTED = "report.disputed"
    REPORT_RATED = "report.rated"
    REPORT_CLOSED = "report.closed"
    # The hand-over to the Ombudsman (the report's status becomes ESCALATED).
    REPORT_HANDED_OVER = "report.escalated"
    # A merge (issue 15): on the duplicate's timeline, and on the original's (staff only).
    REPORT_MERGED = "report.merged"
    REPORT_DUPLICATE_MERGED = "report.duplicate_merged"
    # Its undo, on both timelines alike.
    REPORT_UNMERGED = "report.unmerged"
    REPORT_DUPLICATE_UNMERGED = "report.duplicate_unmerged"
    ATTACHMENT_HIDDEN = "attachment.hidden"
    ATTACHMENT_SHOWN = "attachment.shown"
    ASSIGNMENT_CREATED = "assignment.created"
    ASSIGNMENT_ACCEPTED = "assignment.accepted"
    ASSIGNMENT_FOLLOW_UP = "assignment.follow_up"
    ASSIGNMENT_FINAL_FOLLOW_UP = "assignment.final_follow_up"
    ASSIGNMENT_RETURNED = "assignment.returned"
    ASSIGNMENT_FORWARDED = "assignment.forwarded"
    ASSIGNMENT_REOPENED = "assignment.reopened"
    # The deadline sweep's steps (the stage is in the event's data).
    DEADLINE_REMINDER = "deadline.reminder"
    DEADLINE_BREACHED = "deadline.breached"
    DEADLINE_ESCALATED = "deadline.escalated"


DEADLINE_KINDS = frozenset(
    {EventKind.DEADLINE_REMINDER, EventKind.DEADLINE_BREACHED, EventKind.DEADLINE_ESCALATED}
)


def event_kind(stored: str) -> EventKind | None:
    """The kind of a stored event; None for a kind this code does not know."""
    try:
        return EventKind(stored)
    except ValueError:
        return None
