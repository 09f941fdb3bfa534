"""Deadlines stored on the rows by the services, on the region's calendar (PostgreSQL, demo data
with the 2026 collective-leave days): weekends, Idul Fitri 2026, WIB against WIT."""

from __future__ import annotations

from datetime import datetime

import pytest

from domain.services import assignments, reports
from models import Assignment, Report
from models.enums import ReportStatus, ResolutionTier
from tests.app_fixtures import JAYAPURA
from tests.factories import actor_for, demo_agency, demo_region, new_complaint, utc


@pytest.mark.parametrize(
    ("region_code", "submitted", "due"),
    [
        # Monday 09:00 WIB: Tue, Wed, Thu -> Thursday 23:59:59 WIB.
        ("35.09", utc(2026, 3, 2, 2, 0), utc(2026, 3, 5, 16, 59, 59)),
        # Friday 15:00 WIB: Mon, Tue, Wed.
        ("35.09", utc(2026, 3, 6, 8, 0), utc(2026, 3, 11, 16, 59, 59)),
        # Tuesday 17 March 10:00 WIB, before Idul Fitri 2026: 18 cuti, 19 Nyepi, 20 cuti,
        # 21-22 Idul Fitri (weekend), 23-24 cuti -> 25, 26, 27 -> Friday 27 March.
        ("35.09", utc(2026, 3, 17, 3, 0), utc(2026, 3, 27, 16, 59, 59)),
        # The same days in Jayapura end at 23:59:59 WIT, two hours earlier in UTC.
        ("91.03", utc(2026, 3, 17, 1, 0), utc(2026, 3, 27, 14, 59, 59)),
        # Friday 23:30 WIB is already Saturday 01:30 WIT: Jember counts from Friday,
        # Jayapura from Saturday; both land on Wednesday, each at its own midnight.
        ("35.09", utc(2026, 6, 5, 16, 30), utc(2026, 6, 10, 16, 59, 59)),
        ("91.03", utc(2026, 6, 5, 16, 30), utc(2026, 6, 10, 14, 59, 59)),
        # Thursday 4 June 16:30 UTC: still Thursday 23:30 in Jember (counts Fri, Mon, Tue),
        # but Friday 01:30 in Jayapura (counts Mon, Tue, Wed).
        ("35.09", utc(2026, 6, 4, 16, 30), utc(2026, 6, 9, 16, 59, 59)),
        ("91.03", utc(2026, 6, 4, 16, 30), utc(2026, 6, 10, 14, 59, 59)),
    ],
)
async def test_verify_deadline_of_a_new_report(
    db: str, region_code: str, submitted: datetime, due: datetime
) -> None:
    report = await new_complaint(submitted, region=region_code)
    stored = await Report.get(id=report.id)
    assert stored.status is ReportStatus.SUBMITTED
    assert stored.due_at == due


async def test_assignment_deadlines_after_idul_fitri(db: str) -> None:
    """Verified on Wednesday 25 March 2026 in Jember: the first follow-up is due 5 working days
    later (26, 27, 30, 31 March, 1 April), a FIELD resolution 60 working days after the
    assignment, and the report's deadline is its open assignment's."""
    report = await new_complaint(utc(2026, 3, 17, 3, 0))
    coordinator = await actor_for("koordinator@jember.demo")
    dinkes = await demo_agency("DINKES")
    verified_at = utc(2026, 3, 25, 2, 0)
    await reports.verify(coordinator, verified_at, report.id, [dinkes.id], None, None)
    assignment = await Assignment.get(report_id=report.id)
    assert assignment.due_at == utc(2026, 4, 1, 16, 59, 59)
    assert (await Report.get(id=report.id)).due_at == assignment.due_at

    officer = await actor_for("dinkes@jember.demo")
    await assignments.accept(officer, utc(2026, 3, 26, 2, 0), assignment.id, ResolutionTier.SIMPLE)
    accepted = await Assignment.get(id=assignment.id)
    # 5 working days from 25 March: 26, 27, 30, 31 March, 1 April (Good Friday is 3 April).
    assert accepted.resolution_due_at == utc(2026, 4, 1, 16, 59, 59)
    # No follow-up yet: the first follow-up deadline still runs.
    assert accepted.due_at == accepted.first_response_due_at

    await assignments.follow_up(
        officer, utc(2026, 3, 27, 2, 0), assignment.id, "Dicek", False, None
    )
    followed = await Assignment.get(id=assignment.id)
    assert followed.due_at == followed.resolution_due_at


async def test_a_holiday_added_as_data_moves_the_deadline(db: str) -> None:
    """A regional holiday of Jayapura (data) counts there and not in Jember."""
    from models import Holiday

    jayapura = await demo_region(JAYAPURA)
    holiday = await Holiday.create(
        day=datetime(2026, 3, 4).date(), name="Hari jadi", region_id=jayapura.id
    )
    try:
        monday = utc(2026, 3, 2, 2, 0)
        in_jayapura = await new_complaint(monday, region=JAYAPURA)
        in_jember = await new_complaint(monday)
        assert in_jember.due_at == utc(2026, 3, 5, 16, 59, 59)
        assert in_jayapura.due_at == utc(2026, 3, 6, 14, 59, 59)
    finally:
        await holiday.delete()
