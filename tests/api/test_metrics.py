"""/metrics moves when operations run, and shows the shared figures: queue depth and jobs by
outcome (Redis), overdue work (the database), live subscribers (the hub's count); it is served
on a port of its own, which docker-compose does not publish."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis
import yaml
from arq.constants import default_queue_name
from prometheus_client.parser import text_string_to_metric_families

from api.metrics_route import MetricsServer, metrics_app
from core import metrics
from core.settings import get_settings
from models import Assignment, Report
from tests.app_fixtures import People, app_clients, pk
from tests.factories import submit, verify
from tests.harness import free_port

ROOT = Path(__file__).resolve().parents[2]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    """Every sample of /metrics by (name, sorted labels)."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def shared_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.delete(default_queue_name, metrics.JOBS_KEY)
    yield client
    client.delete(default_queue_name, metrics.JOBS_KEY)
    client.close()


@pytest.fixture
async def both(db: str, redis_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """Clients of one app: its public port, and its metrics port."""
    settings = get_settings().model_copy(update={"redis_url": redis_url})
    async with app_clients(settings) as clients:
        yield clients


@pytest.fixture
def client(both: tuple[httpx.AsyncClient, ...]) -> httpx.AsyncClient:
    """The metrics port's client."""
    return both[1]


async def test_requests_latency_and_errors_move_per_operation(
    both: tuple[httpx.AsyncClient, ...],
) -> None:
    api, client = both
    before = await scrape(client)
    for _ in range(2):
        ok = await api.post("/graphql", json={"query": "query Regions { regions { code } }"})
        assert ok.status_code == 200
    bad = await api.post("/graphql", json={"query": "query Broken { regions { nope } }"})
    assert bad.status_code == 200
    after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("lapor_graphql_requests_total", operation="Regions", status="200") == 2
    assert moved("lapor_graphql_request_duration_seconds_count", operation="Regions") == 2
    assert moved("lapor_graphql_request_duration_seconds_sum", operation="Regions") > 0
    assert moved("lapor_graphql_errors_total", code="GRAPHQL_VALIDATION_FAILED") == 1
    # Refused in validation, before the operation was known: not named after the client.
    assert moved("lapor_graphql_requests_total", operation="-", status="200") == 1


async def test_queue_depth_and_jobs_by_outcome_come_from_redis(
    client: httpx.AsyncClient, shared_redis: redis.Redis
) -> None:
    shared_redis.zadd(default_queue_name, {"job-a": 1, "job-b": 2, "job-c": 3})
    shared_redis.hset(
        metrics.JOBS_KEY,
        mapping={
            "relay_outbox_message:complete": 5,
            "relay_outbox_message:retried": 2,
            "deliver_email:dead": 1,
            "garbage": "not a number",
        },
    )
    samples = await scrape(client)
    assert value(samples, "lapor_dependency_up", dependency="redis") == 1
    assert value(samples, "lapor_queue_depth") == 3
    assert (
        value(samples, "lapor_jobs_total", function="relay_outbox_message", outcome="complete") == 5
    )
    assert (
        value(samples, "lapor_jobs_total", function="relay_outbox_message", outcome="retried") == 2
    )
    assert value(samples, "lapor_jobs_total", function="deliver_email", outcome="dead") == 1
    shared_redis.hincrby(metrics.JOBS_KEY, "deliver_email:dead", 1)
    assert (
        value(await scrape(client), "lapor_jobs_total", function="deliver_email", outcome="dead")
        == 2
    )


async def test_overdue_work_is_counted(client: httpx.AsyncClient, people: People) -> None:
    before = await scrape(client)
    assert value(before, "lapor_overdue", kind="assignment") == 0
    assert value(before, "lapor_dependency_up", dependency="database") == 1
    report = await submit(people["reporter"])
    (assignment,) = await verify(people["coordinator"], report["id"], "DINKES")
    past = datetime.now(UTC) - timedelta(days=2)
    await Assignment.filter(id=pk(assignment)).update(due_at=past)
    await Report.filter(id=pk(report["id"])).update(due_at=past)
    fresh = await submit(people["reporter"])  # due in three working days: not overdue
    assert fresh
    samples = await scrape(client)
    assert value(samples, "lapor_overdue", kind="assignment") == 1
    assert value(samples, "lapor_overdue", kind="report") == 1


async def test_live_subscribers_come_from_the_hubs_count(client: httpx.AsyncClient) -> None:
    assert value(await scrape(client), "lapor_live_subscribers") == 0
    metrics.set_live_subscriber_source(lambda: 7)
    try:
        assert value(await scrape(client), "lapor_live_subscribers") == 7
    finally:
        metrics.set_live_subscriber_source(lambda: 0)


async def test_without_redis_the_scrape_still_answers(db: str) -> None:
    async with app_clients(get_settings()) as (_, internal):  # the default: no Redis there
        samples = await scrape(internal)
    assert value(samples, "lapor_dependency_up", dependency="redis") == 0
    assert ("lapor_queue_depth", ()) not in samples
    assert value(samples, "lapor_dependency_up", dependency="database") == 1


def test_operation_names_are_bounded() -> None:
    assert metrics.operation_label(None) == "-"
    assert metrics.operation_label("") == "anonymous"
    assert metrics.operation_label("not a name!") == "other"
    seen = len(metrics._operation_names)
    extra = [f"Op{i}" for i in range(metrics.MAX_OPERATION_NAMES - seen + 5)]
    labels = [metrics.operation_label(name) for name in extra]
    assert labels[-5:] == ["other"] * 5
    assert len(metrics._operation_names) == metrics.MAX_OPERATION_NAMES
    metrics._operation_names.difference_update(extra)


# ------------------------------------------------------------- not on the public port (issue 12)


async def test_the_public_port_has_no_metrics(both: tuple[httpx.AsyncClient, ...]) -> None:
    """Issue 12, finding 9 (low): /metrics was on the public port."""
    api, internal = both

    assert (await api.get("/metrics")).status_code == 404
    assert (await internal.get("/metrics")).status_code == 200
    assert (await internal.get("/graphql")).status_code == 404


def test_docker_compose_publishes_the_api_not_its_metrics() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    api = compose["services"]["api"]
    environment = api["environment"]

    assert api["ports"] == ["8000:8000"]
    assert str(environment["LAPOR_METRICS_PORT"]) in [str(p) for p in api.get("expose", [])]
    for name, service in compose["services"].items():
        published = [str(p) for p in service.get("ports", [])]
        assert not any(str(environment["LAPOR_METRICS_PORT"]) in p for p in published), name


async def test_the_metrics_port_serves_the_metrics_app(db: str) -> None:
    """What the app's lifespan starts: the metrics app on its own port (a free one here)."""
    port = free_port()
    settings = get_settings().model_copy(update={"metrics_port": port})

    async def no_redis() -> None:
        return None

    server = MetricsServer(settings, metrics_app(no_redis))
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as internal:
            for _ in range(50):
                try:
                    scraped = await internal.get("/metrics")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
            elsewhere = await internal.post("/graphql", json={"query": "{ __typename }"})
    finally:
        await server.close()

    assert scraped.status_code == 200
    assert "lapor_graphql_requests" in scraped.text
    assert elsewhere.status_code == 404
