"""Every (status, action) pair of both state machines: allowed ones move, the rest are refused."""

from __future__ import annotations

import itertools

import pytest

from domain.errors import DomainError, ErrorCode
from domain.lifecycle import (
    AssignmentAction,
    ReportAction,
    next_assignment_status,
    next_report_status,
)
from models.enums import AssignmentStatus as AS
from models.enums import ReportStatus as RS

# The report lifecycle of docs/design.md ("Reports and assignments"), written out independently
# of the code's table.
REPORT_ALLOWED = {
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
    (RS.IN_PROGRESS, ReportAction.RETURN_TO_DESK): RS.IN_PROGRESS,
    (RS.RESPONDED, ReportAction.RATE): RS.CLOSED,
    (RS.RESPONDED, ReportAction.DISPUTE): RS.IN_PROGRESS,
    (RS.RESPONDED, ReportAction.CLOSE_BY_SILENCE): RS.CLOSED,
    (RS.RESPONDED, ReportAction.HAND_OVER): RS.ESCALATED,
    (RS.RESPONDED, ReportAction.ASSIGN): RS.IN_PROGRESS,
    (RS.ESCALATED, ReportAction.CLOSE_ESCALATED): RS.CLOSED,
}

ASSIGNMENT_ALLOWED = {
    (AS.PENDING, AssignmentAction.ACCEPT): AS.ACCEPTED,
    (AS.PENDING, AssignmentAction.RETURN): AS.RETURNED,
    (AS.ACCEPTED, AssignmentAction.RETURN): AS.RETURNED,
    (AS.ACCEPTED, AssignmentAction.FORWARD): AS.FORWARDED,
    (AS.ACCEPTED, AssignmentAction.FOLLOW_UP): AS.ACCEPTED,
    (AS.ACCEPTED, AssignmentAction.RESPOND): AS.RESPONDED,
    (AS.RESPONDED, AssignmentAction.REOPEN): AS.ACCEPTED,
}


@pytest.mark.parametrize(("status", "action"), list(itertools.product(RS, ReportAction)))
def test_report_transition(status: RS, action: ReportAction) -> None:
    expected = REPORT_ALLOWED.get((status, action))
    if expected is not None:
        assert next_report_status(status, action) is expected
    else:
        with pytest.raises(DomainError) as refused:
            next_report_status(status, action)
        assert refused.value.code in (ErrorCode.INVALID_TRANSITION, ErrorCode.CONFLICT)


@pytest.mark.parametrize(("status", "action"), list(itertools.product(AS, AssignmentAction)))
def test_assignment_transition(status: AS, action: AssignmentAction) -> None:
    expected = ASSIGNMENT_ALLOWED.get((status, action))
    if expected is not None:
        assert next_assignment_status(status, action) is expected
    else:
        with pytest.raises(DomainError) as refused:
            next_assignment_status(status, action)
        assert refused.value.code in (ErrorCode.INVALID_TRANSITION, ErrorCode.CONFLICT)


def test_repeating_a_done_action_is_a_conflict() -> None:
    """A second coordinator verifying an already verified report lost a race: CONFLICT."""
    with pytest.raises(DomainError) as refused:
        next_report_status(RS.IN_PROGRESS, ReportAction.VERIFY)
    assert refused.value.code is ErrorCode.CONFLICT
    with pytest.raises(DomainError) as refused:
        next_assignment_status(AS.ACCEPTED, AssignmentAction.ACCEPT)
    assert refused.value.code is ErrorCode.CONFLICT


def test_an_impossible_move_is_an_invalid_transition() -> None:
    with pytest.raises(DomainError) as refused:
        next_report_status(RS.ARCHIVED, ReportAction.VERIFY)
    assert refused.value.code is ErrorCode.INVALID_TRANSITION
    with pytest.raises(DomainError) as refused:
        next_assignment_status(AS.PENDING, AssignmentAction.FORWARD)
    assert refused.value.code is ErrorCode.INVALID_TRANSITION
