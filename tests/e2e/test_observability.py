"""`lapor api --workers 2` as a process: /metrics, on its own port, adds up every worker's
counts, whichever worker serves it, and the log is JSON lines, one access line per request with
its request id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.processes import lapor_api
from tests.harness import RedisServer, free_port


@pytest.fixture
def two_workers(
    db: str, redis_server: RedisServer, tmp_path: Path
) -> Iterator[dict[str, Path | str]]:
    counts = tmp_path / "metrics"
    counts.mkdir()
    metrics_port = free_port()
    env = {
        "LAPOR_METRICS_PORT": str(metrics_port),
        "LAPOR_ENV": "test",
        "LAPOR_DATABASE_URL": db,
        "LAPOR_REDIS_URL": redis_server.url,
        "PROMETHEUS_MULTIPROC_DIR": str(counts),
    }
    log = tmp_path / "api.log"
    with lapor_api(env, log, "--workers", "2") as base:
        yield {
            "base": base,
            "metrics": f"http://127.0.0.1:{metrics_port}",
            "counts": counts,
            "log": log,
        }


def _pings(scrape: str) -> float:
    for family in text_string_to_metric_families(scrape):
        for sample in family.samples:
            if sample.name == "lapor_graphql_requests_total" and sample.labels == {
                "operation": "Ping",
                "status": "200",
            }:
                return sample.value
    return 0.0


def test_metrics_add_up_every_worker_and_each_request_logs_one_json_line(
    two_workers: dict[str, Path | str],
) -> None:
    base, counts = str(two_workers["base"]), Path(two_workers["counts"])
    sent: list[str] = []
    # A new connection per request, until both workers have answered some.
    while len(sent) < 200 and (len(sent) < 20 or len(list(counts.glob("counter_*.db"))) < 2):
        rid = f"ping-{len(sent)}"
        with httpx.Client(base_url=base) as client:
            response = client.post(
                "/graphql",
                json={"query": "query Ping { __typename }"},
                headers={"X-Request-Id": rid},
            )
        assert response.status_code == 200 and response.headers["x-request-id"] == rid
        sent.append(rid)
    assert len(list(counts.glob("counter_*.db"))) == 2, "one worker answered every request"
    for _ in range(6):
        with httpx.Client(base_url=str(two_workers["metrics"])) as client:
            assert _pings(client.get("/metrics").text) == len(sent)

    lines = [json.loads(line) for line in Path(two_workers["log"]).read_text().splitlines()]
    access = [line for line in lines if line["logger"] == "lapor.access"]
    assert sorted(line["request_id"] for line in access) == sorted(sent)
    for line in access:
        assert line["operation"] == "Ping" and line["status"] == 200
        assert line["method"] == "POST" and line["path"] == "/graphql"
        assert line["duration_ms"] >= 0
    with httpx.Client(base_url=base) as client:
        assert client.get("/metrics").status_code == 404  # not on the public port
