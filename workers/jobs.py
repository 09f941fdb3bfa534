"""The arq jobs: thin wrappers that call a domain service, then publish and enqueue after commit.

Every job is safe to run twice (arq may): the services claim their rows with SKIP LOCKED and
record what they did, so a rerun finds nothing left to do.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from arq.typing import WorkerCoroutine
from arq.worker import Retry

from core.dispatch import DELIVER_NOTIFICATION, ArqOutboxDispatcher, deliver_job_id
from core.metrics import JOBS_KEY
from core.requestctx import request_id
from core.settings import get_settings
from domain.services import attachments, deliveries, idempotency, sweep, transparency
from domain.services.health import RETRY_AFTER_SECONDS, database_unavailable
from models.enums import DeliveryStatus
from workers.transports import Transports

log = logging.getLogger("lapor.jobs")


# A delivery whose own job should have run this long ago is re-enqueued by the safety net.
LOST_JOB_GRACE = timedelta(seconds=30)

Ctx = dict[str, Any]
R = TypeVar("R")


def logged(fn: Callable[..., Awaitable[R]]) -> WorkerCoroutine:
    """One JSON log line per run (job, id, try, outcome, duration, request id) and a count of
    outcomes in Redis for /metrics. A job the database's absence stopped (down or restarting) is
    retried a moment later: arq logs a retry, not a failure."""

    @functools.wraps(fn)
    async def run(ctx: Ctx, *args: Any) -> R:
        token = request_id.set(None)
        started = time.perf_counter()
        outcome, result = "failed", None
        try:
            result = await fn(ctx, *args)
            outcome = "complete"
            return result
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            outcome = "retried"
            raise Retry(defer=RETRY_AFTER_SECONDS) from exc
        except BaseException:
            outcome = "cancelled"
            raise
        finally:
            line = {
                "job": fn.__name__,
                "job_id": ctx.get("job_id"),
                "try": ctx.get("job_try"),
                "job_args": list(args),
                "outcome": outcome,
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "result": result,
            }
            level = logging.INFO if outcome == "complete" else logging.WARNING
            # Periodic drains that found nothing stay quiet.
            if outcome != "complete" or args or result:
                log.log(level, fn.__name__, extra=line)
            with contextlib.suppress(Exception):
                await ctx["redis"].hincrby(JOBS_KEY, f"{fn.__name__}:{outcome}", 1)
            request_id.reset(token)

    return run  # type: ignore[return-value]


def _now() -> datetime:
    return datetime.now(UTC)


@logged
async def deliver_notification(ctx: Ctx, notification_id: int) -> str:
    """Try one e-mail or webhook delivery; on failure, enqueue the next try after its backoff."""
    transports: Transports = ctx["transports"]
    policy = deliveries.RetryPolicy.from_settings(get_settings())
    attempt = await deliveries.attempt_delivery(notification_id, _now(), transports.send, policy)
    if attempt is None:
        return "nothing to do"
    if attempt.status is DeliveryStatus.PENDING and attempt.error is not None:
        await ctx["redis"].enqueue_job(
            DELIVER_NOTIFICATION,
            notification_id,
            _job_id=deliver_job_id(notification_id, attempt.round, attempt.attempts),
            _defer_until=attempt.next_attempt_at,
        )
    return attempt.status.value


@logged
async def deliver_due(ctx: Ctx) -> int:
    """Safety net: re-enqueue pending deliveries whose own job was lost."""
    lost = await deliveries.due_ids(_now() - LOST_JOB_GRACE)
    for nid, round_, attempts in lost:
        await ctx["redis"].enqueue_job(
            DELIVER_NOTIFICATION, nid, _job_id=deliver_job_id(nid, round_, attempts)
        )
    return len(lost)


@logged
async def sweep_deadlines(ctx: Ctx) -> int:
    """Take every deadline step that has come due, then dispatch the events it wrote."""
    done = await sweep.sweep(_now(), batch=get_settings().sweep_batch_size)
    await ArqOutboxDispatcher(ctx["redis"]).dispatch(done.outbox)
    return sum(not a.skipped for a in done.actions)


@logged
async def purge_idempotency_keys(ctx: Ctx) -> int:
    """Forget expired idempotency keys (every ten minutes)."""
    return await idempotency.purge_expired(_now())


@logged
async def fold_transparency(ctx: Ctx) -> int:
    """Fold the reports whose history changed into the transparency figures (docs/adr/0027)."""
    return await transparency.catch_up(_now())


@logged
async def make_thumbnail(ctx: Ctx, attachment_id: int) -> bool:
    """Make one image's thumbnail (enqueued by the API after the upload committed)."""
    return await attachments.make_thumbnail(attachment_id)


# How many missing thumbnails one sweep makes (a lost job, a worker killed mid-way).
THUMBNAIL_SWEEP_BATCH = 50


@logged
async def make_missing_thumbnails(ctx: Ctx) -> int:
    """Safety net: make the thumbnails whose job was lost."""
    made = 0
    for aid in await attachments.missing_thumbnails(THUMBNAIL_SWEEP_BATCH):
        try:
            made += await attachments.make_thumbnail(aid)
        except Exception:  # one file that fails must not keep the others waiting
            log.exception("the thumbnail of attachment %s could not be made", aid)
    return made


# How many stored keys the janitor checks against the table in one query.
ORPHAN_BATCH = 500


@logged
async def forget_orphan_files(ctx: Ctx) -> int:
    """Delete stored bytes no row refers to, older than the grace (hourly; docs/adr/0029)."""
    grace = timedelta(seconds=get_settings().files_orphan_grace_seconds)
    return await attachments.forget_orphans(_now(), grace, ORPHAN_BATCH)
