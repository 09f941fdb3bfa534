"""Fan-out on PostgreSQL: every event kind reaches exactly the people (and agency webhooks)
who must know, over the right channels, and nothing sent names an anonymous reporter or
carries a confidential report's content."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.actor import SYSTEM
from domain.services import assignments, deliveries, fanout, reports
from domain.services.accounts import register
from domain.services.common import Outcome
from models import Agency, Assignment, Notification, ReportEvent, User
from models.enums import Channel, ResolutionCode, ResolutionTier
from tests.app_fixtures import holders
from tests.factories import actor_for, demo_agency, submit_complaint

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # Monday 09:00 WIB
COORDINATOR = "koordinator@jember.demo"
OFFICER = "dinkes@jember.demo"
HEAD = "kepala.dinkes@jember.demo"
DPUPR = "pupr@jember.demo"
REPORTER = "warga@jember.demo"
OMBUDSMAN = "ombudsman@lapor.demo"

# What one event told: {(recipient, channel)}, recipient an e-mail or "webhook:<agency code>".
Told = set[tuple[str, str]]


async def _fan_out(outcome: Outcome) -> dict[str, Told]:
    """Run the fan-out of each outbox row of a use case; what each event kind told whom."""
    told: dict[str, Told] = {}
    for oid in outcome.outbox_ids:
        done = await fanout.fan_out(NOW, email_enabled=True, outbox_id=oid)
        assert done is not None and done.event_id is not None
        event = await ReportEvent.get(id=done.event_id)
        told[event.kind] = await _told(event.id)
    return told


async def _told(event_id: int) -> Told:
    result: Told = set()
    for n in await Notification.filter(event_id=event_id):
        if n.user_id is not None:
            result.add(((await User.get(id=n.user_id)).email, n.channel.value))
        else:
            result.add((f"webhook:{(await Agency.get(id=n.agency_id)).code}", n.channel.value))
    return result


async def staff(who: str) -> set[str]:
    """Everyone holding the role the demo account `who` holds (tests may have added more)."""
    scope = {
        COORDINATOR: ("COORDINATOR", {"region": "35.09"}),
        OFFICER: ("OFFICER", {"agency": "DINKES"}),
        HEAD: ("AGENCY_HEAD", {"agency": "DINKES"}),
        DPUPR: ("OFFICER", {"agency": "DPUPR"}),
        OMBUDSMAN: ("OMBUDSMAN", {}),
    }
    if who not in scope:
        return {who}
    role, where = scope[who]
    return await holders(role, **where)


async def both(*who: str) -> Told:
    return {(e, c) for w in who for e in await staff(w) for c in ("IN_APP", "EMAIL")}


def in_app(*emails: str) -> Told:
    return {(e, "IN_APP") for e in emails}


@pytest.fixture(autouse=True)
async def _clean(db: str) -> None:
    """Every test starts with no reports and no notifications."""


@pytest.fixture
async def follower(db: str) -> str:
    email = f"pengikut-{uuid.uuid4().hex[:8]}@example.org"
    await register(NOW, "Pengikut", email, "rahasia-panjang-sekali", None)
    return email


async def test_each_event_of_a_public_report_reaches_exactly_its_audience(
    follower: str, dinkes_webhook: Agency
) -> None:
    coordinator, officer = await actor_for(COORDINATOR), await actor_for(OFFICER)
    submitted = await submit_complaint(NOW)
    report = submitted.report
    # The reporter did it, so only the region's desk hears of it.
    assert (await _fan_out(submitted))["report.submitted"] == await both(COORDINATOR)

    verified = await reports.verify(
        coordinator, NOW, report.id, [dinkes_webhook.id], None, "Mohon ditindaklanjuti"
    )
    told = await _fan_out(verified)
    assert told["report.verified"] == await both(REPORTER)
    assert told["assignment.created"] == await both(OFFICER) | {("webhook:DINKES", "WEBHOOK")}

    supported = await reports.support(await actor_for(follower), NOW, report.id)
    assert (await _fan_out(supported))["report.supported"] == set()  # a staff-only line

    assignment = await Assignment.get(report_id=report.id)
    accepted = await assignments.accept(officer, NOW, assignment.id, ResolutionTier.SIMPLE)
    assert (await _fan_out(accepted))["assignment.accepted"] == await both(REPORTER, COORDINATOR)

    interim = await assignments.follow_up(officer, NOW, assignment.id, "Sedang dicek", False, None)
    # A follower hears in-app only: no bulk e-mail to people who merely pressed +1.
    assert (await _fan_out(interim))["assignment.follow_up"] == await both(
        REPORTER, COORDINATOR
    ) | in_app(follower)

    final = await assignments.follow_up(
        officer, NOW, assignment.id, "Jam layanan diperpanjang", True, ResolutionCode.RESOLVED
    )
    told = await _fan_out(final)
    assert told["assignment.final_follow_up"] == await both(REPORTER, COORDINATOR) | in_app(
        follower
    )
    assert told["report.responded"] == await both(REPORTER) | in_app(follower)

    disputed = await reports.dispute(await actor_for(REPORTER), NOW, report.id, "Masih tutup")
    told = await _fan_out(disputed)
    assert told["report.disputed"] == await both(COORDINATOR, OFFICER) | {
        ("webhook:DINKES", "WEBHOOK")
    }
    assert told["assignment.reopened"] == await both(OFFICER) | {("webhook:DINKES", "WEBHOOK")}

    returned = await assignments.return_(
        officer, NOW, assignment.id, "Ini urusan DPUPR", (await demo_agency("DPUPR")).id
    )
    assert (await _fan_out(returned))["assignment.returned"] == await both(COORDINATOR)

    assigned = await reports.assign(
        coordinator, NOW, report.id, (await demo_agency("DPUPR")).id, None
    )
    assert (await _fan_out(assigned))["assignment.created"] == await both(DPUPR)


async def test_a_hand_over_reaches_the_ombudsman_the_heads_the_desk_and_the_reporter() -> None:
    report = (await submit_complaint(NOW, ombudsman_consent=True)).report
    coordinator = await actor_for(COORDINATOR)
    await reports.verify(
        coordinator, NOW, report.id, [(await demo_agency("DINKES")).id], None, None
    )
    late = NOW + timedelta(days=60)
    escalated = await reports.hand_over(SYSTEM, late, report.id, "tenggat terlewati")
    assert (await _fan_out(escalated))["report.escalated"] == await both(
        REPORTER, OMBUDSMAN, COORDINATOR, HEAD
    )


async def test_the_fan_out_of_an_event_is_stored_once_however_often_it_runs() -> None:
    outcome = await submit_complaint(NOW)
    await _fan_out(outcome)
    event_id = (await ReportEvent.get(report_id=outcome.report.id)).id
    before = await Notification.filter(event_id=event_id).count()
    again = await fanout.notify_event(event_id, NOW, email_enabled=True)
    assert (
        await Notification.filter(event_id=event_id).count()
        == before
        == len(await both(COORDINATOR))
    )
    coordinators = len(await staff(COORDINATOR))
    assert len(again.in_app) == coordinators == len(again.deliveries)
    # The outbox row is relayed: running its job again does nothing at all.
    assert await fanout.fan_out(NOW, email_enabled=True, outbox_id=outcome.outbox_ids[0]) is None


async def test_without_smtp_no_email_is_written() -> None:
    outcome = await submit_complaint(NOW)
    done = await fanout.fan_out(NOW, email_enabled=False, outbox_id=outcome.outbox_ids[0])
    assert done is not None and done.deliveries == []
    assert await Notification.filter(channel=Channel.EMAIL).count() == 0


async def test_nothing_sent_names_an_anonymous_reporter_or_carries_confidential_content(
    follower: str, dinkes_webhook: Agency
) -> None:
    submitted = await submit_complaint(
        NOW, anonymous=True, confidential=True, ombudsman_consent=True
    )
    report = submitted.report
    officer = await actor_for(OFFICER)
    outcomes = [submitted]
    outcomes.append(
        await reports.verify(
            await actor_for(COORDINATOR), NOW, report.id, [dinkes_webhook.id], None, None
        )
    )
    assignment = await Assignment.get(report_id=report.id)
    outcomes.append(await assignments.accept(officer, NOW, assignment.id, ResolutionTier.SIMPLE))
    outcomes.append(await assignments.follow_up(officer, NOW, assignment.id, "Dicek", False, None))
    outcomes.append(await reports.hand_over(SYSTEM, NOW + timedelta(days=30), report.id, "lewat"))
    for outcome in outcomes:
        await _fan_out(outcome)
    reporter = await User.get(email=REPORTER)
    secrets = [report.title, report.body, reporter.name, reporter.email, "Sumiati"]
    sent = await Notification.filter(report_id=report.id)
    assert {n.channel for n in sent} == {Channel.IN_APP, Channel.EMAIL, Channel.WEBHOOK}
    for n in sent:
        outgoing = await deliveries.outgoing_for(n) if n.channel != Channel.IN_APP else None
        texts = [n.message]
        if isinstance(outgoing, deliveries.Webhook):
            texts.append(outgoing.body.decode())
            assert json.loads(outgoing.body)["report"]["title"] is None
        elif outgoing is not None:
            texts += [outgoing.subject, outgoing.text, outgoing.html]
        for text in texts:
            for secret in secrets:
                assert secret not in text, (n.kind, n.channel, text)
        assert report.tracking_code in n.message


async def test_the_other_event_kinds_reach_exactly_their_audience(follower: str) -> None:
    reporter, coordinator = await actor_for(REPORTER), await actor_for(COORDINATOR)
    report = (await submit_complaint(NOW)).report
    held = await reports.hold(coordinator, NOW, report.id, "Lokasi persisnya di mana?")
    assert (await _fan_out(held))["report.held"] == await both(REPORTER)
    info = await reports.add_info(reporter, NOW, report.id, "Depan pasar Tanjung")
    assert (await _fan_out(info))["report.info_added"] == await both(COORDINATOR)
    dinkes = await demo_agency("DINKES")
    await reports.verify(coordinator, NOW, report.id, [dinkes.id], None, None)
    assignment = await Assignment.get(report_id=report.id)
    officer = await actor_for(OFFICER)
    await assignments.accept(officer, NOW, assignment.id, ResolutionTier.SIMPLE)
    forwarded = await assignments.forward(
        officer, NOW, assignment.id, (await demo_agency("PKM-SUMBERSARI")).id, None
    )
    told = await _fan_out(forwarded)
    assert told["assignment.forwarded"] == await both(COORDINATOR)
    puskesmas = await holders("OFFICER", agency="PKM-SUMBERSARI")
    assert told["assignment.created"] == {(e, c) for e in puskesmas for c in ("IN_APP", "EMAIL")}
    child = await Assignment.get(report_id=report.id, parent_id=assignment.id)
    puskesmas_desk = await actor_for("puskesmas@jember.demo")
    await assignments.accept(puskesmas_desk, NOW, child.id, ResolutionTier.SIMPLE)
    await assignments.follow_up(
        puskesmas_desk, NOW, child.id, "Beres", True, ResolutionCode.RESOLVED
    )
    rated = await reports.rate(reporter, NOW, report.id, 5, "Terima kasih")
    # The desks that worked on it hear of the rating; nobody is working on it any more.
    assert (await _fan_out(rated))["report.rated"] == await both(COORDINATOR)

    spam = (await submit_complaint(NOW)).report
    archived = await reports.archive(coordinator, NOW, spam.id, "Iklan", None)
    assert (await _fan_out(archived))["report.archived"] == await both(REPORTER)


async def test_deadline_steps_reach_the_desk_its_head_and_the_coordinators() -> None:
    from domain.services.sweep import sweep

    report = (await submit_complaint(NOW)).report
    await reports.verify(
        await actor_for(COORDINATOR), NOW, report.id, [(await demo_agency("DINKES")).id], None, None
    )
    assignment = await Assignment.get(report_id=report.id)
    assert assignment.due_at is not None
    reminded = await sweep(assignment.due_at - timedelta(hours=1))
    assert (await _fan_out(Outcome(report, outbox=reminded.outbox)))[
        "deadline.reminder"
    ] == await both(OFFICER)
    breached = await sweep(assignment.due_at + timedelta(hours=1))
    assert (await _fan_out(Outcome(report, outbox=breached.outbox)))[
        "deadline.breached"
    ] == await both(OFFICER, HEAD)
    escalated = await sweep(assignment.due_at + timedelta(days=14))
    assert (await _fan_out(Outcome(report, outbox=escalated.outbox)))[
        "deadline.escalated"
    ] == await both(COORDINATOR, HEAD)
