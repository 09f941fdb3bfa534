"""The workers as processes (`lapor worker`) on PostgreSQL and Redis, with a real SMTP server
and real webhook receivers: fan-out, e-mail, signed webhooks with retries, dead deliveries,
a worker killed mid-fan-out, Redis down, concurrent sweeps, graceful shutdown, health."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from arq.connections import ArqRedis
from tortoise import connections

from core.channels import NotificationsMessage
from core.dispatch import ArqOutboxDispatcher
from core.settings import get_settings
from domain.auth import hash_password
from domain.services import assignments, reports, transparency
from domain.services.outbox import OutboxEntry
from models import (
    Agency,
    Assignment,
    Notification,
    OutboxMessage,
    Report,
    ReportEvent,
    Support,
    SweepMark,
    User,
)
from models.enums import Channel, DeliveryStatus, ResolutionTier
from tests.app_fixtures import GQL, holders
from tests.factories import actor_for, demo_agency, new_complaint, submit_complaint
from tests.harness import RedisServer
from tests.workers.conftest import ROOT, Workers, eventually
from tests.workers.receivers import SmtpServer, WebhookReceiver

SECRET = "webhook-secret-" + "x" * 24
COORDINATOR = "koordinator@jember.demo"
OFFICER = "dinkes@jember.demo"


def now() -> datetime:
    return datetime.now(UTC)


async def _dinkes(webhook: str | None) -> Agency:
    agency = await demo_agency("DINKES")
    agency.webhook_url, agency.webhook_secret = webhook, SECRET if webhook else None
    await agency.save()
    return agency


@pytest.fixture(autouse=True)
async def _no_webhook_left(db: str):  # type: ignore[no-untyped-def]
    yield
    await _dinkes(None)


async def _forward_to_dinkes(report: Report, agency: Agency) -> list[OutboxEntry]:
    done = await reports.verify(
        await actor_for(COORDINATOR), now(), report.id, [agency.id], None, None
    )
    return done.outbox


def _signed(hit_headers: dict[str, str], body: bytes) -> bool:
    """The receiver's check, written from the documented scheme (not the sender's code)."""
    timestamp = hit_headers["X-Lapor-Timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(hit_headers["X-Lapor-Signature"], "v1=" + expected.hexdigest())


async def test_events_reach_inboxes_mailboxes_and_a_webhook_that_fails_twice_once(
    workers: Workers, arq: ArqRedis, smtp: SmtpServer, clean_redis: RedisServer
) -> None:
    live = aioredis.from_url(clean_redis.url)
    pubsub = live.pubsub()
    await pubsub.subscribe("lapor:notifications")
    with WebhookReceiver(fail_first=2) as hook:
        dinkes = await _dinkes(hook.url)
        workers.start()
        submitted = await submit_complaint(now())
        report = submitted.report
        forwarded = await _forward_to_dinkes(report, dinkes)
        await ArqOutboxDispatcher(arq).dispatch(submitted.outbox + forwarded)

        async def webhook_sent() -> bool:
            row = await Notification.get_or_none(channel=Channel.WEBHOOK)
            return row is not None and row.status is DeliveryStatus.SENT

        await eventually(webhook_sent, 30, workers.log)
        assert [h.status for h in hook.hits] == [500, 500, 200]
        assert all(_signed(h.headers, h.body) for h in hook.hits)
        assert len({h.headers["X-Lapor-Delivery"] for h in hook.hits}) == 1
        body = json.loads(hook.hits[-1].body)
        assert body["kind"] == "assignment.created"
        assert body["report"]["tracking_code"] == report.tracking_code
        row = await Notification.get(channel=Channel.WEBHOOK)
        assert (row.attempts, row.agency_id) == (3, dinkes.id)
        assert row.last_error is not None and "HTTP 500" in row.last_error

    coordinators = await holders("COORDINATOR", region="35.09")
    officers = await holders("OFFICER", agency="DINKES")
    expected = len(coordinators) + 1 + len(officers)  # submitted, verified (the reporter), assigned

    async def all_mailed() -> bool:
        return len(smtp.mails) >= expected

    await eventually(all_mailed, 20, workers.log)
    mail = smtp.to(OFFICER)[0]
    assert mail.message["Subject"].startswith(f"[Lapor] {report.tracking_code}")
    assert "didisposisikan" in mail.part("text/plain")  # Indonesian, the default
    assert report.tracking_code in mail.part("text/html")
    assert "telah diterima" in smtp.to(COORDINATOR)[0].part("text/plain")
    emails = await Notification.filter(channel=Channel.EMAIL, status=DeliveryStatus.SENT).count()
    assert emails == expected == len(smtp.mails)
    assert {r for m in smtp.mails for r in m.recipients} == coordinators | officers | {
        "warga@jember.demo"
    }

    in_app = await Notification.filter(channel=Channel.IN_APP).values_list("id", flat=True)
    heard: set[int] = set()

    async def all_heard() -> bool:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if message is not None:
            decoded = NotificationsMessage.decode(message["data"])
            assert decoded is not None, message
            heard.update(nid for nid, _ in decoded.notifications)
        return heard == set(in_app)

    await eventually(all_heard, 10, lambda: f"heard {heard} of {in_app}")
    await pubsub.aclose()
    await live.aclose()


async def test_a_webhook_that_always_fails_ends_dead_listed_and_retryable(
    workers: Workers, arq: ArqRedis, clean_redis: RedisServer
) -> None:
    from api.app import create_app

    with WebhookReceiver(always_fail=True) as hook:
        dinkes = await _dinkes(hook.url)
        workers.start()
        report = await new_complaint(now())
        await ArqOutboxDispatcher(arq).dispatch(await _forward_to_dinkes(report, dinkes))

        async def dead() -> Notification | None:
            return await Notification.get_or_none(
                channel=Channel.WEBHOOK, status=DeliveryStatus.DEAD
            )

        row = await eventually(dead, 30, workers.log)
        assert row.attempts == 4 == len(hook.hits)

        settings = get_settings().model_copy(update={"redis_url": clean_redis.url})
        app = create_app(settings)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://lapor.test"
        ) as client:
            admin = await GQL(client).sign_in("admin@lapor.demo")
            officer = await GQL(client).sign_in(OFFICER)
            query = "{deadDeliveries{edges{node{id channel recipient attempts lastError status}}}}"
            refused = (await officer.raw(query)).json()
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            listed = (await admin(query))["deadDeliveries"]["edges"]
            assert [e["node"]["recipient"] for e in listed] == [hook.url]
            node = listed[0]["node"]
            assert (node["channel"], node["status"], node["attempts"]) == ("WEBHOOK", "DEAD", 4)
            assert "HTTP 500" in node["lastError"]

            hook.always_fail = False
            retry = "mutation($i:[ID!]!){deliveryRetry(ids:$i){retried errors{code}}}"
            done = await admin(retry, {"i": [node["id"]]})
            assert done["deliveryRetry"] == {"retried": 1, "errors": []}

        async def sent() -> bool:
            return (await Notification.get(id=row.id)).status is DeliveryStatus.SENT

        await eventually(sent, 20, workers.log)
        assert [h.status for h in hook.hits][-1] == 200 and len(hook.hits) == 5


async def test_a_worker_killed_mid_fan_out_leaves_one_notification_per_recipient_and_channel(
    workers: Workers, arq: ArqRedis, db: str
) -> None:
    officer = await actor_for(OFFICER)
    dinkes = await _dinkes(None)
    report = await new_complaint(now())
    await _forward_to_dinkes(report, dinkes)
    followers = await _followers(report, 600)
    assignment = await Assignment.get(report_id=report.id)
    await assignments.accept(officer, now(), assignment.id, ResolutionTier.STANDARD)
    outcome = await assignments.follow_up(officer, now(), assignment.id, "Dicek", False, None)
    event = await ReportEvent.get(report_id=report.id, kind="assignment.follow_up")

    # Hold, uncommitted, the in-app row of the last follower: the worker's insert of that
    # row must wait for us, so we know it is inside its fan-out transaction when we kill it.
    blocker = await asyncpg.connect(db)
    blocking = blocker.transaction()
    await blocking.start()
    await blocker.execute(
        "INSERT INTO notification (user_id, event_id, report_id, channel, kind, message, "
        "created_at, status, attempts, round) VALUES ($1, $2, $3, 'IN_APP', 'x', 'x', now(), "
        "'SENT', 0, 0)",
        followers[-1],
        event.id,
        report.id,
    )
    first = workers.start()
    await ArqOutboxDispatcher(arq).dispatch(outcome.outbox)
    watcher = await asyncpg.connect(db)

    async def worker_waits_on_our_row() -> bool:
        waiting = await watcher.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query ILIKE '%INSERT INTO%notification%'"
        )
        return bool(waiting)

    await eventually(worker_waits_on_our_row, 30, workers.log)
    children = _children_of(first.pid)  # its file-cleaning process, started with it
    assert children, "the worker starts a cleaning process"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    await blocking.rollback()
    await blocker.close()
    # The killed transaction left nothing behind, and the outbox row is still to do.
    assert await Notification.filter(event_id=event.id).count() == 0
    assert (await OutboxMessage.get(event_id=event.id)).dispatched_at is None

    async def children_gone() -> bool:  # a killed worker leaves no orphan behind
        return not any(_alive(child) for child in children)

    await eventually(children_gone, 10, workers.log)

    workers.start()  # its startup drain picks the row up again

    async def relayed() -> bool:
        return (await OutboxMessage.get(event_id=event.id)).dispatched_at is not None

    await eventually(relayed, 60, workers.log)
    rows = await Notification.filter(event_id=event.id).values_list("user_id", "channel")
    assert len(rows) == len(set(rows))
    # Every follower in-app; the reporter and the coordinators in-app and by e-mail.
    coordinators = await holders("COORDINATOR", region="35.09")
    assert len(rows) == len(followers) + 2 + 2 * len(coordinators)
    await watcher.close()


def _children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _stat(int(entry))[1] == pid:
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    """Whether the process runs (not gone, nor a zombie that no one reaped yet)."""
    state, _ = _stat(pid)
    return state not in ("", "Z")


def _stat(pid: int) -> tuple[str, int]:
    """A process's state and parent; ("", 0) when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return "", 0
    return fields[0], int(fields[1])


async def _followers(report: Report, count: int) -> list[int]:
    tag = uuid.uuid4().hex[:8]
    password = hash_password("pengikut-rahasia")
    users = [
        User(
            name=f"Pengikut {i}",
            email=f"f{i}-{tag}@example.org",
            password_hash=password,
            created_at=now(),
        )
        for i in range(count)
    ]
    await User.bulk_create(users)
    ids = list(
        await User.filter(email__endswith=f"-{tag}@example.org")
        .order_by("id")
        .values_list("id", flat=True)
    )
    await Support.bulk_create(
        [Support(report_id=report.id, user_id=uid, created_at=now()) for uid in ids]
    )
    return ids  # type: ignore[return-value]


async def test_a_report_submitted_while_redis_is_down_is_fanned_out_once_it_is_back(
    workers: Workers, clean_redis: RedisServer
) -> None:
    workers.start()
    clean_redis.stop()
    try:
        submitted = await submit_complaint(now())
        report = submitted.report
        await ArqOutboxDispatcher(None).dispatch(submitted.outbox)  # what the API does, no Redis
        await asyncio.sleep(3)  # long enough for the worker to notice Redis is gone
    finally:
        clean_redis.start()

    async def told() -> int:
        return await Notification.filter(report_id=report.id, channel=Channel.IN_APP).count()

    coordinators = await holders("COORDINATOR", region="35.09")
    assert await eventually(told, 60, workers.log) == len(coordinators)
    assert all(p.poll() is None for p in workers.procs), workers.log()


async def test_two_workers_and_two_sweep_commands_take_each_step_once(workers: Workers) -> None:
    long_ago = now() - timedelta(days=40)
    for i in range(15):
        await new_complaint(long_ago + timedelta(minutes=i))
    workers.start()
    workers.start()
    sweeps = [workers.sweep(), workers.sweep()]
    outputs = [p.communicate(timeout=120)[0].decode() for p in sweeps]
    assert [p.returncode for p in sweeps] == [0, 0], outputs

    async def settled() -> bool:
        return not await Report.filter(sweep_at__lte=now()).exists()

    await eventually(settled, 30, workers.log)
    await asyncio.sleep(3)  # a worker's sweep may still run: it must find nothing to do
    # Each report: a reminder (skipped, it came after the deadline), a breach, an escalation.
    assert await SweepMark.all().count() == 15 * 3
    assert await ReportEvent.filter(kind="deadline.breached").count() == 15
    assert await ReportEvent.filter(kind="deadline.escalated").count() == 15

    async def fanned_out() -> bool:
        return not await OutboxMessage.filter(dispatched_at__isnull=True).exists()

    await eventually(fanned_out, 30, workers.log)
    coordinator = await User.get(email=COORDINATOR)
    told = await Notification.filter(
        user_id=coordinator.id, channel=Channel.IN_APP, kind="deadline.breached"
    ).count()
    assert told == 15  # once per report, whichever process swept it


async def test_sigterm_lets_the_running_delivery_finish(workers: Workers, arq: ArqRedis) -> None:
    with WebhookReceiver(delay=3) as hook:
        dinkes = await _dinkes(hook.url)
        worker = workers.start()
        report = await new_complaint(now())
        await ArqOutboxDispatcher(arq).dispatch(await _forward_to_dinkes(report, dinkes))

        async def in_flight() -> bool:
            return hook.arrived > 0

        await eventually(in_flight, 30, workers.log)
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 30) == 0, workers.log()
        assert [h.status for h in hook.hits] == [200]
        row = await Notification.get(channel=Channel.WEBHOOK)
        assert (row.status, row.attempts) == (DeliveryStatus.SENT, 1)


async def test_a_live_worker_records_its_health_under_a_key_of_its_own(workers: Workers) -> None:
    worker = workers.start()

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lapor", "worker", "--check"],
            cwd=ROOT,
            env=workers.env,
            capture_output=True,
            text=True,
            timeout=30,
        )

    async def healthy() -> subprocess.CompletedProcess[str] | None:
        done = await asyncio.to_thread(check)
        return done if done.returncode == 0 else None

    alive = await eventually(healthy, 30, workers.log)
    assert f":{worker.pid}:health" in alive.stdout
    workers.stop_all()

    async def gone() -> bool:
        return (await asyncio.to_thread(check)).returncode == 1

    # The key lives one health interval and a second: a dead worker shows within seconds.
    await eventually(gone, 10, workers.log)


async def test_two_workers_fold_the_transparency_figures_once(workers: Workers) -> None:
    """The workers' cron folds new events into the figures by itself; two workers at once
    count each report once (a rebuild from scratch finds the same counts)."""
    at = now() - timedelta(days=3)
    for i in range(25):
        await new_complaint(at + timedelta(minutes=i))
    workers.start(LAPOR_TRANSPARENCY_EVERY_SECONDS="1", LAPOR_TRANSPARENCY_BATCH_SIZE="3")
    workers.start(LAPOR_TRANSPARENCY_EVERY_SECONDS="1", LAPOR_TRANSPARENCY_BATCH_SIZE="3")
    db = connections.get("default")

    async def folded() -> bool:
        waiting = await db.execute_query_dict("SELECT count(*) AS n FROM perf_dirty")
        return int(waiting[0]["n"]) == 0

    await eventually(folded, 30, workers.log)
    received = "SELECT sum(n)::int AS n FROM perf_cell WHERE measure = 'received'"
    assert (await db.execute_query_dict(received))[0]["n"] == 25
    cells = "SELECT * FROM perf_cell ORDER BY scope, scope_id, month, measure, value"
    before = await db.execute_query_dict(cells)
    await transparency.rebuild(now())
    assert await db.execute_query_dict(cells) == before
