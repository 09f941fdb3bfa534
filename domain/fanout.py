"""Who must hear of each event, and over which channels (pure rules; docs/design.md,
"Notifications").

An event kind names audiences (the reporter, the region's coordinators, the desk of the
assignment's agency, ...). The services turn audiences into people; the access policy then
drops anyone who may not read the report (or, for internal lines, its staff side), so these
tables can never widen what someone sees.
"""

from __future__ import annotations

from enum import StrEnum

from domain.events import EventKind
from domain.sweep import Stage
from models.enums import Channel


class Audience(StrEnum):
    REPORTER = "reporter"
    FOLLOWERS = "followers"  # supporters of a public report
    COORDINATORS = "coordinators"  # of the report's region
    UPPER_COORDINATORS = "upper_coordinators"  # of the regions above it (the province)
    OFFICERS = "officers"  # of the event's assignment's agency
    HEADS = "heads"  # of the event's assignment's agency
    ASSIGNED_OFFICERS = "assigned_officers"  # of every agency with an open assignment
    ASSIGNED_HEADS = "assigned_heads"
    OMBUDSMAN = "ombudsman"


A = Audience
# Audiences that never hear of staff-only (internal) lines.
CITIZEN_AUDIENCES = frozenset({A.REPORTER, A.FOLLOWERS})
# Audiences that stand for an agency desk: the agency's webhook is told too.
AGENCY_AUDIENCES = frozenset({A.OFFICERS, A.HEADS, A.ASSIGNED_OFFICERS, A.ASSIGNED_HEADS})

EVENT_AUDIENCES: dict[EventKind, frozenset[Audience]] = {
    EventKind.REPORT_SUBMITTED: frozenset({A.REPORTER, A.COORDINATORS}),
    EventKind.REPORT_INFO_ADDED: frozenset({A.COORDINATORS}),
    EventKind.REPORT_VERIFIED: frozenset({A.REPORTER}),
    EventKind.REPORT_HELD: frozenset({A.REPORTER}),
    EventKind.REPORT_ARCHIVED: frozenset({A.REPORTER}),
    EventKind.REPORT_SUPPORTED: frozenset({A.REPORTER}),
    EventKind.ASSIGNMENT_CREATED: frozenset({A.OFFICERS}),
    EventKind.ASSIGNMENT_ACCEPTED: frozenset({A.REPORTER, A.COORDINATORS}),
    EventKind.ASSIGNMENT_FOLLOW_UP: frozenset({A.REPORTER, A.FOLLOWERS, A.COORDINATORS}),
    EventKind.ASSIGNMENT_FINAL_FOLLOW_UP: frozenset({A.REPORTER, A.FOLLOWERS, A.COORDINATORS}),
    EventKind.ASSIGNMENT_RETURNED: frozenset({A.COORDINATORS}),
    EventKind.ASSIGNMENT_FORWARDED: frozenset({A.COORDINATORS}),
    EventKind.ASSIGNMENT_REOPENED: frozenset({A.OFFICERS}),
    EventKind.REPORT_RESPONDED: frozenset({A.REPORTER, A.FOLLOWERS}),
    EventKind.REPORT_DISPUTED: frozenset({A.COORDINATORS, A.ASSIGNED_OFFICERS}),
    EventKind.REPORT_RATED: frozenset({A.COORDINATORS, A.ASSIGNED_OFFICERS}),
    EventKind.REPORT_CLOSED: frozenset({A.REPORTER, A.FOLLOWERS}),
    EventKind.REPORT_HANDED_OVER: frozenset(
        {A.REPORTER, A.OMBUDSMAN, A.COORDINATORS, A.ASSIGNED_HEADS}
    ),
    # The duplicate's reporter hears of the merge and its undo on their own report; the
    # original's agencies of the new information (a staff-only line: its reporter is not told).
    EventKind.REPORT_MERGED: frozenset({A.REPORTER}),
    EventKind.REPORT_UNMERGED: frozenset({A.REPORTER}),
    EventKind.REPORT_DUPLICATE_MERGED: frozenset({A.ASSIGNED_OFFICERS}),
    EventKind.REPORT_DUPLICATE_UNMERGED: frozenset({A.ASSIGNED_OFFICERS}),
    # The reporter hears when the desk hides a file of the report or shows it again.
    EventKind.ATTACHMENT_HIDDEN: frozenset({A.REPORTER}),
    EventKind.ATTACHMENT_SHOWN: frozenset({A.REPORTER}),
}

DEADLINE_AUDIENCES: dict[tuple[EventKind, Stage], frozenset[Audience]] = {
    (EventKind.DEADLINE_REMINDER, Stage.VERIFY): frozenset({A.COORDINATORS}),
    (EventKind.DEADLINE_REMINDER, Stage.FIRST_RESPONSE): frozenset({A.OFFICERS}),
    (EventKind.DEADLINE_REMINDER, Stage.RESOLUTION): frozenset({A.OFFICERS}),
    (EventKind.DEADLINE_REMINDER, Stage.REPORTER_WINDOW): frozenset({A.REPORTER}),
    (EventKind.DEADLINE_BREACHED, Stage.VERIFY): frozenset({A.COORDINATORS}),
    (EventKind.DEADLINE_BREACHED, Stage.FIRST_RESPONSE): frozenset({A.OFFICERS, A.HEADS}),
    (EventKind.DEADLINE_BREACHED, Stage.RESOLUTION): frozenset({A.OFFICERS, A.HEADS}),
    (EventKind.DEADLINE_ESCALATED, Stage.VERIFY): frozenset({A.COORDINATORS, A.UPPER_COORDINATORS}),
    (EventKind.DEADLINE_ESCALATED, Stage.FIRST_RESPONSE): frozenset({A.COORDINATORS, A.HEADS}),
    (EventKind.DEADLINE_ESCALATED, Stage.RESOLUTION): frozenset({A.COORDINATORS, A.HEADS}),
}


def audiences_for(kind: EventKind | None, stage: str | None, internal: bool) -> frozenset[Audience]:
    """The audiences of an event (none for a kind this code does not know); staff-only lines
    never reach the reporter or followers."""
    if kind is None:
        return frozenset()
    found = EVENT_AUDIENCES.get(kind, frozenset())
    if stage is not None and stage in Stage.__members__.values():
        found = DEADLINE_AUDIENCES.get((kind, Stage(stage)), found)
    return found - CITIZEN_AUDIENCES if internal else found


def user_channels(audiences: frozenset[Audience], email_enabled: bool) -> tuple[Channel, ...]:
    """A person's channels for one event: always in-app; e-mail too (when the service sends
    e-mail) unless they hear of it only as a follower, whom we never e-mail in bulk."""
    if email_enabled and audiences - {A.FOLLOWERS}:
        return (Channel.IN_APP, Channel.EMAIL)
    return (Channel.IN_APP,)
