"""Merging a duplicate into the original on PostgreSQL (issue 15): every link it moves, who is
told (and who is not), its undo within the window, and each refusal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core.settings import get_settings
from domain.actor import Actor
from domain.errors import DomainError, ErrorCode
from domain.services import fanout, merges, reports
from domain.services.accounts import Grant, actor_for_user, create_user, register
from domain.services.common import Outcome
from models import Agency, Notification, Report, ReportEvent, Support, User
from models.enums import ReportStatus, Role
from tests.app_fixtures import JAYAPURA, holders
from tests.factories import actor_for, demo_agency, demo_region, new_complaint

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # Monday 09:00 WIB
LATER = NOW + timedelta(hours=1)
COORDINATOR = "koordinator@jember.demo"
REPORTER = "warga@jember.demo"


async def _citizen(name: str) -> Actor:
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.org"
    await register(NOW, name.title(), email, "rahasia-panjang-sekali", None)
    return await actor_for(email)


async def _supports(report: Report) -> set[int]:
    return {s.user_id for s in await Support.filter(report_id=report.id)}


async def _give_support(report: Report, user: Actor) -> None:
    """A supporter of `report` as a row (a duplicate at the desk is not public: nobody could
    support it through the API, but an earlier merge may have brought it followers)."""
    assert user.user_id is not None
    await Support.create(report_id=report.id, user_id=user.user_id, created_at=NOW)
    await Report.filter(id=report.id).update(support_count=len(await _supports(report)))


async def _links() -> dict[str, object]:
    """Every report's status, deadlines, duplicate link and supporters: what an undo restores."""
    found: dict[str, object] = {}
    for r in await Report.all().order_by("id"):
        found[r.tracking_code] = (
            r.status,
            r.due_at,
            r.sweep_at,
            r.closed_at,
            r.duplicate_of_id,
            r.support_count,
            sorted(await _supports(r)),
        )
    return found


async def _told(outcome: Outcome) -> dict[str, set[tuple[str, str]]]:
    """Fan out a use case's events; who each event kind told, over which channel."""
    told: dict[str, set[tuple[str, str]]] = {}
    for oid in outcome.outbox_ids:
        done = await fanout.fan_out(NOW, email_enabled=True, outbox_id=oid)
        assert done is not None and done.event_id is not None
        event = await ReportEvent.get(id=done.event_id)
        rows = await Notification.filter(event_id=event.id)
        told[event.kind] = set()
        for n in rows:
            if n.user_id is not None:
                who = (await User.get(id=n.user_id)).email
            else:
                who = f"webhook:{(await Agency.get(id=n.agency_id)).code}"
            told[event.kind].add((who, n.channel.value))
    return told


@pytest.fixture
async def pair(db: str) -> tuple[Report, Report, Actor]:
    """An original in progress at DINKES (the demo citizen's), and an anonymous duplicate at
    the desk sent by another citizen; the coordinator."""
    coordinator = await actor_for(COORDINATOR)
    original = await new_complaint(NOW, title="Jalan rusak di Sumbersari")
    dinkes = await demo_agency("DINKES")
    await reports.verify(coordinator, NOW, original.id, [dinkes.id], None, None)
    duplicate = await new_complaint(
        NOW, by=await _citizen("kedua"), anonymous=True, title="Jalanan rusak Sumbersari"
    )
    return await Report.get(id=original.id), duplicate, coordinator


async def test_a_merge_carries_the_reporter_and_supporters_over_each_once(
    pair: tuple[Report, Report, Actor],
) -> None:
    original, duplicate, coordinator = pair
    both = await _citizen("keduanya")  # supports both: counted once
    carried = await _citizen("pengikut")  # supports the duplicate only: carried over
    first_reporter = await actor_for(REPORTER)  # the original's own reporter
    await reports.support(both, NOW, original.id)
    for supporter in (both, carried, first_reporter):
        await _give_support(duplicate, supporter)

    await merges.merge(coordinator, LATER, duplicate.id, original.id, "Laporan yang sama")

    merged, into = await Report.get(id=duplicate.id), await Report.get(id=original.id)
    assert (merged.status, merged.duplicate_of_id) == (ReportStatus.ARCHIVED, original.id)
    assert (merged.due_at, merged.sweep_at, merged.closed_at) == (None, None, LATER)
    assert await _supports(into) == {both.user_id, carried.user_id, duplicate.reporter_id}
    assert into.support_count == 3
    # Those who follow the original already keep their support of the duplicate, uncounted.
    assert await _supports(merged) == {both.user_id, first_reporter.user_id}
    assert merged.support_count == 2
    (own,) = await ReportEvent.filter(report_id=duplicate.id, kind="report.merged")
    assert (own.message, own.visibility) == ("Laporan yang sama", "public")
    (other,) = await ReportEvent.filter(report_id=original.id, kind="report.duplicate_merged")
    assert other.visibility == "internal"  # the original's readers learn nothing of it


async def test_the_duplicates_reporter_and_the_original_agencies_are_told_no_one_else(
    pair: tuple[Report, Report, Actor], dinkes_webhook: Agency
) -> None:
    original, duplicate, coordinator = pair
    outcome = await merges.merge(coordinator, LATER, duplicate.id, original.id, None)

    told = await _told(outcome)

    second = (await User.get(id=duplicate.reporter_id)).email
    assert told["report.merged"] == {(second, "IN_APP"), (second, "EMAIL")}
    officers = await holders("OFFICER", agency="DINKES")
    assert told["report.duplicate_merged"] == {
        (e, c) for e in officers for c in ("IN_APP", "EMAIL")
    } | {("webhook:DINKES", "WEBHOOK")}
    sent = await Notification.filter(
        report_id__in=[original.id, duplicate.id],
        kind__in=["report.merged", "report.duplicate_merged"],
    )
    first, other = await User.get(email=REPORTER), await User.get(id=duplicate.reporter_id)
    for n in sent:
        # Neither reporter is named to anyone, nor the original to the duplicate's reporter.
        for secret in (first.name, first.email, other.name, other.email):
            assert secret not in n.message
        if n.kind == "report.merged":
            assert original.tracking_code not in n.message
        else:
            assert duplicate.tracking_code not in n.message


async def test_the_undo_restores_everything_the_merge_moved(
    pair: tuple[Report, Report, Actor],
) -> None:
    original, duplicate, coordinator = pair
    carried, both = await _citizen("pengikut"), await _citizen("keduanya")
    await reports.support(both, NOW, original.id)
    await _give_support(duplicate, carried)
    await _give_support(duplicate, both)
    before = await _links()
    await merges.merge(coordinator, LATER, duplicate.id, original.id, None)
    assert await _links() != before

    window = timedelta(hours=get_settings().merge_undo_hours)
    await merges.unmerge(coordinator, LATER + window, duplicate.id)

    after = await _links()
    # Only the times of change moved on; everything else is as it was, exactly.
    assert after == before
    assert await ReportEvent.filter(report_id=duplicate.id, kind="report.unmerged").count() == 1
    undone = ReportEvent.filter(report_id=original.id, kind="report.duplicate_unmerged")
    assert (await undone.get()).visibility == "internal"
    # Merged again, and undone again: each undo puts back its own merge.
    await merges.merge(coordinator, LATER + window, duplicate.id, original.id, None)
    await merges.unmerge(coordinator, LATER + window, duplicate.id)
    assert await _links() == before


async def test_the_undo_is_refused_after_the_window(pair: tuple[Report, Report, Actor]) -> None:
    original, duplicate, coordinator = pair
    await merges.merge(coordinator, NOW, duplicate.id, original.id, None)
    merged = await _links()
    too_late = NOW + timedelta(hours=get_settings().merge_undo_hours, seconds=1)

    with pytest.raises(DomainError) as refused:
        await merges.unmerge(coordinator, too_late, duplicate.id)

    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_TRANSITION, ["reportId"])
    assert await _links() == merged


async def _refusal(call: object) -> tuple[ErrorCode, list[str] | None]:
    with pytest.raises(DomainError) as refused:
        await call  # type: ignore[misc]
    return refused.value.code, refused.value.field


async def test_each_refusal_has_its_code_and_writes_nothing(
    pair: tuple[Report, Report, Actor],
) -> None:
    original, duplicate, coordinator = pair
    other = await new_complaint(NOW, title="Lampu jalan mati")
    elsewhere = await new_complaint(NOW, region=JAYAPURA, by=await _citizen("papua"))
    both_regions = await _coordinator_of(await demo_region(), await demo_region(JAYAPURA))
    closed = await new_complaint(NOW)
    await Report.filter(id=closed.id).update(status=ReportStatus.CLOSED)
    archived = await new_complaint(NOW)
    await reports.archive(coordinator, NOW, archived.id, "spam", None)
    fresh = await new_complaint(NOW, title="Jembatan putus")
    events = await ReportEvent.all().count()
    before = await _links()
    merge = merges.merge

    assert await _refusal(merge(coordinator, LATER, duplicate.id, duplicate.id, None)) == (
        ErrorCode.VALIDATION,
        ["intoReportId"],
    )
    assert await _refusal(merge(both_regions, LATER, duplicate.id, elsewhere.id, None)) == (
        ErrorCode.VALIDATION,
        ["intoReportId"],
    )
    # The Jember desk may not read a report of Jayapura at its desk: not found, never forbidden.
    assert await _refusal(merge(coordinator, LATER, duplicate.id, elsewhere.id, None)) == (
        ErrorCode.NOT_FOUND,
        ["intoReportId"],
    )
    assert await _refusal(merge(coordinator, LATER, duplicate.id, 987_654_321, None)) == (
        ErrorCode.NOT_FOUND,
        ["intoReportId"],
    )
    for final in (closed, archived):
        assert await _refusal(merge(coordinator, LATER, duplicate.id, final.id, None)) == (
            ErrorCode.INVALID_TRANSITION,
            ["intoReportId"],
        )
    reporter = await actor_for(REPORTER)
    assert (await _refusal(merge(reporter, LATER, other.id, original.id, None)))[0] == (
        ErrorCode.FORBIDDEN
    )
    # A report verified and at an agency is no duplicate to archive.
    assert (await _refusal(merge(coordinator, LATER, original.id, other.id, None)))[0] == (
        ErrorCode.INVALID_TRANSITION
    )
    assert await _refusal(merges.unmerge(coordinator, LATER, other.id)) == (
        ErrorCode.INVALID_TRANSITION,
        ["reportId"],
    )
    assert await ReportEvent.all().count() == events
    assert await _links() == before

    # Merged once: into the merged report, or back in a cycle, is refused.
    await merge(coordinator, LATER, duplicate.id, other.id, None)
    before, events = await _links(), await ReportEvent.all().count()
    assert await _refusal(merge(coordinator, LATER, fresh.id, duplicate.id, None)) == (
        ErrorCode.INVALID_TRANSITION,
        ["intoReportId"],
    )
    assert await _refusal(merge(coordinator, LATER, other.id, duplicate.id, None)) == (
        ErrorCode.INVALID_TRANSITION,
        ["intoReportId"],
    )
    assert (await _refusal(merge(coordinator, LATER, duplicate.id, other.id, None)))[0] == (
        ErrorCode.CONFLICT
    )
    assert await ReportEvent.all().count() == events
    assert await _links() == before


async def test_an_undo_waits_for_the_undo_of_a_later_merge_of_the_original(
    pair: tuple[Report, Report, Actor],
) -> None:
    original, duplicate, coordinator = pair
    middle = await new_complaint(NOW, title="Jalan berlubang Sumbersari")
    await merges.merge(coordinator, LATER, duplicate.id, middle.id, None)
    await merges.merge(coordinator, LATER, middle.id, original.id, None)

    assert await _refusal(merges.unmerge(coordinator, LATER, duplicate.id)) == (
        ErrorCode.INVALID_TRANSITION,
        ["reportId"],
    )
    # The duplicate's reporter followed the middle report, and with it the original.
    assert duplicate.reporter_id in await _supports(await Report.get(id=original.id))

    await merges.unmerge(coordinator, LATER, middle.id)
    await merges.unmerge(coordinator, LATER, duplicate.id)
    assert await _supports(await Report.get(id=middle.id)) == set()
    assert (await Report.get(id=duplicate.id)).status is ReportStatus.SUBMITTED


async def _coordinator_of(*regions: object) -> Actor:
    user = await create_user(
        NOW,
        name="Koordinator Dua Wilayah",
        email=f"dua-{uuid.uuid4().hex[:8]}@test.demo",
        password="lapor-test-password",
        grants=[Grant(Role.COORDINATOR, region_id=r.id) for r in regions],  # type: ignore[attr-defined]
    )
    return await actor_for_user(user.id)
