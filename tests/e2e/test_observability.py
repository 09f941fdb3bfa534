"""`lapor api --workers 2` as a process: /metrics, on its own port, adds up every worker's
counts, whichever worker serves it, and the log is JSON lines, one access line per request with
its request id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.processes import access_lines, lapor_api
from tests.harness import RedisServer, free_port


def _env(db: str, redis_server: RedisServer, counts: Path, metrics_port: int) -> dict[str, str]:
    return {
        "LAPOR_METRICS_PORT": str(metrics_port),
        "LAPOR_ENV": "test",
        "LAPOR_DATABASE_URL": db,
        "LAPOR_REDIS_URL": redis_server.url,
        "PROMETHEUS_MULTIPROC_DIR": str(counts),
    }


@pytest.fixture
def two_workers(
    db: str, redis_server: RedisServer, tmp_path: Path
) -> Iterator[dict[str, Path | str]]:
    counts = tmp_path / "metrics"
    counts.mkdir()
    metrics_port = free_port()
    env = _env(db, redis_server, counts, metrics_port)
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
    sent = _pinged_by_both(base, counts)
    for _ in range(6):
        with httpx.Client(base_url=str(two_workers["metrics"])) as client:
            assert _pings(client.get("/metrics").text) == len(sent)

    access = access_lines(Path(two_workers["log"]), lambda lines: len(lines) >= len(sent))
    assert sorted(line["request_id"] for line in access) == sorted(sent)
    for line in access:
        assert line["operation"] == "Ping" and line["status"] == 200
        assert line["method"] == "POST" and line["path"] == "/graphql"
        assert line["duration_ms"] >= 0
    with httpx.Client(base_url=base) as client:
        assert client.get("/metrics").status_code == 404  # not on the public port


def _pinged_by_both(base: str, counts: Path) -> list[str]:
    """Request ids of pings sent, a new connection for each, until both workers answered some."""
    sent: list[str] = []
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
    return sent


def test_each_workers_access_lines_still_waiting_are_written_when_it_stops(
    db: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Access lines wait to be written together (LAPOR_LOG_DEFER_SECONDS): stopped (SIGTERM)
    while they wait, each worker writes its own before it exits."""
    counts = tmp_path / "metrics"
    counts.mkdir()
    env = {**_env(db, redis_server, counts, free_port()), "LAPOR_LOG_DEFER_SECONDS": "30"}
    log = tmp_path / "api.log"
    with lapor_api(env, log, "--workers", "2") as base:
        sent = _pinged_by_both(base, counts)
        assert access_lines(log, lambda lines: False, timeout=0) == []  # all of them waiting
    access = access_lines(log, lambda lines: True, timeout=0)
    assert sorted(line["request_id"] for line in access) == sorted(sent)
