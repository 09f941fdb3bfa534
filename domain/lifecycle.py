"""The report and assignment state machines, as tables. Services consult them; nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from domain.errors import DomainError, ErrorCode
from models.enums import AssignmentStatus, ReportStatus

RS = ReportStatus
AS = AssignmentStatus


S = TypeVar("S", bound=StrEnum)
A = TypeVar("A", bound=StrEnum)


class ReportAction(StrEnum):
    VERIFY = "verify"
    HOLD = "hold"
    ADD_INFO = "add_info"
    ARCHIVE = "archive"
    ASSIGN = "assign"
    RESPOND = "respond"
    RATE = "rate"
    DISPUTE = "dispute"
    CLOSE_BY_SILENCE = "close_by_silence"
    HAND_OVER = "hand_over"  # to the Ombudsman; the report becomes ESCALATED
    CLOSE_ESCALATED = "close_escalated"
    RETURN_TO_DESK = "return_to_desk"


class AssignmentAction(StrEnum):
    ACCEPT = "accept"
    RETURN = "return"
    FORWARD = "forward"
    FOLLOW_UP = "follow_up"
    RESPOND = "respond"
    REOPEN = "reopen"


# (from, action) -> to. An action absent for a status is refused.
REPORT_TRANSITIONS: dict[tuple[ReportStatus, ReportAction], ReportStatus] = {
    (RS.SUBMITTED, ReportAction.VERIFY): RS.IN_PROGRESS,
    (RS.SUBMITTED, ReportAction.ASSIGN): RS.IN_PROGRESS,
    (RS.SUBMITTED, ReportAction.HOLD): RS.ON_HOLD,
    (RS.SUBMITTED, ReportAction.ARCHIVE): RS.ARCHIVED,
    (RS.SUBMITTED, ReportAction.ADD_INFO): RS.SUBMITTED,
    (RS.ON_HOLD, ReportAction.ADD_INFO): RS.SUBMITTED,
    (RS.ON_HOLD, ReportAction.ARCHIVE): RS.ARCHIVED,
    (RS.IN_PROGRESS, ReportAction.ADD_INFO): RS.IN_PROGRESS,
    (RS.IN_PROGRESS, ReportAction.ASSIGN): RS.IN_PROGRESS,
    (RS.IN_PROGRESS, ReportAction.RESPOND): RS.RESPONDED,
    (RS.IN_PROGRESS, ReportAction.HAND_OVER): RS.ESCALATED,
    # every assignment came back "not our remit": the report waits at the coordinator again
    (RS.IN_PROGRESS, ReportAction.RETURN_TO_DESK): RS.IN_PROGRESS,
    (RS.RESPONDED, ReportAction.RATE): RS.CLOSED,
    (RS.RESPONDED, ReportAction.DISPUTE): RS.IN_PROGRESS,
    (RS.RESPONDED, ReportAction.CLOSE_BY_SILENCE): RS.CLOSED,
    (RS.RESPONDED, ReportAction.HAND_OVER): RS.ESCALATED,
    (RS.RESPONDED, ReportAction.ASSIGN): RS.IN_PROGRESS,
    (RS.ESCALATED, ReportAction.CLOSE_ESCALATED): RS.CLOSED,
}

ASSIGNMENT_TRANSITIONS: dict[tuple[AssignmentStatus, AssignmentAction], AssignmentStatus] = {
    (AS.PENDING, AssignmentAction.ACCEPT): AS.ACCEPTED,
    (AS.PENDING, AssignmentAction.RETURN): AS.RETURNED,
    (AS.ACCEPTED, AssignmentAction.RETURN): AS.RETURNED,
    (AS.ACCEPTED, AssignmentAction.FORWARD): AS.FORWARDED,
    (AS.ACCEPTED, AssignmentAction.FOLLOW_UP): AS.ACCEPTED,
    (AS.ACCEPTED, AssignmentAction.RESPOND): AS.RESPONDED,
    # the reporter disputed the answer: the agency works on it again
    (AS.RESPONDED, AssignmentAction.REOPEN): AS.ACCEPTED,
}

# Assignments whose agency still owes an answer.
OPEN_ASSIGNMENT = frozenset({AS.PENDING, AS.ACCEPTED})
# Assignments whose agency let the report go ("not our remit"): it is no longer involved, and
# keeps only the record of its own assignment (domain/policy.py, docs/adr/0019).
LET_GO = frozenset({AS.RETURNED})
# Reports nothing more happens to.
FINAL_REPORT = frozenset({RS.CLOSED, RS.ARCHIVED})
# Reports whose deadlines no longer run: finished, or handed over to the Ombudsman.
SETTLED = FINAL_REPORT | {RS.ESCALATED}
# Statuses in which a non-confidential report is shown to the public: it has been verified.
PUBLIC_REPORT = frozenset({RS.IN_PROGRESS, RS.RESPONDED, RS.CLOSED, RS.ESCALATED})


def may_hand_over(status: ReportStatus, consented: bool) -> bool:
    """Whether a report may be handed over to the Ombudsman now, deadlines aside: its status
    allows it and the reporter agreed to it."""
    return consented and (status, ReportAction.HAND_OVER) in REPORT_TRANSITIONS


def _refusal(current: str, action: str, target: str | None, what: str) -> DomainError:
    # The action already happened (someone acted first): a conflict, not a client mistake.
    if target is not None and current == target:
        return DomainError(
            ErrorCode.CONFLICT,
            f"the {what} is already {current}: someone else acted on it first",
        )
    return DomainError(
        ErrorCode.INVALID_TRANSITION,
        f"cannot {action.replace('_', ' ')} a {what} that is {current}",
    )


def _target_of(action: A, table: Mapping[tuple[S, A], S]) -> S | None:
    targets = {to for (_, a), to in table.items() if a == action}
    return next(iter(targets)) if len(targets) == 1 else None


def next_report_status(current: ReportStatus, action: ReportAction) -> ReportStatus:
    """The status after `action`, or a DomainError (CONFLICT if it already happened)."""
    to = REPORT_TRANSITIONS.get((current, action))
    if to is None:
        raise _refusal(current, action, _target_of(action, REPORT_TRANSITIONS), "report")
    return to


def next_assignment_status(current: AssignmentStatus, action: AssignmentAction) -> AssignmentStatus:
    """The assignment status after `action`, or a DomainError."""
    to = ASSIGNMENT_TRANSITIONS.get((current, action))
    if to is None:
        raise _refusal(current, action, _target_of(action, ASSIGNMENT_TRANSITIONS), "assignment")
    return to
