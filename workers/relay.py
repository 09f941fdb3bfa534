"""The outbox relay of a worker process: it turns committed events into their notifications.

A few loops claim the oldest pending outbox row, one row per transaction (SKIP LOCKED, so the
loops of every worker share the rows), fan it out, and after the commit push its in-app
notifications live and enqueue its deliveries. A loop relays one row for every event published
on `lapor:events` (the API publishes each right after its commit), and drains the outbox at
start and after `poll_seconds` without news, whatever Redis does: the outbox in the database is
the only record of the work (docs/adr/0016-outbox-relay-loop.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter
from datetime import UTC, datetime

import redis.asyncio as aioredis
from arq.connections import ArqRedis

from core.channels import EVENTS_CHANNEL
from core.dispatch import ArqOutboxDispatcher
from core.metrics import JOBS_KEY
from core.requestctx import request_id
from domain.services import fanout, outbox
from domain.services.fanout import FanOut
from domain.services.health import database_unavailable

log = logging.getLogger("lapor.relay")
# The name its lines and counts go by, as if it were a job.
RELAY = "relay_outbox"
# Drains that fail in a row, for reasons other than an unreachable database, before the
# failure is logged as an error with its stack.
PERSISTENT_FAILURES = 3


class OutboxRelay:
    """`concurrency` loops draining the outbox of one worker process."""

    def __init__(
        self,
        redis_url: str,
        redis: ArqRedis | None,
        *,
        email_enabled: bool,
        concurrency: int = 4,
        poll_seconds: float = 2.0,
    ) -> None:
        self.redis_url = redis_url
        self.redis = redis
        self.dispatcher = ArqOutboxDispatcher(redis)
        self.email_enabled = email_enabled
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        # Rows relayed and failed since the last flush to the metrics hash (/metrics reads it).
        self.outcomes: Counter[str] = Counter()
        # One permit per published event: a loop takes one and relays one row.
        self._permits = asyncio.Semaphore(0)
        # Rows that failed lately: skipped until the next drain, which tries them again.
        self._failed: set[int] = set()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._loops: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="relay-wake"),
            asyncio.create_task(self._flush_periodically(), name="relay-counts"),
        ]
        self._loops = [
            asyncio.create_task(self._loop(), name=f"relay-{i}") for i in range(self.concurrency)
        ]

    async def stop(self, grace: float) -> None:
        """Take no new rows; let the rows being relayed finish (up to `grace` seconds)."""
        self._stopping = True
        for _ in self._loops:
            self._permits.release()
        if self._loops:
            _, late = await asyncio.wait(self._loops, timeout=grace)
            for task in late:
                task.cancel()
        for task in self._tasks:
            task.cancel()
        for task in [*self._loops, *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.flush_counts()

    async def _loop(self) -> None:
        """Relay a row per published event; drain whatever is left at start and after every
        `poll_seconds` without news (a lost message, Redis away, rows another worker left)."""
        failures = 0
        drain = True
        while not self._stopping:
            if not drain:
                try:
                    await asyncio.wait_for(self._permits.acquire(), self.poll_seconds)
                except TimeoutError:
                    drain = True
            if self._stopping:
                return
            try:
                if drain:
                    self._failed.clear()
                    await self.drain()
                else:
                    await self.relay_one()
                failures = 0
            except Exception as exc:  # the next poll tries again
                failures += 1
                if database_unavailable(exc):
                    log.warning("outbox relay: the database is unavailable (%s)", exc)
                elif failures < PERSISTENT_FAILURES:
                    # A connection that broke mid-statement can leave odd errors once.
                    log.warning("outbox relay: drain failed (%s: %s)", type(exc).__name__, exc)
                else:
                    log.exception("outbox relay: drain keeps failing")
                await asyncio.sleep(self.poll_seconds)
            drain = False

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            await self.flush_counts()

    async def flush_counts(self) -> None:
        """Add the outcomes counted since the last flush to the shared metrics hash."""
        counted, self.outcomes = self.outcomes, Counter()
        if self.redis is None or not counted:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for outcome, n in counted.items():
                    pipe.hincrby(JOBS_KEY, f"{RELAY}:{outcome}", n)
                await pipe.execute()
        except Exception:  # counts are best effort: keep them for the next flush
            self.outcomes.update(counted)

    async def drain(self) -> int:
        """Relay pending rows until there is none; returns how many were relayed."""
        relayed = 0
        while not self._stopping and await self.relay_one():
            relayed += 1
        return relayed

    async def relay_one(self) -> bool:
        """Relay the oldest pending row but those that failed lately; False when there was
        none. A row that fails is left pending, and noted; an unreachable database raises."""
        started = time.perf_counter()
        try:
            done = await fanout.fan_out(
                datetime.now(UTC), email_enabled=self.email_enabled, skip=sorted(self._failed)
            )
        except outbox.RelayFailed as failure:
            if database_unavailable(failure.cause):
                raise failure.cause from None
            self._failed.add(failure.outbox_id)
            log.error("outbox relay: row %s failed", failure.outbox_id, exc_info=failure.cause)
            self.outcomes["failed"] += 1
            with contextlib.suppress(Exception):
                await outbox.record_failure(failure.outbox_id, str(failure.cause))
            return True
        if done is None:
            return False
        await self._after_commit(done, time.perf_counter() - started)
        return True

    async def _after_commit(self, done: FanOut, seconds: float) -> None:
        token = request_id.set(done.request_id)
        try:
            await self.dispatcher.notify(done.in_app)
            await self.dispatcher.deliver(done.deliveries)
            log.info(
                "relayed",
                extra={
                    "job": RELAY,
                    "outbox_id": done.outbox_id,
                    "event_id": done.event_id,
                    "in_app": len(done.in_app),
                    "deliveries": len(done.deliveries),
                    "ms": round(seconds * 1000, 2),
                },
            )
            self.outcomes["complete"] += 1
        finally:
            request_id.reset(token)

    async def _listen(self) -> None:
        """A permit for every published event; reconnect when Redis comes back."""
        while not self._stopping:
            client = aioredis.Redis.from_url(
                self.redis_url, socket_connect_timeout=5, client_name=f"lapor-relay:{os.getpid()}"
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(EVENTS_CHANNEL)
                async for _message in pubsub.listen():
                    self._permits.release()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: the loops keep polling the outbox meanwhile
                await asyncio.sleep(self.poll_seconds)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
