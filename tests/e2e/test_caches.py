"""The caches of people and their roles, across processes: two `lapor api` processes that have
cached a signed-in coordinator stop honouring a withdrawn role, and a disabled account, as soon
as the change is committed, however it was made (here: plain SQL from elsewhere); and a lost
change-feed connection makes them read the database until it is back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from domain.services.accounts import Grant, create_user
from models import Region
from models.enums import Role
from tests.app_fixtures import agency_gid
from tests.e2e.test_stack import running_stack
from tests.harness import RedisServer

LOGIN = "mutation($e:String!,$p:String!){authLogin(email:$e,password:$p){token errors{code}}}"
INBOX = "query($a: ID!) { inbox(agencyId: $a, first: 1) { edges { node { id } } } }"
ME = "{ me { roles } }"
PASSWORD = "koordinator-sementara"


@pytest.fixture
def two_apis(db: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with running_stack(db, redis_server.url, tmp_path, apis=2) as processes:
        yield processes


async def _coordinator() -> tuple[str, int]:
    email = f"koordinator-{uuid.uuid4().hex[:8]}@jember.demo"
    region = await Region.get(code="35.09")
    user = await create_user(
        datetime.now(UTC),
        name="Koordinator Sementara",
        email=email,
        password=PASSWORD,
        grants=[Grant(Role.COORDINATOR, region_id=region.id)],
    )
    return email, user.id


async def _ask(
    base: str, token: str | None, query: str, variables: dict[str, Any] | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(
            f"{base}/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )


async def _sign_in(base: str, email: str) -> str:
    answer = await _ask(base, None, LOGIN, {"e": email, "p": PASSWORD})
    return str(answer.json()["data"]["authLogin"]["token"])


def _code(response: httpx.Response) -> str | None:
    if response.status_code == 401:
        return "UNAUTHENTICATED"
    errors = response.json().get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


async def _until_refused(
    bases: list[str], token: str, query: str, variables: dict[str, Any], code: str
) -> float:
    """Seconds until every process refuses with `code` (fails after 2 s)."""
    started = time.monotonic()
    pending = set(bases)
    while pending:
        for base in list(pending):
            if _code(await _ask(base, token, query, variables)) == code:
                pending.discard(base)
        assert time.monotonic() - started < 2, f"still served by {pending}"
    return time.monotonic() - started


async def _sql(db: str, statement: str, *args: object) -> None:
    conn = await asyncpg.connect(db)
    try:
        await conn.execute(statement, *args)
    finally:
        await conn.close()


async def test_a_withdrawn_role_and_a_disabled_account_take_effect_at_once_in_every_process(
    two_apis: dict[str, Any], db: str
) -> None:
    email, user_id = await _coordinator()
    bases: list[str] = two_apis["bases"]
    token = await _sign_in(bases[0], email)
    dinkes = {"a": await agency_gid("DINKES")}
    for base in bases:  # both processes have the coordinator cached
        for _ in range(3):
            assert _code(await _ask(base, token, INBOX, dinkes)) is None
        assert (await _ask(base, token, ME)).json()["data"]["me"]["roles"] == ["COORDINATOR"]

    await _sql(db, "DELETE FROM role_grant WHERE user_id = $1", user_id)
    withdrawn = await _until_refused(bases, token, INBOX, dinkes, "FORBIDDEN")
    assert withdrawn < 1.0
    for base in bases:
        assert (await _ask(base, token, ME)).json()["data"]["me"]["roles"] == []

    await _sql(db, "UPDATE app_user SET is_active = false WHERE id = $1", user_id)
    disabled = await _until_refused(bases, token, ME, {}, "UNAUTHENTICATED")
    assert disabled < 1.0


async def test_without_its_change_feed_a_process_reads_the_database(
    two_apis: dict[str, Any], db: str
) -> None:
    email, user_id = await _coordinator()
    base: str = two_apis["bases"][0]
    token = await _sign_in(base, email)
    dinkes = {"a": await agency_gid("DINKES")}
    assert _code(await _ask(base, token, INBOX, dinkes)) is None  # cached now
    # Cut every process's listening connection, and withdraw the role straight after.
    await _sql(
        db,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    await _sql(db, "DELETE FROM role_grant WHERE user_id = $1", user_id)
    assert _code(await _ask(base, token, INBOX, dinkes)) == "FORBIDDEN"
    # The feed comes back by itself.
    log = two_apis["logs"] / "api.log"
    deadline = time.monotonic() + 10
    while log.read_text().count("change feed: listening") < 2:
        assert time.monotonic() < deadline, log.read_text()
        await asyncio.sleep(0.1)
