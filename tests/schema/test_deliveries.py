"""Deliveries in GraphQL: the superadmin's dead letters tell nobody who reported what
(issue 12, finding 4): a delivery to the reporter shows its recipient only where the
superadmin may see the report's reporter, and `node(id:)` opens only what `deadDeliveries`
lists."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.services import reports
from domain.services.fanout import notify_event
from models import Notification, Report, ReportEvent, User
from models.enums import Channel, DeliveryStatus
from schema.ids import to_global_id
from tests.app_fixtures import DEMO_VIEWERS, People
from tests.factories import actor_for, demo_agency, submit_complaint

DEAD = """{ deadDeliveries(first: 100) { edges { node {
  id recipient lastError kind report { anonymous } } } } }"""
NODE = "query($id: ID!) { node(id: $id) { ... on Delivery { id recipient status } } }"


async def _fanned_out(event_kind: str, report_id: int) -> list[Notification]:
    """The e-mails of the report's event of that kind, stored by the fan-out."""
    event = await ReportEvent.get(report_id=report_id, kind=event_kind)
    await notify_event(event.id, datetime.now(UTC), email_enabled=True)
    return list(await Notification.filter(event_id=event.id, channel=Channel.EMAIL))


async def _dead(rows: list[Notification], error: str) -> None:
    """Test setup: the deliveries ran out of attempts, the SMTP server naming the address."""
    for row in rows:
        address = (await User.get(id=row.user_id)).email
        row.status, row.attempts = DeliveryStatus.DEAD, 8
        row.last_error = error.format(address=address)
        await row.save()


async def test_dead_deliveries_never_show_who_reported_an_anonymous_report(
    people: People,
) -> None:
    """The audit: `deadDeliveries { recipient report { anonymous } }` put the reporter's
    address beside an anonymous report."""
    reporter = await User.get(email=DEMO_VIEWERS["reporter"])
    anonymous = await _verified(anonymous=True)
    named = await _verified()
    to_coordinators = await _fanned_out("report.submitted", anonymous.id)
    to_anonymous = await _fanned_out("report.verified", anonymous.id)
    to_named = await _fanned_out("report.verified", named.id)
    error = "SMTPRecipientsRefused: {{'{address}': (550, 'no')}}"
    await _dead(to_coordinators + to_anonymous + to_named, error)

    listed = [e["node"] for e in (await people["admin"](DEAD))["deadDeliveries"]["edges"]]

    by_id = {n["id"]: n for n in listed}
    (hidden,) = [by_id[to_global_id("Delivery", r.id)] for r in to_anonymous]
    assert hidden["recipient"] == "(the reporter, withheld)"
    assert reporter.email not in hidden["lastError"]
    assert hidden["report"] == {"anonymous": True}
    # The coordinators' deliveries name them, as before.
    others = [by_id[to_global_id("Delivery", r.id)] for r in to_coordinators]
    assert others and all("@" in n["recipient"] for n in others)
    # A verified, named report's reporter is public: their delivery names them.
    (shown,) = [by_id[to_global_id("Delivery", r.id)] for r in to_named]
    assert shown["recipient"] == reporter.email


async def _verified(**fields: bool) -> Report:
    """A complaint of the demo citizen, verified to DINKES by the Jember coordinator."""
    now = datetime.now(UTC)
    report = (await submit_complaint(now, **fields)).report
    coordinator = await actor_for(DEMO_VIEWERS["coordinator"])
    dinkes = await demo_agency("DINKES")
    await reports.verify(coordinator, now, report.id, [dinkes.id], None, None)
    return report


async def test_node_opens_only_the_deliveries_dead_deliveries_lists(people: People) -> None:
    report = await _verified()
    (dead, *_) = await _fanned_out("report.submitted", report.id)
    (pending,) = await _fanned_out("report.verified", report.id)
    await _dead([dead], "HTTP 500")
    sent = await Notification.filter(event_id=dead.event_id, channel=Channel.IN_APP).first()
    assert sent is not None

    seen = {
        name: (await people["admin"](NODE, {"id": to_global_id("Delivery", row.id)}))["node"]
        for name, row in (("dead", dead), ("pending", pending), ("in-app", sent))
    }

    assert seen["dead"] is not None and seen["dead"]["status"] == "DEAD"
    assert seen["pending"] is None
    assert seen["in-app"] is None
