"""Persisted queries on a real Redis: Apollo's automatic persisted queries, the allowlist
mode, and `lapor persisted-queries register` filling it from .graphql files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from api.http import GRAPHQL_RESPONSE
from api.persisted import APQ_PREFIX, REGISTERED_KEY, operations_in, sha256_hex
from core.settings import Settings, get_settings
from domain.services import accounts
from models import Report
from tests.app_fixtures import JEMBER, PASSWORD, app_client, region_gid

ROOT = Path(__file__).resolve().parents[2]
REGIONS = "query Regions { regions { code } }"
CLIENT_FILE = """# The operations a (pretend) mobile client ships.
query Regions { regions { code } }

query Categories { categories { ...Cat } }

fragment Cat on Category { code name }

mutation Submit($r: ID!) {
  reportSubmit(input: {kind: COMPLAINT, title: "Jalan rusak", body: "Berlubang.", regionId: $r}) {
    report { id } errors { code }
  }
}
"""


def _extension(query: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}


@pytest.fixture
def store(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("lapor:pq:*"):
        client.delete(key)
    yield client
    client.close()


def _settings(redis_url: str, mode: str) -> Settings:
    return get_settings().model_copy(update={"redis_url": redis_url, "persisted_queries": mode})


@pytest.fixture
async def auto(db: str, redis_url: str, store: redis.Redis) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(_settings(redis_url, "auto")) as client:
        yield client


@pytest.fixture
async def allowlist(
    db: str, redis_url: str, store: redis.Redis
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(_settings(redis_url, "allowlist")) as client:
        yield client


async def _post(
    client: httpx.AsyncClient, body: dict[str, Any], accept: str = "application/json", **h: str
) -> httpx.Response:
    return await client.post("/graphql", json=body, headers={"accept": accept, **h})


def _code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


# ----------------------------------------------------------------------- APQ (auto)


@pytest.mark.parametrize(("accept", "status"), [("application/json", 200), (GRAPHQL_RESPONSE, 400)])
async def test_an_unknown_hash_asks_for_the_query(
    auto: httpx.AsyncClient, accept: str, status: int
) -> None:
    response = await _post(auto, {"extensions": _extension(REGIONS)}, accept)
    assert response.status_code == status
    body = response.json()
    assert "data" not in body
    # What Apollo's clients look for before resending the full text.
    assert body["errors"][0]["message"] == "PersistedQueryNotFound"
    assert _code(response) == "PERSISTED_QUERY_NOT_FOUND"
    assert "no-cache" in response.headers["cache-control"]


async def test_a_query_runs_by_hash_after_its_first_registration(
    auto: httpx.AsyncClient, store: redis.Redis
) -> None:
    first = await _post(auto, {"query": REGIONS, "extensions": _extension(REGIONS)})
    assert first.status_code == 200 and "errors" not in first.json(), first.text
    assert store.ttl(APQ_PREFIX + sha256_hex(REGIONS)) > 0
    by_post = await _post(auto, {"extensions": _extension(REGIONS)})
    by_get = await auto.get(
        "/graphql",
        params={"extensions": json.dumps(_extension(REGIONS))},
        headers={"accept": "*/*"},
    )
    assert by_post.json() == by_get.json() == first.json()
    assert by_get.headers["content-type"].startswith("application/json")


async def test_a_query_that_fails_validation_is_not_persisted(
    auto: httpx.AsyncClient, store: redis.Redis
) -> None:
    broken = "query Broken { regions { nope } }"
    response = await _post(auto, {"query": broken, "extensions": _extension(broken)})
    assert _code(response) == "GRAPHQL_VALIDATION_FAILED"
    assert store.get(APQ_PREFIX + sha256_hex(broken)) is None


@pytest.mark.parametrize(
    ("extension", "word"),
    [
        ({"persistedQuery": {"version": 1, "sha256Hash": sha256_hex("{ other }")}}, "sha256"),
        ({"persistedQuery": {"version": 2, "sha256Hash": sha256_hex(REGIONS)}}, "version"),
        ({"persistedQuery": {"version": 1, "sha256Hash": "abc"}}, "64"),
        ({"persistedQuery": "yes"}, "version"),
    ],
)
async def test_a_malformed_persisted_query_is_a_400(
    auto: httpx.AsyncClient, extension: dict[str, Any], word: str
) -> None:
    response = await _post(auto, {"query": REGIONS, "extensions": extension})
    assert response.status_code == 400
    assert _code(response) == "BAD_REQUEST"
    assert word in response.json()["errors"][0]["message"]


async def test_a_persisted_mutation_is_still_post_only(
    auto: httpx.AsyncClient, store: redis.Redis
) -> None:
    mutation = "mutation M { notificationsMarkRead }"
    store.set(APQ_PREFIX + sha256_hex(mutation), mutation)
    response = await auto.get("/graphql", params={"extensions": json.dumps(_extension(mutation))})
    assert response.status_code == 405


async def test_without_redis_a_hash_is_not_found_and_the_full_text_still_runs(db: str) -> None:
    settings = _settings("redis://127.0.0.1:9/0", "auto")
    async with app_client(settings) as client:
        missing = await _post(client, {"extensions": _extension(REGIONS)})
        assert _code(missing) == "PERSISTED_QUERY_NOT_FOUND"
        full = await _post(client, {"query": REGIONS, "extensions": _extension(REGIONS)})
        assert full.status_code == 200 and "errors" not in full.json()


async def test_with_persisted_queries_off_a_bare_hash_is_not_supported(db: str) -> None:
    async with app_client(get_settings().model_copy(update={"persisted_queries": "off"})) as c:
        bare = await _post(c, {"extensions": _extension(REGIONS)})
        assert bare.json()["errors"][0]["message"] == "PersistedQueryNotSupported"
        assert _code(bare) == "PERSISTED_QUERY_NOT_SUPPORTED"
        full = await _post(c, {"query": REGIONS, "extensions": _extension(REGIONS)})
        assert "errors" not in full.json()


# ----------------------------------------------------------------------- allowlist


def _client_file(tmp_path: Path) -> Path:
    path = tmp_path / "mobile.graphql"
    path.write_text(CLIENT_FILE, encoding="utf-8")
    return path


def _registered_ops(tmp_path: Path) -> dict[str, str]:
    from schema.schema import schema

    return {o.name: o.body for o in operations_in([_client_file(tmp_path)], schema._schema)}


@pytest.mark.parametrize(("accept", "status"), [("application/json", 200), (GRAPHQL_RESPONSE, 403)])
async def test_allowlist_mode_refuses_what_was_not_registered(
    allowlist: httpx.AsyncClient, store: redis.Redis, accept: str, status: int
) -> None:
    unknown_hash = await _post(allowlist, {"extensions": _extension(REGIONS)}, accept)
    assert _code(unknown_hash) == "PERSISTED_QUERY_NOT_FOUND"
    free_form = await _post(allowlist, {"query": REGIONS}, accept)
    assert free_form.status_code == status
    assert _code(free_form) == "OPERATION_NOT_ALLOWED"
    # Sending text with its hash does not register it here.
    apq = await _post(allowlist, {"query": REGIONS, "extensions": _extension(REGIONS)}, accept)
    assert _code(apq) == "OPERATION_NOT_ALLOWED"
    assert store.keys("lapor:pq:*") == []


async def test_registered_operations_run_by_hash_or_by_their_exact_text(
    allowlist: httpx.AsyncClient, store: redis.Redis, tmp_path: Path
) -> None:
    bodies = _registered_ops(tmp_path)
    store.hset(REGISTERED_KEY, mapping={sha256_hex(b): b for b in bodies.values()})
    by_hash = await _post(allowlist, {"extensions": _extension(bodies["Categories"])})
    assert "errors" not in by_hash.json(), by_hash.text
    categories = by_hash.json()["data"]["categories"]
    assert categories and all(set(c) == {"code", "name"} for c in categories)
    by_text = await _post(allowlist, {"query": bodies["Regions"]})
    assert "errors" not in by_text.json()
    # One character off is another operation.
    off = await _post(allowlist, {"query": bodies["Regions"] + " "})
    assert _code(off) == "OPERATION_NOT_ALLOWED"


async def _token(email: str) -> str:
    """A token as a client's registered sign-in operation would get it."""
    return (await accounts.login(datetime.now(UTC), email, PASSWORD)).token


async def test_a_registered_mutation_runs_and_stores(
    allowlist: httpx.AsyncClient, store: redis.Redis, tmp_path: Path
) -> None:
    body = _registered_ops(tmp_path)["Submit"]
    store.hset(REGISTERED_KEY, sha256_hex(body), body)
    response = await _post(
        allowlist,
        {"extensions": _extension(body), "variables": {"r": await region_gid(JEMBER)}},
        Authorization=f"Bearer {await _token('warga@jember.demo')}",
    )
    assert response.json()["data"]["reportSubmit"]["errors"] == [], response.text
    assert await Report.all().count() == 1


async def test_console_users_may_send_any_operation_in_allowlist_mode(
    allowlist: httpx.AsyncClient,
) -> None:
    for email, allowed in [
        ("admin@lapor.demo", True),
        ("koordinator@jember.demo", True),
        ("dinkes@jember.demo", False),
        ("warga@jember.demo", False),
    ]:
        token = await _token(email)
        response = await _post(
            allowlist, {"query": "{ regions { code } }"}, Authorization=f"Bearer {token}"
        )
        if allowed:
            assert response.json()["data"]["regions"], response.text
        else:
            assert _code(response) == "OPERATION_NOT_ALLOWED"


# ------------------------------------------------------------------- the command


def _lapor(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LAPOR_REDIS_URL": redis_url, "LAPOR_ENV": "test"}
    return subprocess.run(
        [sys.executable, "-m", "lapor", "persisted-queries", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_the_command_registers_a_clients_files_for_the_allowlist(
    allowlist: httpx.AsyncClient, store: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    done = _lapor(redis_url, "register", str(_client_file(tmp_path)), "--manifest", str(manifest))
    assert done.returncode == 0, done.stderr
    assert "3 operations registered (3 new)" in done.stdout
    operations = json.loads(manifest.read_text())["operations"]
    assert {o["name"]: o["type"] for o in operations} == {
        "Regions": "query",
        "Categories": "query",
        "Submit": "mutation",
    }
    for operation in operations:
        assert operation["id"] == sha256_hex(operation["body"])
        assert operation["id"] in done.stdout
    categories = next(o for o in operations if o["name"] == "Categories")
    assert "fragment Cat on Category" in categories["body"]
    response = await _post(
        allowlist,
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": categories["id"]}}},
    )
    assert response.json()["data"]["categories"], response.text
    again = _lapor(redis_url, "register", str(manifest))
    assert "3 operations registered (0 new)" in again.stdout, again.stderr
    listed = _lapor(redis_url, "list")
    assert "Categories" in listed.stdout and "3 operations registered" in listed.stdout


def test_the_command_refuses_files_that_do_not_fit_the_schema(
    redis_url: str, store: redis.Redis, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.graphql"
    bad.write_text(
        "query Fine { regions { code } }\nquery Wrong { regions { nope } }\n{ me { id } }\n"
        "query Frag { ...Missing }\n",
        encoding="utf-8",
    )
    done = _lapor(redis_url, "register", str(bad))
    assert done.returncode == 2
    assert "nothing registered" in done.stderr
    assert "Wrong: Cannot query field 'nope'" in done.stderr
    assert "every operation needs a name" in done.stderr
    assert "Frag uses unknown ['Missing']" in done.stderr
    assert "Traceback" not in done.stderr
    assert store.hlen(REGISTERED_KEY) == 0
