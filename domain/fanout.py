"""Who must hear of each event, and over which channels (pure rules, DESIGN.md section 2).

An event kind names audiences (the reporter, the region's coordinators, the desk of the
assignment's agency, ...). The services turn audiences into people; the access policy then
drops anyone who may not read the report (or, for internal lines, its staff side), so these
tables can never widen what someone sees.
"""

from __future__ import annotations

from enum import StrEnum

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

EVENT_AUDIENCES: dict[str, frozenset[Audience]] = {
    "report.submitted": frozenset({A.REPORTER, A.COORDINATORS}),
    "report.info_added": frozenset({A.COORDINATORS}),
    "report.verified": frozenset({A.REPORTER}),
    "report.held": frozenset({A.REPORTER}),
    "report.archived": frozenset({A.REPORTER}),
    "report.supported": frozenset({A.REPORTER}),
    "assignment.created": frozenset({A.OFFICERS}),
    "assignment.accepted": frozenset({A.REPORTER, A.COORDINATORS}),
    "assignment.follow_up": frozenset({A.REPORTER, A.FOLLOWERS, A.COORDINATORS}),
    "assignment.final_follow_up": frozenset({A.REPORTER, A.FOLLOWERS, A.COORDINATORS}),
    "assignment.returned": frozenset({A.COORDINATORS}),
    "assignment.forwarded": frozenset({A.COORDINATORS}),
    "assignment.reopened": frozenset({A.OFFICERS}),
    "report.responded": frozenset({A.REPORTER, A.FOLLOWERS}),
    "report.disputed": frozenset({A.COORDINATORS, A.ASSIGNED_OFFICERS}),
    "report.rated": frozenset({A.COORDINATORS, A.ASSIGNED_OFFICERS}),
    "report.closed": frozenset({A.REPORTER, A.FOLLOWERS}),
    "report.escalated": frozenset({A.REPORTER, A.OMBUDSMAN, A.COORDINATORS, A.ASSIGNED_HEADS}),
}

DEADLINE_AUDIENCES: dict[tuple[str, Stage], frozenset[Audience]] = {
    ("deadline.reminder", Stage.VERIFY): frozenset({A.COORDINATORS}),
    ("deadline.reminder", Stage.FIRST_RESPONSE): frozenset({A.OFFICERS}),
    ("deadline.reminder", Stage.RESOLUTION): frozenset({A.OFFICERS}),
    ("deadline.reminder", Stage.REPORTER_WINDOW): frozenset({A.REPORTER}),
    ("deadline.breached", Stage.VERIFY): frozenset({A.COORDINATORS}),
    ("deadline.breached", Stage.FIRST_RESPONSE): frozenset({A.OFFICERS, A.HEADS}),
    ("deadline.breached", Stage.RESOLUTION): frozenset({A.OFFICERS, A.HEADS}),
    ("deadline.escalated", Stage.VERIFY): frozenset({A.COORDINATORS, A.UPPER_COORDINATORS}),
    ("deadline.escalated", Stage.FIRST_RESPONSE): frozenset({A.COORDINATORS, A.HEADS}),
    ("deadline.escalated", Stage.RESOLUTION): frozenset({A.COORDINATORS, A.HEADS}),
}


def audiences_for(kind: str, stage: str | None, internal: bool) -> frozenset[Audience]:
    """The audiences of an event; staff-only lines never reach the reporter or followers."""
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
