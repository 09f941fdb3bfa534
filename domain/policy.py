"""The access policy: pure functions of (actor, action, object).

The services call them for every decision; the lists use their SQL twin
(`domain/services/reading.py`, `readable_reports_q`), whose agreement with
`allowed_on_report(..., READ, ...)` is tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from domain.actor import Actor
from domain.errors import DomainError, ErrorCode
from domain.lifecycle import LET_GO, PUBLIC_REPORT
from models.enums import AssignmentStatus, ReportStatus, Role


class Action(StrEnum):
    READ = "read"
    SEE_REPORTER = "see_reporter"
    READ_INTERNAL = "read_internal"
    SUPPORT = "support"
    ADD_INFO = "add_info"
    RATE = "rate"
    DISPUTE = "dispute"
    VERIFY = "verify"
    HOLD = "hold"
    ARCHIVE = "archive"
    ASSIGN = "assign"
    HAND_OVER = "hand_over"
    MERGE = "merge"  # merge a duplicate into another report, and undo it
    HIDE_ATTACHMENT = "hide_attachment"  # hide a file of the report from the public, or show it
    CLOSE_ESCALATED = "close_escalated"
    CLOSE_BY_SILENCE = "close_by_silence"  # the system alone, when the reporter stays silent
    WORK_ASSIGNMENT = "work_assignment"
    VIEW_INBOX = "view_inbox"
    MANAGE = "manage"


class ReportFacts(NamedTuple):
    """What the policy needs to know of a report (a named tuple: one is made for every report a
    page reads)."""

    region_id: int
    reporter_id: int
    anonymous: bool
    confidential: bool
    status: ReportStatus
    # The agencies involved now: with an assignment they have not let go (see `involvement`).
    agency_ids: frozenset[int] = frozenset()
    handed_over: bool = False
    # The agencies that let the report go: they keep only the record of their own assignment.
    former_agency_ids: frozenset[int] = frozenset()


def involvement(
    agencies: Sequence[int], statuses: Sequence[str]
) -> tuple[frozenset[int], frozenset[int]]:
    """(agencies involved now, agencies no longer involved) of a report whose assignments went
    to `agencies` and stand at `statuses` (AssignmentStatus members or their stored values, in
    the same order). Access follows current involvement: an agency that let the report go
    (returned it) no longer reads it, unless it holds another assignment. ValueError for a
    status of none of the members, or a status without its agency."""
    if len(agencies) != len(statuses) or not _ASSIGNMENT_STATUSES.issuperset(statuses):
        raise ValueError(f"not an assignment status for each agency: {agencies}, {statuses}")
    # Whole sets, not a loop, for the common cases: a page decides this for every report.
    if not agencies:
        return _NO_AGENCIES, _NO_AGENCIES
    if LET_GO.isdisjoint(statuses):
        return frozenset(agencies), _NO_AGENCIES
    held: set[int] = set()
    let_go: set[int] = set()
    for agency_id, status in zip(agencies, statuses, strict=True):
        (let_go if status in LET_GO else held).add(agency_id)
    return frozenset(held), frozenset(let_go - held)


# A member equals its stored value, and hashes as it does (StrEnum): one set holds both.
_ASSIGNMENT_STATUSES = frozenset(AssignmentStatus)
_NO_AGENCIES: frozenset[int] = frozenset()


@dataclass(frozen=True)
class AgencyFacts:
    """What the policy needs to know of an agency (for inboxes and assignment work)."""

    agency_id: int
    region_id: int | None


REPORTER_ACTIONS = frozenset({Action.ADD_INFO, Action.RATE, Action.DISPUTE})
COORDINATOR_ACTIONS = frozenset(
    {
        Action.VERIFY,
        Action.HOLD,
        Action.ARCHIVE,
        Action.ASSIGN,
        Action.HAND_OVER,
        Action.MERGE,
        Action.HIDE_ATTACHMENT,
    }
)


def is_public(report: ReportFacts) -> bool:
    """Shown to anyone, signed in or not: verified and not confidential."""
    return not report.confidential and report.status in PUBLIC_REPORT


def _is_reporter(actor: Actor, report: ReportFacts) -> bool:
    return actor.user_id is not None and actor.user_id == report.reporter_id


def _coordinates(actor: Actor, report: ReportFacts) -> bool:
    return report.region_id in actor.coordinator_regions


def _works_on(actor: Actor, report: ReportFacts) -> bool:
    return bool(actor.agencies & report.agency_ids)


def _staff_reader(actor: Actor, report: ReportFacts) -> bool:
    """Desks handling the report: its coordinators, its agencies, the Ombudsman after hand-over."""
    return (
        _coordinates(actor, report)
        or _works_on(actor, report)
        or (actor.is_ombudsman and report.handed_over)
    )


class Reading(NamedTuple):
    """What a viewer who may read a report sees beyond what every reader sees."""

    reporter: bool  # who reported it, and where (SEE_REPORTER)
    internal: bool  # its internal lines: the viewer works on it (READ_INTERNAL)


# The four readings, made once: a page asks for one per report.
_READINGS = {(r, i): Reading(r, i) for r in (False, True) for i in (False, True)}
SEES_NOTHING_MORE = _READINGS[False, False]


def reading(actor: Actor, report: ReportFacts) -> Reading | None:
    """What `actor` may read of `report`: None when it may not read it (READ); else whether it
    sees the reporter (SEE_REPORTER) and the internal lines (READ_INTERNAL). The one place
    these three rules live, decided together: a page decides them for every report it shows."""
    if actor.system:
        return _READINGS[True, True]
    staff = _staff_reader(actor, report)
    reporter = _is_reporter(actor, report)
    if not (staff or reporter or is_public(report)):
        return None
    # A hidden reporter is known to themselves and to the region's coordinators only.
    sees_reporter = (reporter or _coordinates(actor, report)) if report.anonymous else True
    return _READINGS[sees_reporter, staff]


def allowed_on_report(actor: Actor, action: Action, report: ReportFacts) -> bool:
    """May `actor` do `action` on `report`? The one place these rules live (`reading` for
    reading it)."""
    if actor.system:
        return True
    if action is Action.READ:
        return reading(actor, report) is not None
    if action is Action.SEE_REPORTER:
        seen = reading(actor, report)
        return seen is not None and seen.reporter
    if action is Action.READ_INTERNAL:
        seen = reading(actor, report)
        return seen is not None and seen.internal
    if action is Action.SUPPORT:
        return actor.user_id is not None and is_public(report)
    if action in REPORTER_ACTIONS:
        return _is_reporter(actor, report)
    if action in COORDINATOR_ACTIONS:
        return _coordinates(actor, report)
    if action is Action.CLOSE_ESCALATED:
        return actor.is_ombudsman and report.handed_over
    return False


@dataclass(frozen=True)
class AttachmentFacts:
    """What the policy needs to know of a file on a report."""

    uploader_id: int | None
    hidden: bool


class FileAccess(StrEnum):
    """Why a viewer sees a file: as a desk of the report, as its reporter, or as anyone."""

    DESK = "desk"
    REPORTER = "reporter"
    PUBLIC = "public"


def attachment_access(
    actor: Actor, report: ReportFacts, attachment: AttachmentFacts
) -> FileAccess | None:
    """A file follows its report: the report's desks see every file (hidden ones too); the
    reporter sees the files not hidden and their own; anyone else only the files not hidden of
    a public report (verified, not confidential: a citizen's photo is public only from then).
    None: the file is not theirs to see."""
    if actor.system or allowed_on_report(actor, Action.READ_INTERNAL, report):
        return FileAccess.DESK
    if _is_reporter(actor, report) and (
        not attachment.hidden or attachment.uploader_id == actor.user_id
    ):
        return FileAccess.REPORTER
    if is_public(report) and not attachment.hidden:
        return FileAccess.PUBLIC
    return None


def keeps_record(actor: Actor, assignment_agency_id: int) -> bool:
    """An agency desk keeps the record of its own assignments (tracking code, dates, its
    reason, its follow-ups) whatever became of the report, even once it no longer reads it."""
    return actor.system or assignment_agency_id in actor.agencies


def allowed_on_agency(actor: Actor, action: Action, agency: AgencyFacts) -> bool:
    """Inbox reading and assignment work at an agency desk."""
    if actor.system:
        return True
    if action is Action.WORK_ASSIGNMENT:
        return agency.agency_id in actor.agencies
    if action is Action.VIEW_INBOX:
        return agency.agency_id in actor.agencies or (
            agency.region_id is not None and agency.region_id in actor.coordinator_regions
        )
    if action is Action.MANAGE:
        return actor.is_superadmin
    return False


def allowed_on_calendar(actor: Actor, region_id: int | None) -> bool:
    """Collective leave is national (superadmin); a regional holiday is also its coordinators'."""
    return oversees_region(actor, region_id)


def oversees_region(actor: Actor, region_id: int | None) -> bool:
    """Region-wide desk matters (its calendar, its agencies' overdue work) are its
    coordinators' and the superadmin's; national ones (no region) the superadmin's alone."""
    if actor.system or actor.is_superadmin:
        return True
    return region_id is not None and region_id in actor.coordinator_regions


# Roles that make someone staff: every one but the citizen's.
STAFF_ROLES = frozenset(Role) - {Role.CITIZEN}


def is_staff(actor: Actor) -> bool:
    """Someone who works the service (a desk, the Ombudsman, the superadmin) or the system."""
    return actor.system or bool(actor.roles & STAFF_ROLES)


def may_name(viewer: Actor, person_id: int, person_roles: frozenset[Role]) -> bool:
    """Staff are named only to staff: citizens and the public see the desk a line was written
    by (`desk_of`), never an officer's or a coordinator's name."""
    return viewer.user_id == person_id or is_staff(viewer) or not person_roles & STAFF_ROLES


class Desk(StrEnum):
    """What a timeline line was written as, shown to everyone who may read the line."""

    REPORTER = "reporter"
    COORDINATOR = "coordinator"
    AGENCY = "agency"
    OMBUDSMAN = "ombudsman"


def desk_of(by_reporter: bool, author_roles: frozenset[Role] | None) -> Desk | None:
    """The desk a line's author (with `author_roles`; None for the system) acted as: the
    reporter, the region's coordinator desk, an agency desk, the Ombudsman; None for the system
    or a citizen's staff-only line (a support)."""
    if by_reporter:
        return Desk.REPORTER
    roles = author_roles or frozenset()
    if Role.COORDINATOR in roles:
        return Desk.COORDINATOR
    if Role.OMBUDSMAN in roles:
        return Desk.OMBUDSMAN
    if roles & {Role.OFFICER, Role.AGENCY_HEAD}:
        return Desk.AGENCY
    return None


CONSOLE_ROLES = frozenset({Role.SUPERADMIN, Role.COORDINATOR})


def may_use_console(actor: Actor, restricted: bool) -> bool:
    """The admin console, introspection and operations outside the persisted-query allowlist:
    open to anyone unless `restricted` (production), then to superadmins and coordinators."""
    return not restricted or bool(actor.roles & CONSOLE_ROLES)


def require_signed_in(actor: Actor) -> None:
    if not actor.authenticated:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "sign in first")
