"""The arq worker: fan-out, deliveries, the outbox drain and the deadline sweep.

`lapor worker` runs `WorkerSettings`; run as many workers as you like (the jobs share out
through Redis, and every job is safe to run twice)."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import func
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.dispatch import MAKE_THUMBNAIL
from core.settings import get_settings
from domain.services import attachments, caching
from models.db import connect_database, disconnect_database
from workers import jobs
from workers.relay import OutboxRelay
from workers.transports import Transports

log = logging.getLogger("lapor.worker")
HEALTH_KEY_PREFIX = "lapor:worker:"


def health_key(host: str | None = None, pid: int | None = None) -> str:
    """The Redis key under which one worker process records that it is alive."""
    return f"{HEALTH_KEY_PREFIX}{host or socket.gethostname()}:{pid or os.getpid()}:health"


async def startup(ctx: dict[str, Any]) -> None:
    s = get_settings()
    # Jobs run in tasks of their own: they find the ORM via the global context.
    await connect_database(s.database_url, s.db_pool_max)
    await caching.start(s.database_url)
    ctx["transports"] = Transports(s)
    relay = ctx["relay"] = OutboxRelay(
        s.redis_url,
        ctx["redis"],
        email_enabled=s.email_enabled,
        concurrency=s.relay_concurrency,
        poll_seconds=s.relay_poll_seconds,
    )
    relay.start()
    attachments.warm_up()
    log.info(
        "worker started",
        extra={"redis": s.redis_url.split("@")[-1], "email": s.email_enabled, "pid": os.getpid()},
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    if "relay" in ctx:
        await ctx["relay"].stop(get_settings().worker_shutdown_grace_seconds)
    if "transports" in ctx:
        await ctx["transports"].close()
    await caching.stop()
    await attachments.close()
    await disconnect_database()
    log.info("worker stopped", extra={"pid": os.getpid()})


_s = get_settings()
# Once a minute by default (at :30); tests and busy deployments may sweep more often.
SWEEP_SECONDS = set(range(0, 60, _s.sweep_every_seconds)) if _s.sweep_every_seconds < 60 else {30}

# The transparency figures are folded every ten seconds by default (a few reports each time).
FOLD_SECONDS = set(range(3, 60, _s.transparency_every_seconds))


class WorkerSettings:
    """arq settings; `lapor worker` runs this."""

    functions = [
        # No result kept: a delivery's job id may be reused by the safety net at once.
        func(
            jobs.deliver_notification,
            name="deliver_notification",
            timeout=_s.webhook_timeout_seconds + _s.smtp_timeout_seconds + 30,
            keep_result=0,
        ),
        func(jobs.make_thumbnail, name=MAKE_THUMBNAIL, keep_result=0),
    ]
    cron_jobs = [
        cron(jobs.deliver_due, second={17, 47}, unique=True),
        cron(jobs.sweep_deadlines, second=SWEEP_SECONDS, unique=True, timeout=600),
        cron(jobs.fold_transparency, second=FOLD_SECONDS, unique=True, timeout=600),
        cron(jobs.purge_idempotency_keys, minute=set(range(7, 60, 10)), second={7}, unique=True),
        cron(jobs.make_missing_thumbnails, second={41}, unique=True, timeout=600),
        # Hourly: a listing of the whole store, so not more often.
        cron(jobs.forget_orphan_files, minute={23}, second={23}, unique=True, timeout=1800),
    ]
    on_startup = startup
    on_shutdown = shutdown
    # A worker started before Redis (a reboot, a compose start) waits for it up to a minute.
    redis_settings = RedisSettings.from_dsn(_s.redis_url)
    redis_settings.conn_retries = 60
    # A running worker rides out a Redis outage of up to about five minutes (every call waits
    # and retries) instead of exiting; past that it exits and its supervisor restarts it.
    redis_settings.retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=300)
    redis_settings.retry_on_error = [RedisConnectionError, RedisTimeoutError]
    health_check_interval = _s.worker_health_check_seconds
    health_check_key = health_key()
    max_jobs = _s.worker_max_jobs
    job_timeout = 120
    max_tries = 5
    # Jobs are picked up within a tenth of a second of their enqueue (live in-app notices).
    poll_delay = 0.1
    # On SIGTERM, stop picking jobs and let the running ones finish first.
    job_completion_wait = _s.worker_shutdown_grace_seconds
