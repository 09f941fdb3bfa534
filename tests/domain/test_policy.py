"""The access policy matrix: each role x each operation x own / other region or agency."""

from __future__ import annotations

import pytest

from domain.actor import PUBLIC, SYSTEM, Actor
from domain.policy import (
    Action,
    AgencyFacts,
    ReportFacts,
    allowed_on_agency,
    allowed_on_report,
    involvement,
    is_public,
    keeps_record,
    reading,
)
from models.enums import AssignmentStatus, ReportStatus, Role

JEMBER, JAYAPURA = 1, 2
DINKES, DPUPR, OTHER_AGENCY = 10, 11, 12
REPORTER, STRANGER = 100, 101

ACTORS = {
    "public": PUBLIC,
    "reporter": Actor(user_id=REPORTER, roles=frozenset({Role.CITIZEN})),
    "citizen": Actor(user_id=STRANGER, roles=frozenset({Role.CITIZEN})),
    "coordinator": Actor(
        user_id=200, roles=frozenset({Role.COORDINATOR}), coordinator_regions=frozenset({JEMBER})
    ),
    "coordinator_other": Actor(
        user_id=201, roles=frozenset({Role.COORDINATOR}), coordinator_regions=frozenset({JAYAPURA})
    ),
    "officer": Actor(
        user_id=300, roles=frozenset({Role.OFFICER}), officer_agencies=frozenset({DINKES})
    ),
    "officer_other": Actor(
        user_id=301, roles=frozenset({Role.OFFICER}), officer_agencies=frozenset({OTHER_AGENCY})
    ),
    "head": Actor(
        user_id=302, roles=frozenset({Role.AGENCY_HEAD}), head_agencies=frozenset({DINKES})
    ),
    "ombudsman": Actor(user_id=400, roles=frozenset({Role.OMBUDSMAN})),
    "superadmin": Actor(user_id=500, roles=frozenset({Role.SUPERADMIN})),
}


def report(**overrides: object) -> ReportFacts:
    base: dict[str, object] = dict(
        region_id=JEMBER,
        reporter_id=REPORTER,
        anonymous=False,
        confidential=False,
        status=ReportStatus.IN_PROGRESS,
        agency_ids=frozenset({DINKES}),
        handed_over=False,
    )
    base.update(overrides)
    return ReportFacts(**base)  # type: ignore[arg-type]


# (action, who may) on a public, named, IN_PROGRESS Jember report assigned to DINKES.
EXPECTED_ON_PUBLIC = {
    Action.READ: {
        "public",
        "reporter",
        "citizen",
        "coordinator",
        "coordinator_other",
        "officer",
        "officer_other",
        "head",
        "ombudsman",
        "superadmin",
    },
    Action.SEE_REPORTER: {
        "public",
        "reporter",
        "citizen",
        "coordinator",
        "coordinator_other",
        "officer",
        "officer_other",
        "head",
        "ombudsman",
        "superadmin",
    },
    Action.READ_INTERNAL: {"coordinator", "officer", "head"},
    Action.SUPPORT: {
        "reporter",
        "citizen",
        "coordinator",
        "coordinator_other",
        "officer",
        "officer_other",
        "head",
        "ombudsman",
        "superadmin",
    },
    Action.ADD_INFO: {"reporter"},
    Action.RATE: {"reporter"},
    Action.DISPUTE: {"reporter"},
    Action.VERIFY: {"coordinator"},
    Action.HOLD: {"coordinator"},
    Action.ARCHIVE: {"coordinator"},
    Action.ASSIGN: {"coordinator"},
    Action.HAND_OVER: {"coordinator"},
    Action.CLOSE_ESCALATED: set(),
}

# On a confidential AND anonymous report: who may read it, and who may know the reporter.
EXPECTED_READ_CONFIDENTIAL = {"reporter", "coordinator", "officer", "head"}
EXPECTED_SEE_ANONYMOUS = {"reporter", "coordinator"}


@pytest.mark.parametrize("who", sorted(ACTORS))
@pytest.mark.parametrize("action", sorted(EXPECTED_ON_PUBLIC, key=str))
def test_matrix_on_a_public_report(who: str, action: Action) -> None:
    assert allowed_on_report(ACTORS[who], action, report()) is (who in EXPECTED_ON_PUBLIC[action])


@pytest.mark.parametrize("who", sorted(ACTORS))
def test_confidential_anonymous_report(who: str) -> None:
    facts = report(confidential=True, anonymous=True)
    assert allowed_on_report(ACTORS[who], Action.READ, facts) is (who in EXPECTED_READ_CONFIDENTIAL)
    assert allowed_on_report(ACTORS[who], Action.SEE_REPORTER, facts) is (
        who in EXPECTED_SEE_ANONYMOUS
    )


@pytest.mark.parametrize("who", sorted(ACTORS))
def test_ombudsman_reads_only_after_hand_over(who: str) -> None:
    facts = report(confidential=True, status=ReportStatus.ESCALATED, handed_over=True)
    expected = EXPECTED_READ_CONFIDENTIAL | {"ombudsman"}
    assert allowed_on_report(ACTORS[who], Action.READ, facts) is (who in expected)
    assert allowed_on_report(ACTORS[who], Action.CLOSE_ESCALATED, facts) is (who == "ombudsman")


@pytest.mark.parametrize("status", list(ReportStatus))
def test_unverified_reports_are_not_public(status: ReportStatus) -> None:
    public = is_public(report(status=status))
    assert public is (
        status not in (ReportStatus.SUBMITTED, ReportStatus.ON_HOLD, ReportStatus.ARCHIVED)
    )
    assert allowed_on_report(PUBLIC, Action.READ, report(status=status)) is public


@pytest.mark.parametrize("who", sorted(ACTORS))
def test_agency_desk(who: str) -> None:
    dinkes = AgencyFacts(DINKES, JEMBER)
    may_work = {"officer", "head"}
    may_view_inbox = {"officer", "head", "coordinator"}
    assert allowed_on_agency(ACTORS[who], Action.WORK_ASSIGNMENT, dinkes) is (who in may_work)
    assert allowed_on_agency(ACTORS[who], Action.VIEW_INBOX, dinkes) is (who in may_view_inbox)


def test_system_actor_may_do_everything() -> None:
    for action in Action:
        assert allowed_on_report(SYSTEM, action, report(confidential=True, anonymous=True))


# ------------------------------------------------- access follows current involvement (issue 12)

AS = AssignmentStatus


@pytest.mark.parametrize(
    ("assignments", "involved", "former"),
    [
        ([(DINKES, AS.PENDING)], {DINKES}, set()),
        ([(DPUPR, AS.RETURNED), (DINKES, AS.ACCEPTED)], {DINKES}, {DPUPR}),
        # Answered or forwarded to a sub-unit: still the agency's report.
        ([(DINKES, AS.RESPONDED), (DPUPR, AS.FORWARDED)], {DINKES, DPUPR}, set()),
        # Returned once, assigned again: involved again.
        ([(DPUPR, AS.RETURNED), (DPUPR, AS.PENDING)], {DPUPR}, set()),
    ],
)
def test_involvement_is_an_assignment_not_let_go(
    assignments: list[tuple[int, AssignmentStatus]], involved: set[int], former: set[int]
) -> None:
    agencies, statuses = [a for a, _ in assignments], [s for _, s in assignments]
    assert involvement(agencies, statuses) == (frozenset(involved), frozenset(former))
    # As stored (the values of the members), as a page's statement reads them.
    assert involvement(agencies, [s.value for s in statuses]) == involvement(agencies, statuses)


@pytest.mark.parametrize("confidential", [False, True])
def test_an_agency_that_returned_a_report_no_longer_reads_it(confidential: bool) -> None:
    current, former = involvement([OTHER_AGENCY, DINKES], [AS.RETURNED, AS.ACCEPTED])
    facts = report(
        confidential=confidential, anonymous=True, agency_ids=current, former_agency_ids=former
    )
    returned = ACTORS["officer_other"]  # the desk of OTHER_AGENCY

    assert allowed_on_report(returned, Action.READ, facts) is not confidential  # public or not
    assert not allowed_on_report(returned, Action.READ_INTERNAL, facts)
    assert not allowed_on_report(returned, Action.SEE_REPORTER, facts)
    assert allowed_on_report(ACTORS["officer"], Action.READ_INTERNAL, facts)
    # It keeps the record of its own assignment, and only of its own.
    assert keeps_record(returned, OTHER_AGENCY)
    assert not keeps_record(returned, DINKES)


# ------------------------------------------- reading: READ, SEE_REPORTER, READ_INTERNAL at once


def _rules_one_by_one(actor: Actor, facts: ReportFacts) -> tuple[bool, bool, bool]:
    """The three reading rules as the design states them, each on its own: the model `reading`
    (which decides them together, once per report a page shows) must agree with."""
    reporter = actor.user_id is not None and actor.user_id == facts.reporter_id
    coordinator = facts.region_id in actor.coordinator_regions
    staff = (
        coordinator
        or bool(actor.agencies & facts.agency_ids)
        or (Role.OMBUDSMAN in actor.roles and facts.handed_over)
    )
    read = is_public(facts) or reporter or staff
    sees_reporter = (reporter or coordinator) if facts.anonymous else read
    return read, sees_reporter, staff


FACTS_GRID = [
    report(
        anonymous=anonymous,
        confidential=confidential,
        status=status,
        handed_over=handed_over,
        agency_ids=agencies,
        region_id=region,
    )
    for anonymous in (False, True)
    for confidential in (False, True)
    for status in (ReportStatus.SUBMITTED, ReportStatus.IN_PROGRESS, ReportStatus.ESCALATED)
    for handed_over in (False, True)
    for agencies in (frozenset(), frozenset({DINKES}), frozenset({OTHER_AGENCY, DPUPR}))
    for region in (JEMBER, JAYAPURA)
]


@pytest.mark.parametrize("who", sorted(ACTORS))
def test_reading_decides_the_three_rules_as_each_states_it(who: str) -> None:
    actor = ACTORS[who]
    for facts in FACTS_GRID:
        read, sees_reporter, staff = _rules_one_by_one(actor, facts)
        seen = reading(actor, facts)
        assert (seen is not None) is read, facts
        if seen is not None:
            assert (seen.reporter, seen.internal) == (sees_reporter, staff), facts
        assert allowed_on_report(actor, Action.READ, facts) is read
        assert allowed_on_report(actor, Action.SEE_REPORTER, facts) is sees_reporter
        assert allowed_on_report(actor, Action.READ_INTERNAL, facts) is staff


def test_the_system_reads_everything_of_every_report() -> None:
    for facts in FACTS_GRID:
        assert reading(SYSTEM, facts) == (True, True)


@pytest.mark.parametrize(
    ("agencies", "statuses"),
    [([DINKES], ["NOT_A_STATUS"]), ([DINKES, DPUPR], ["PENDING"]), ([], ["PENDING"]), ([1], [])],
    ids=["unknown status", "an agency without status", "a status without agency", "no status"],
)
def test_involvement_refuses_what_is_not_a_status_for_each_agency(
    agencies: list[int], statuses: list[str]
) -> None:
    # Refused, not read as involvement: an agency must never read a report by a stray value.
    with pytest.raises(ValueError, match="assignment status for each agency"):
        involvement(agencies, statuses)
