"""GET /metrics: Prometheus figures of this API process (or all its workers) and of the
shared state read at scrape time: queue depth, jobs by outcome, overdue work; served on a port
of its own (`LAPOR_METRICS_HOST`:`LAPOR_METRICS_PORT`), never on the public one (docs/adr/0022).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime

import uvicorn
from arq.connections import ArqRedis
from arq.constants import default_queue_name
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.metrics import JOBS_KEY, Shared, jobs_from_hash, render
from core.settings import Settings
from domain.services import deadlines

log = logging.getLogger("core.metrics")


def metrics_route(redis: Callable[[], Awaitable[ArqRedis | None]]) -> Route:
    """The /metrics route; a dependency that does not answer leaves its figures out and
    shows as `lapor_dependency_up{dependency=...} 0`."""

    async def metrics(request: Request) -> Response:
        figures = Shared()
        pool = await redis()
        if pool is not None:
            try:
                pipe = pool.pipeline(transaction=False)
                pipe.zcard(default_queue_name)
                pipe.hgetall(JOBS_KEY)
                depth, jobs = await pipe.execute()
                figures = replace(
                    figures, queue_depth=int(depth), jobs=jobs_from_hash(jobs), redis_up=True
                )
            except Exception as exc:
                log.warning("metrics: Redis did not answer (%s)", exc)
        try:
            overdue = await deadlines.overdue_counts(datetime.now(UTC))
            figures = replace(
                figures,
                overdue_assignments=overdue.assignments,
                overdue_reports=overdue.reports,
                database_up=True,
            )
        except Exception as exc:
            log.warning("metrics: the database did not answer (%s)", exc)
        return Response(render(figures), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", metrics)


def metrics_app(redis: Callable[[], Awaitable[ArqRedis | None]]) -> Starlette:
    """The app of the metrics port: GET /metrics and nothing else."""
    return Starlette(routes=[metrics_route(redis)])


class _Embedded(uvicorn.Server):
    """A uvicorn server inside the API's process: the signals stay with the API's server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class MetricsServer:
    """Serves the metrics app on the metrics port (none when it is 0). Under several uvicorn
    workers one of them holds the port and the others try again every few seconds, so that
    a restarted worker takes it over; whichever answers adds up every worker's counts."""

    RETRY_SECONDS = 5.0

    def __init__(self, settings: Settings, app: Starlette) -> None:
        self.settings = settings
        self.app = app
        self._task: asyncio.Task[None] | None = None
        self._server: uvicorn.Server | None = None

    async def start(self) -> None:
        if self.settings.metrics_port and self._task is None:
            self._task = asyncio.create_task(self._run(), name="lapor-metrics-port")

    async def close(self) -> None:
        task, self._task = self._task, None
        if self._server is not None:
            self._server.should_exit = True
        if task is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), 5)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        address = (self.settings.metrics_host, self.settings.metrics_port)
        told = False
        while True:
            try:
                listening = socket.create_server(address, reuse_port=False)
            except OSError as exc:  # another worker holds it (or something else does)
                if not told:
                    log.info("metrics: %s:%s not bound here (%s); retrying", *address, exc)
                    told = True
                await asyncio.sleep(self.RETRY_SECONDS)
                continue
            config = uvicorn.Config(
                self.app, lifespan="off", log_level="warning", access_log=False, log_config=None
            )
            self._server = _Embedded(config)
            log.info("metrics: serving on http://%s:%s/metrics", *address)
            await self._server.serve(sockets=[listening])
            listening.close()
            return
