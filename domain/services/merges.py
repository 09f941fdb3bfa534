"""Merging a duplicate report into the original, and undoing it (issue 15).

What a merge moved is written in the data of its `report.merged` event on the duplicate's
timeline (never shown to clients), so that its undo puts back exactly that.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from core.settings import get_settings
from domain.actor import Actor
from domain.errors import DomainError, ErrorCode, invalid, not_found
from domain.events import EventKind
from domain.ids import parse_id
from domain.lifecycle import FINAL_REPORT, ReportAction, next_report_status
from domain.policy import Action, allowed_on_report, require_signed_in
from domain.services.common import (
    Outcome,
    facts_for,
    lock_report_for,
    optional_text,
    record_event,
    require_aware,
)
from domain.services.deadlines import clear_report_due
from models import Report, ReportEvent, Support
from models.enums import ReportStatus

# The events that decide whether a report is merged now: the latest of them says.
_MERGE_STATE_KINDS = (EventKind.REPORT_MERGED, EventKind.REPORT_UNMERGED, EventKind.REPORT_ARCHIVED)
_REFUSAL = "only the region's coordinator merges reports"
_REPORT_FIELDS = ["status", "updated_at", "due_at", "sweep_at", "closed_at", "duplicate_of_id"]


async def merge(
    actor: Actor, now: datetime, report_id: int | str, into_report_id: int | str, note: str | None
) -> Outcome:
    """The region's coordinator archives `report_id` as a duplicate of `into_report_id`: its
    supporters and its reporter follow the original (each once), both timelines say so."""
    require_aware(now)
    require_signed_in(actor)
    text = optional_text(note, "note", max_length=get_settings().message_max_length)
    rid = parse_id(report_id, "reportId")
    into = parse_id(into_report_id, "intoReportId")
    if rid == into:
        raise invalid("intoReportId", "a report cannot be merged into itself")
    async with in_transaction():
        report, original = await _lock_pair(actor, rid, into)
        status_before, due_before, sweep_before = report.status, report.due_at, report.sweep_at
        # The duplicate is archived: refused (CONFLICT) when someone merged or archived it first.
        report.status = next_report_status(report.status, ReportAction.ARCHIVE)
        _require_open_original(original)
        # Who follows the original already (its reporter too) is not counted a second time:
        # their support of the duplicate stays with it.
        followers = {s.user_id for s in await Support.filter(report_id=original.id)}
        followers.add(original.reporter_id)
        carried = [
            s
            for s in await Support.filter(report_id=report.id).order_by("id")
            if s.user_id not in followers
        ]
        moving = [s.id for s in carried]
        followers.update(s.user_id for s in carried)
        if moving:
            await Support.filter(id__in=moving).update(report_id=original.id)
        follow_id = None
        if report.reporter_id not in followers:
            follow = await Support.create(
                report_id=original.id, user_id=report.reporter_id, created_at=now
            )
            follow_id = follow.id
        original.support_count += len(moving) + (1 if follow_id is not None else 0)
        original.updated_at = now
        await original.save(update_fields=["support_count", "updated_at"])
        report.support_count -= len(moving)
        report.duplicate_of_id = original.id
        report.closed_at = now
        report.updated_at = now
        clear_report_due(report)
        await report.save(update_fields=[*_REPORT_FIELDS, "support_count"])
        moved = {
            "into_report_id": original.id,
            "status": status_before.value,
            "due_at": due_before.isoformat() if due_before else None,
            "sweep_at": sweep_before.isoformat() if sweep_before else None,
            "moved_support_ids": moving,
            "follow_support_id": follow_id,
        }
        _, own = await record_event(
            report, EventKind.REPORT_MERGED, actor, now, message=text, data=moved
        )
        # Staff-only on the original: its readers learn nothing of the duplicate's reporter.
        _, other = await record_event(
            original,
            EventKind.REPORT_DUPLICATE_MERGED,
            actor,
            now,
            message=text,
            internal=True,
            data={"report_id": report.id},
        )
        return Outcome(report, outbox=[own, other])


async def unmerge(actor: Actor, now: datetime, report_id: int | str) -> Outcome:
    """Undo the merge of `report_id` within `merge_undo_hours` of it: the report is back as it
    was, and what the merge moved to the original is moved back (what came since stays)."""
    require_aware(now)
    require_signed_in(actor)
    rid = parse_id(report_id, "reportId")
    async with in_transaction():
        # The original is known only from the duplicate: read it first, then lock the pair in
        # id order like a merge (no deadlock with one), and check nothing changed meanwhile.
        seen = await Report.filter(id=rid).first()
        into = seen.duplicate_of_id if seen is not None else None
        if seen is None or into is None:
            report = await lock_report_for(actor, rid, Action.MERGE, _REFUSAL)
            raise _not_merged(await _merge_state(report))
        report, original = await _lock_pair(actor, rid, into)
        if report.duplicate_of_id != into:
            raise DomainError(ErrorCode.CONFLICT, "the report changed meanwhile: try again")
        merged = await _merge_state(report)
        if merged is None or merged.kind != EventKind.REPORT_MERGED:
            raise _not_merged(merged)
        window = timedelta(hours=get_settings().merge_undo_hours)
        if now - merged.at > window:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION,
                "the window to undo this merge has passed",
                ["reportId"],
            )
        if original.duplicate_of_id is not None:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION,
                "the report it was merged into was merged since: undo that merge first",
                ["reportId"],
            )
        data = merged.data
        moving = [int(pk) for pk in data.get("moved_support_ids", [])]
        back = await Support.filter(id__in=moving, report_id=original.id).update(
            report_id=report.id
        )
        follow_id = data.get("follow_support_id")
        dropped = 0
        if follow_id is not None:
            dropped = await Support.filter(id=int(follow_id), report_id=original.id).delete()
        original.support_count -= back + dropped
        original.updated_at = now
        await original.save(update_fields=["support_count", "updated_at"])
        report.support_count += back
        report.status = ReportStatus(data["status"])
        report.due_at = _instant(data.get("due_at"))
        report.sweep_at = _instant(data.get("sweep_at"))
        report.closed_at = None
        report.duplicate_of_id = None
        report.updated_at = now
        await report.save(update_fields=[*_REPORT_FIELDS, "support_count"])
        _, own = await record_event(
            report, EventKind.REPORT_UNMERGED, actor, now, data={"from_report_id": original.id}
        )
        _, other = await record_event(
            original,
            EventKind.REPORT_DUPLICATE_UNMERGED,
            actor,
            now,
            internal=True,
            data={"report_id": report.id},
        )
        return Outcome(report, outbox=[own, other])


async def _lock_pair(actor: Actor, rid: int, into: int) -> tuple[Report, Report]:
    """Lock both reports in id order (two merges of one pair never deadlock); NOT_FOUND on
    the field of one absent or unreadable (absent and unreadable alike, checked in argument
    order), FORBIDDEN unless the actor may merge both, VALIDATION across regions."""
    locked: dict[int, Report | None] = {}
    for pk in sorted((rid, into)):
        locked[pk] = await Report.filter(id=pk).select_for_update().first()
    facts = await facts_for([r for r in locked.values() if r is not None])
    for pk, field_name in ((rid, "reportId"), (into, "intoReportId")):
        found = locked[pk]
        if found is None or not allowed_on_report(actor, Action.READ, facts[pk]):
            raise not_found("report", field_name)
    report, original = locked[rid], locked[into]
    assert report is not None and original is not None
    if not allowed_on_report(actor, Action.MERGE, facts[rid]):
        raise DomainError(ErrorCode.FORBIDDEN, _REFUSAL)
    if original.region_id != report.region_id:
        raise invalid("intoReportId", "only reports of the same region can be merged")
    if not allowed_on_report(actor, Action.MERGE, facts[into]):
        raise DomainError(ErrorCode.FORBIDDEN, _REFUSAL)
    return report, original


def _require_open_original(original: Report) -> None:
    """INVALID_TRANSITION on intoReportId when the original is itself merged (which also
    refuses every cycle), archived or closed."""
    if original.duplicate_of_id is not None:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            "cannot merge into a report that was merged into another",
            ["intoReportId"],
        )
    if original.status in FINAL_REPORT:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"cannot merge into a report that is {original.status.value}",
            ["intoReportId"],
        )


async def _merge_state(report: Report) -> ReportEvent | None:
    """The latest merge, undo or archive line of the report: a merge in force if a merge."""
    return (
        await ReportEvent.filter(
            report_id=report.id, kind__in=[k.value for k in _MERGE_STATE_KINDS]
        )
        .order_by("-id")
        .first()
    )


def _not_merged(latest: ReportEvent | None) -> DomainError:
    """CONFLICT when the merge was undone already (by someone else, first), else
    INVALID_TRANSITION: the report is not merged."""
    if latest is not None and latest.kind == EventKind.REPORT_UNMERGED:
        return DomainError(
            ErrorCode.CONFLICT, "the merge was already undone: someone else acted on it first"
        )
    return DomainError(ErrorCode.INVALID_TRANSITION, "this report is not merged", ["reportId"])


def _instant(stored: str | None) -> datetime | None:
    return datetime.fromisoformat(stored) if stored is not None else None
