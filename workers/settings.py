"""The arq worker: relays the outbox (per row after commit, and a periodic drain)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from tortoise import Tortoise

from domain.services import outbox
from lapor.settings import get_settings
from models.db import tortoise_config
from workers.channels import EVENTS_CHANNEL
from workers.enqueue import RELAY_OUTBOX_MESSAGE

log = logging.getLogger("lapor.worker")


async def startup(ctx: dict[str, Any]) -> None:
    s = get_settings()
    # Jobs run in tasks of their own: they find the ORM via the global context.
    await Tortoise.init(
        config=tortoise_config(s.database_url, s.db_pool_max), _enable_global_fallback=True
    )
    log.info(json.dumps({"event": "worker.started", "redis": s.redis_url.split("@")[-1]}))


async def shutdown(ctx: dict[str, Any]) -> None:
    await Tortoise.close_connections()


def _publisher(ctx: dict[str, Any]) -> outbox.Publish:
    redis = ctx["redis"]

    async def publish(topic: str, payload: dict[str, Any]) -> None:
        await redis.publish(EVENTS_CHANNEL, json.dumps({"topic": topic, **payload}))

    return publish


async def relay_outbox_message(ctx: dict[str, Any], outbox_id: int) -> bool:
    """Relay one committed outbox row; running it twice relays it once."""
    done = await outbox.relay(outbox_id, datetime.now(UTC), _publisher(ctx))
    log.info(json.dumps({"job": RELAY_OUTBOX_MESSAGE, "outbox_id": outbox_id, "relayed": done}))
    return done


async def relay_pending(ctx: dict[str, Any]) -> int:
    """Drain outbox rows that were never enqueued (Redis was down, the API crashed)."""
    count = 0
    for outbox_id in await outbox.pending_ids():
        if await outbox.relay(outbox_id, datetime.now(UTC), _publisher(ctx)):
            count += 1
    if count:
        log.info(json.dumps({"job": "relay_pending", "relayed": count}))
    return count


class WorkerSettings:
    """arq settings; `lapor worker` runs this."""

    functions = [relay_outbox_message]
    cron_jobs = [cron(relay_pending, second=set(range(0, 60, 5)), unique=True, run_at_startup=True)]
    on_startup = startup
    on_shutdown = shutdown
    # A worker started before Redis (a reboot, a compose start) waits for it up to a minute.
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url)
    redis_settings.conn_retries = 60
    health_check_interval = 10
    job_timeout = 60
    max_tries = 5
