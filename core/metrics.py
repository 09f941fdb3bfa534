"""Prometheus metrics: what each API process counts, and figures shared by all processes.

Per-process counters (GraphQL requests, latency, errors) live in `REGISTRY`. Under several
uvicorn workers `lapor api` sets PROMETHEUS_MULTIPROC_DIR, and a scrape adds up every
worker's files. Figures that belong to no process (queue depth, jobs by outcome, overdue
work) are read at scrape time by the /metrics route and passed to `render` as `Shared`.
Nothing here does I/O, so the API and the workers can both import it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

# Redis hash the workers count finished jobs in: field "<function>:<outcome>", value a count.
JOBS_KEY = "lapor:metrics:jobs"
JOB_OUTCOMES = ("complete", "failed", "retried", "dead")
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

REGISTRY = CollectorRegistry()

GRAPHQL_REQUESTS = Counter(
    "lapor_graphql_requests",
    "GraphQL requests over HTTP, by operation name and HTTP status.",
    ["operation", "status"],
    registry=REGISTRY,
)
GRAPHQL_LATENCY = Histogram(
    "lapor_graphql_request_duration_seconds",
    "Time to answer a GraphQL request over HTTP, by operation name.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
GRAPHQL_ERRORS = Counter(
    "lapor_graphql_errors",
    "GraphQL errors returned, by their extensions.code.",
    ["code"],
    registry=REGISTRY,
)

GRAPHQL_EXECUTIONS = Counter(
    "lapor_graphql_executions",
    "Operations executed (HTTP requests and subscription events), by executor: compiled from "
    "a plan, or generic.",
    ["executor"],
    registry=REGISTRY,
)

# Operation names come from clients: a bounded set keeps the series count bounded.
MAX_OPERATION_NAMES = 200
_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,99}$")
_operation_names: set[str] = set()


def operation_label(name: str | None) -> str:
    """The label for an operation: its name, `anonymous`, `-` for a request that named none
    that ran, or `other` once this process has seen MAX_OPERATION_NAMES names."""
    if name is None:
        return "-"
    if name == "":
        return "anonymous"
    if name in _operation_names:
        return name
    if not _NAME.match(name) or len(_operation_names) >= MAX_OPERATION_NAMES:
        return "other"
    _operation_names.add(name)
    return name


# The labelled counters, made on first use: made at import, they would give every process
# that imports this module (uvicorn's supervisor too) a file in the multiprocess directory.
_executions: dict[str, Any] = {}
_requests: dict[tuple[str, int], tuple[Any, Any]] = {}


def observe_graphql(
    operation: str | None, status: int, seconds: float, error_codes: Iterable[str]
) -> None:
    """Count one GraphQL request over HTTP with its latency and the codes of its errors."""
    label = operation_label(operation)
    counted = _requests.get((label, status))
    if counted is None:  # (bounded: operation labels are, and statuses)
        counted = _requests[(label, status)] = (
            GRAPHQL_REQUESTS.labels(label, str(status)),
            GRAPHQL_LATENCY.labels(label),
        )
    counted[0].inc()
    counted[1].observe(seconds)
    for code in error_codes:
        GRAPHQL_ERRORS.labels(code).inc()


def count_execution(executor: str) -> None:
    """Count one operation (or subscription event) run by `executor`: compiled or generic."""
    counter = _executions.get(executor)
    if counter is None:
        counter = _executions[executor] = GRAPHQL_EXECUTIONS.labels(executor)
    counter.inc()


_live_subscribers: Callable[[], int] = lambda: 0  # noqa: E731  (replaced by the WebSocket hub)


def set_live_subscriber_source(source: Callable[[], int]) -> None:
    """Where the live-subscriber count of this process comes from (the WebSocket hub)."""
    global _live_subscribers
    _live_subscribers = source


@dataclass(frozen=True)
class Shared:
    """Figures read at scrape time from Redis and the database; None where the read failed."""

    queue_depth: int | None = None
    jobs: Mapping[tuple[str, str], int] = field(default_factory=dict)
    overdue_assignments: int | None = None
    overdue_reports: int | None = None
    redis_up: bool = False
    database_up: bool = False


def jobs_from_hash(raw: Mapping[bytes | str, bytes | str]) -> dict[tuple[str, str], int]:
    """(function, outcome) -> count from the `JOBS_KEY` hash; malformed fields are skipped."""
    jobs: dict[tuple[str, str], int] = {}
    for key, value in raw.items():
        text = key.decode() if isinstance(key, bytes) else key
        function, _, outcome = text.rpartition(":")
        try:
            count = int(value)
        except ValueError:
            continue
        if function and outcome:
            jobs[(function, outcome)] = count
    return jobs


class _SharedCollector(Collector):
    def __init__(self, shared: Shared, live_subscribers: int) -> None:
        self.shared = shared
        self.live = live_subscribers

    def collect(self) -> Iterator[Metric]:
        s = self.shared
        up = GaugeMetricFamily(
            "lapor_dependency_up",
            "Whether the scrape could read a dependency's figures (1) or not (0).",
            labels=["dependency"],
        )
        up.add_metric(["redis"], float(s.redis_up))
        up.add_metric(["database"], float(s.database_up))
        yield up
        if s.queue_depth is not None:
            yield GaugeMetricFamily(
                "lapor_queue_depth", "Jobs waiting in the arq queue.", value=s.queue_depth
            )
        jobs = CounterMetricFamily(
            "lapor_jobs",
            "Jobs the workers finished, by function and outcome.",
            labels=["function", "outcome"],
        )
        for (function, outcome), count in sorted(s.jobs.items()):
            jobs.add_metric([function, outcome], count)
        yield jobs
        overdue = GaugeMetricFamily(
            "lapor_overdue", "Open work past its current deadline.", labels=["kind"]
        )
        if s.overdue_assignments is not None:
            overdue.add_metric(["assignment"], s.overdue_assignments)
        if s.overdue_reports is not None:
            overdue.add_metric(["report"], s.overdue_reports)
        yield overdue
        yield GaugeMetricFamily(
            "lapor_live_subscribers",
            "Live GraphQL subscriptions served by the process that answered this scrape.",
            value=self.live,
        )


def render(shared: Shared) -> bytes:
    """The Prometheus text exposition: this process's (or all workers') counters, then the
    shared figures."""
    local: CollectorRegistry = REGISTRY
    if os.environ.get(MULTIPROCESS_ENV):
        local = CollectorRegistry()
        MultiProcessCollector(local)
    figures = CollectorRegistry()
    figures.register(_SharedCollector(shared, _live_subscribers()))
    return generate_latest(local) + generate_latest(figures)
