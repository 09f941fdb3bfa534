"""PostgreSQL goes away under a running `lapor api` and `lapor worker`, then comes back: every
request in between is told UNAVAILABLE (503 with Retry-After over GraphQL over HTTP), nothing
is answered INTERNAL or dropped, nothing stored is lost, and both processes recover by
themselves."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.processes import ROOT, spawn, stop, wait_healthy
from tests.harness import PostgresCluster, RedisServer, free_port
from tests.live_client import refused

LOGIN = "mutation($e:String!,$p:String!){authLogin(email:$e,password:$p){token errors{code}}}"
SUBMIT = """mutation($r: ID!) { reportSubmit(input: {kind: COMPLAINT, title: "Banjir",
  body: "Air setinggi lutut.", regionId: $r}) { report { trackingCode } errors { code } } }"""
READ = "{ regions { id code } reports(filter: {mine: true}) { edges { node { trackingCode } } } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[tuple[PostgresCluster, str]]:
    """A PostgreSQL of this test's own, which it may stop and start again, migrated and seeded
    by the `lapor` command (this process's ORM belongs to the session's database)."""
    with PostgresCluster() as cluster:
        url = cluster.create_database("outage")
        env = {**os.environ, "LAPOR_ENV": "test", "LAPOR_DATABASE_URL": url}
        for command in ("migrate", "seed-demo"):
            done = subprocess.run(
                [sys.executable, "-m", "lapor", command],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, done.stdout + done.stderr
        yield cluster, url


@pytest.fixture
def stack(
    own_database: tuple[PostgresCluster, str], redis_server: RedisServer, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    cluster, url = own_database
    env = {
        **os.environ,
        "LAPOR_ENV": "test",
        "LAPOR_DATABASE_URL": url,
        "LAPOR_REDIS_URL": redis_server.url,
        "LAPOR_RELAY_POLL_SECONDS": "0.5",
    }
    port = free_port()
    api = spawn(["api", "--port", str(port)], env, tmp_path / "api.log")
    worker = spawn(["worker"], env, tmp_path / "worker.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, api, tmp_path / "api.log")
        yield {"base": base, "cluster": cluster, "url": url, "logs": tmp_path}
    finally:
        stop(api)
        stop(worker)


def _post(
    client: httpx.Client, query: str, variables: dict[str, Any] | None = None, **headers: str
) -> httpx.Response:
    return client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_requests_are_told_unavailable_while_the_database_is_down_and_served_when_it_is_back(
    stack: dict[str, Any],
) -> None:
    cluster: PostgresCluster = stack["cluster"]
    with httpx.Client(base_url=stack["base"], timeout=30) as client:
        token = _post(client, LOGIN, {"e": "warga@jember.demo", "p": "lapor-demo"}).json()
        bearer = f"Bearer {token['data']['authLogin']['token']}"
        regions = _post(client, READ, Authorization=bearer).json()["data"]["regions"]
        jember = next(r["id"] for r in regions if r["code"] == "35.09")
        before = _post(client, SUBMIT, {"r": jember}, Authorization=bearer).json()
        code = before["data"]["reportSubmit"]["report"]["trackingCode"]

        cluster.stop()
        try:
            answers = []
            for query, variables in ((READ, None), (SUBMIT, {"r": jember}), (LOGIN, None)):
                for accept in (GRAPHQL_RESPONSE, "application/json"):
                    answer = _post(client, query, variables, Authorization=bearer, Accept=accept)
                    answers.append(answer)
                    codes = {e["extensions"]["code"] for e in answer.json()["errors"]}
                    assert codes == {"UNAVAILABLE"}, answer.text
                    assert answer.headers["retry-after"] == "2"
                    assert answer.status_code == (503 if accept == GRAPHQL_RESPONSE else 200)
            # A signed-out request, Open311 and readiness: coded answers, never a bare 500.
            public = _post(client, "{ categories { code } }", Accept=GRAPHQL_RESPONSE)
            assert public.status_code == 503 and "UNAVAILABLE" in public.text, public.text
            open311 = client.get("/open311/v2/requests.json")
            assert open311.status_code == 503, open311.text
            assert open311.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
            assert client.get("/readyz").status_code == 503
            # A WebSocket's sign-in reads the token's user too: told to come back (1013).
            live = stack["base"].replace("http", "ws", 1) + "/graphql"
            closed = asyncio.run(refused(live, {"Authorization": bearer}))
            assert closed.code == 1013 and "database" in closed.reason, closed
            # The connection was kept: every answer came over the same keep-alive connection.
            assert all(a.http_version == "HTTP/1.1" for a in answers)
        finally:
            cluster.restart()

        deadline = time.monotonic() + 20
        while True:
            back = _post(client, READ, Authorization=bearer, Accept=GRAPHQL_RESPONSE)
            if back.status_code == 200:
                break
            assert time.monotonic() < deadline, back.text
            time.sleep(0.2)
        mine = [e["node"]["trackingCode"] for e in back.json()["data"]["reports"]["edges"]]
        assert mine == [code]  # what was stored before the outage is all there
        after = _post(client, SUBMIT, {"r": jember}, Authorization=bearer).json()
        assert after["data"]["reportSubmit"]["errors"] == []

    async def relayed() -> bool:
        conn = await asyncpg.connect(stack["url"])
        try:
            pending = await conn.fetchval(
                "SELECT count(*) FROM outbox_message WHERE dispatched_at IS NULL"
            )
            return int(pending) == 0
        finally:
            await conn.close()

    deadline = time.monotonic() + 30
    while not asyncio.run(relayed()):  # the worker recovered too
        assert time.monotonic() < deadline, (stack["logs"] / "worker.log").read_text()
        time.sleep(0.2)

    for name in ("api.log", "worker.log"):
        lines = _lines(stack["logs"] / name)
        assert not [line for line in lines if line["level"] == "error"], name
        assert not [line for line in lines if "Traceback" in line.get("exc", "")], name
    access = [
        line for line in _lines(stack["logs"] / "api.log") if line["logger"] == "lapor.access"
    ]
    assert not [line for line in access if line["status"] == 500]
