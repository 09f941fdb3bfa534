"""The masked views and the policy's facts, which are made from their values in order (not by
name, domain/services/views.py): every field holds the value of its own name, or its mask."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.actor import PUBLIC, SYSTEM, Actor
from domain.policy import ReportFacts
from domain.services.common import facts_of
from domain.services.views import (
    AssignmentView,
    EventView,
    FollowUpView,
    ReportView,
    assignment_view,
    event_view,
    event_views,
    follow_up_view,
    record_view,
    report_view,
)
from models.enums import (
    AssignmentStatus,
    ReportKind,
    ReportStatus,
    ResolutionCode,
    ResolutionTier,
    Role,
)
from models.rows import AssignmentRow, EventRow, FollowUpRow, ReportRow

AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def distinct(row_type: type[Any], **typed: Any) -> Any:
    """A row whose every field holds a value of its own (no two alike), so that a value put in
    another field's place is seen; `typed` gives the fields whose type a view relies on."""
    values = {name: f"{row_type.__name__}.{name}" for name in row_type._fields}
    values.update(typed)
    return row_type(**values)


def report_row() -> ReportRow:
    return distinct(
        ReportRow,
        id=1,
        kind=ReportKind.COMPLAINT,
        anonymous=False,
        confidential=True,
        status=ReportStatus.IN_PROGRESS,
        region_id=7,
        reporter_id=100,
        escalated_at=AT,
    )


def same_names(view: tuple[Any, ...], row: tuple[Any, ...], masked: dict[str, Any]) -> None:
    """Each field of `view` holds the row's field of that name, or what `masked` says."""
    for name in view._fields:  # type: ignore[attr-defined]
        expected = masked[name] if name in masked else getattr(row, name)
        assert getattr(view, name) == expected, name


@pytest.mark.parametrize(
    ("actor", "sees_reporter", "staff"),
    [
        (SYSTEM, True, True),
        (PUBLIC, False, False),  # a confidential report: only its desks name the reporter
        (
            Actor(
                user_id=9, roles=frozenset({Role.COORDINATOR}), coordinator_regions=frozenset({7})
            ),
            True,
            True,
        ),
    ],
)
def test_a_report_view_holds_each_field_of_its_name(
    actor: Actor, sees_reporter: bool, staff: bool
) -> None:
    row = report_row()
    view = report_view(actor, row, facts_of(row))
    hidden = (
        {} if sees_reporter else dict.fromkeys(("reporter_id", "latitude", "longitude", "address"))
    )
    same_names(view, row, {**hidden, "staff_view": staff, "withheld": False})
    assert type(view) is ReportView and len(view) == len(ReportView._fields)


def test_a_record_view_withholds_the_content() -> None:
    row = report_row()
    view = record_view(SYSTEM, row, facts_of(row))
    withheld = dict(
        title="",
        body="",
        reporter_id=None,
        due_at=None,
        support_count=0,
        reopen_count=0,
        transfer_count=0,
        latitude=None,
        longitude=None,
        address=None,
        staff_view=False,
        duplicate_of_id=None,
        withheld=True,
    )
    same_names(view, row, withheld)


@pytest.mark.parametrize("staff", [True, False])
def test_an_assignment_view_holds_each_field_of_its_name(staff: bool) -> None:
    row = distinct(AssignmentRow, status=AssignmentStatus.PENDING, tier=ResolutionTier.SIMPLE)
    view = assignment_view(row, staff)
    hidden = {} if staff else {"return_reason": None, "suggested_agency_id": None}
    same_names(view, row, hidden)
    assert type(view) is AssignmentView and len(view) == len(AssignmentView._fields)


def test_a_follow_up_view_holds_each_field_of_its_name() -> None:
    row = distinct(FollowUpRow, resolution=ResolutionCode.RESOLVED)
    view = follow_up_view(row)
    same_names(view, row, {})
    assert type(view) is FollowUpView and len(view) == len(FollowUpView._fields)


@pytest.mark.parametrize(
    ("actor_id", "hidden_reporter_id", "shown_actor", "by_reporter"),
    [(55, None, 55, False), (100, None, 100, True), (66, 66, None, True)],
)
def test_a_timeline_line_holds_each_field_of_its_name(
    actor_id: int, hidden_reporter_id: int | None, shown_actor: int | None, by_reporter: bool
) -> None:
    report = report_view(SYSTEM, report_row(), facts_of(report_row()))
    row = distinct(EventRow, actor_id=actor_id, at=AT - timedelta(days=1))
    view = event_view(row, report, hidden_reporter_id)
    masked = {"actor_id": shown_actor, "region_id": 7, "by_reporter": by_reporter}
    same_names(view, row, masked)
    assert type(view) is EventView and len(view) == len(EventView._fields)


def test_a_timeline_line_is_read_by_position_as_a_row_or_as_read() -> None:
    """A line is read in EventRow's order: a row and the values it would be made from (a detail
    page holds its lines as the records read) give the same view, alone or in a page; values of
    another width are refused rather than shown in the wrong fields."""
    report = report_view(SYSTEM, report_row(), facts_of(report_row()))
    row = distinct(EventRow, actor_id=66, at=AT - timedelta(days=1))
    as_row = event_views([row], report, 66)
    assert event_views([tuple(row)], report, 66) == as_row
    assert [event_view(tuple(row), report, 66)] == as_row
    for width in (len(row) - 1, len(row) + 1):
        with pytest.raises(ValueError):
            event_views([(*row, "more")[:width]], report, 66)


def test_the_facts_hold_each_field_of_its_name() -> None:
    row = report_row()
    facts = facts_of(row, [10, 11, 12], ["PENDING", "RETURNED", "ACCEPTED"])
    involvement = {
        "agency_ids": frozenset({10, 12}),
        "former_agency_ids": frozenset({11}),
        "handed_over": True,
    }
    same_names(facts, row, involvement)
    assert facts_of(row._replace(escalated_at=None)).handed_over is False
    assert type(facts) is ReportFacts and len(facts) == len(ReportFacts._fields)


@pytest.mark.parametrize("viewer", ["themselves", "superadmin", "staff"])
def test_a_user_view_holds_each_field_of_its_name(viewer: str) -> None:
    from types import SimpleNamespace

    from domain.services.views import UserView, user_view

    person = SimpleNamespace(
        id=41,
        name="Budi",
        email="budi@example.test",
        roles=frozenset({Role.OFFICER, Role.AGENCY_HEAD}),
    )
    actor = {
        "themselves": Actor(user_id=41, roles=frozenset({Role.OFFICER})),
        "superadmin": Actor(user_id=1, roles=frozenset({Role.SUPERADMIN})),
        "staff": Actor(user_id=2, roles=frozenset({Role.COORDINATOR})),
    }[viewer]
    view = user_view(person, actor)
    assert isinstance(view, UserView)
    assert (view.id, view.name, view.roles) == (41, "Budi", tuple(sorted(person.roles)))
    assert view.email == (None if viewer == "staff" else "budi@example.test")


def test_a_page_of_timeline_lines_masks_each_line_as_it_would_alone() -> None:
    report = report_view(SYSTEM, report_row(), facts_of(report_row()))
    assert report.reporter_id == 100
    actors = (55, 100, 66, None)
    rows = [distinct(EventRow, actor_id=a, at=AT - timedelta(days=1)) for a in actors]
    # (actor shown, by the reporter) for each line, with reporter 66 hidden from the viewer.
    expected = [(55, False), (100, True), (None, True), (None, False)]
    views = event_views(rows, report, 66)
    for row, view, (shown, by_reporter) in zip(rows, views, expected, strict=True):
        masked = {"actor_id": shown, "region_id": 7, "by_reporter": by_reporter}
        same_names(view, row, masked)
        assert type(view) is EventView
    assert event_views([], report, None) == []
