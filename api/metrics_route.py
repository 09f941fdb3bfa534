"""GET /metrics: Prometheus figures of this API process (or all its workers) and of the
shared state read at scrape time: queue depth, jobs by outcome, overdue work."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime

from arq.connections import ArqRedis
from arq.constants import default_queue_name
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.metrics import JOBS_KEY, Shared, jobs_from_hash, render
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
