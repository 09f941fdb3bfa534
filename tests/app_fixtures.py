"""Fixtures of the application on PostgreSQL: a migrated database with the demo data,
clean report tables before each test, and an in-process GraphQL client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tortoise import connections

from core.settings import Settings, get_settings
from models import Agency, Region
from models.db import apply_migrations, connect_database, disconnect_database
from schema.ids import from_global_id, to_global_id

# Tables that tests write to; reference data and demo users stay for the whole session.
CHURN_TABLES = (
    "perf_cell",
    "perf_source",
    "perf_dirty",
    "idempotency_key",
    "sweep_mark",
    "notification",
    "outbox_message",
    "report_event",
    "rating",
    "support",
    "attachment",
    "follow_up",
    "assignment",
    "report",
)


@pytest.fixture(scope="session")
async def app_db(pg_url: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL database, migrated by `lapor migrate`'s code path, with demo data."""

    from lapor.demo import seed_demo
    from tests.harness import create_database

    url = await asyncio.to_thread(create_database, pg_url, "lapor_app")
    await apply_migrations(url)
    await connect_database(url, 20)
    await seed_demo(datetime(2026, 1, 5, tzinfo=UTC))
    yield url
    await disconnect_database()


@pytest.fixture
async def db(app_db: str) -> AsyncIterator[str]:
    """The session database with no reports left from earlier tests."""
    await connections.get("default").execute_script(
        f"TRUNCATE {', '.join(CHURN_TABLES)} RESTART IDENTITY CASCADE"
    )
    yield app_db


@dataclass
class GQL:
    """A GraphQL client over HTTP (in-process ASGI), signed in as one demo account or not."""

    client: httpx.AsyncClient
    token: str | None = None
    # Sent with every request, e.g. {"Idempotency-Key": ...}.
    headers: dict[str, str] = field(default_factory=dict)

    def with_headers(self, **headers: str) -> GQL:
        """The same client sending these headers too (names with underscores for dashes)."""
        extra = {name.replace("_", "-"): value for name, value in headers.items()}
        return GQL(self.client, self.token, {**self.headers, **extra})

    async def raw(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(self.headers)
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def upload(
        self, query: str, variables: dict[str, Any], files: dict[str, tuple[str, bytes, str]]
    ) -> httpx.Response:
        """The operation as the GraphQL multipart request: each file (name, bytes, declared type)
        goes to the variable path it is keyed by (e.g. "variables.input.attachments.0"), where
        `variables` holds a null."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(self.headers)
        names = {str(i): path for i, path in enumerate(files)}
        form = {
            "operations": json.dumps({"query": query, "variables": variables}),
            "map": json.dumps({name: [path] for name, path in names.items()}),
        }
        parts = {name: files[path] for name, path in names.items()}
        return await self.client.post("/graphql", data=form, files=parts, headers=headers)

    async def fetch(self, url: str) -> httpx.Response:
        """A signed link (`Attachment.url`, `thumbnailUrl`) fetched through this in-process
        client: its path and query, whatever origin the link names. Links are bearer links: no
        token is sent."""
        parts = urlsplit(url)
        return await self.client.get(f"{parts.path}?{parts.query}")

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.raw(query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def sign_in(self, email: str, password: str = "lapor-demo") -> GQL:
        data = await self(
            "mutation($e:String!,$p:String!){authLogin(email:$e,password:$p){token errors{code}}}",
            {"e": email, "p": password},
        )
        assert data["authLogin"]["errors"] == [], data
        return GQL(self.client, data["authLogin"]["token"])


@pytest.fixture(scope="session")
def assets_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """GraphiQL's files, installed from the npm registry once per session."""
    from api.console import fetch_assets
    from tests.conftest import unavailable

    if shutil.which("npm") is None:
        unavailable("no npm: the console's files are installed with it (apt-get install npm)")
    directory = tmp_path_factory.mktemp("console-assets")
    assert fetch_assets(directory) == []
    yield directory


@contextlib.asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the whole app built for `settings`, in process (no lifespan: the
    session has initialised the ORM; Redis is connected lazily)."""
    async with app_clients(settings) as (client, _):
        yield client


@contextlib.asynccontextmanager
async def app_clients(
    settings: Settings,
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """HTTP clients of one app built for `settings`, in process: its public port, and its
    metrics port (docs/adr/0022)."""
    from api.app import create_app

    app = create_app(settings)
    public = httpx.ASGITransport(app=app)
    internal = httpx.ASGITransport(app=app.state.metrics)
    async with (
        httpx.AsyncClient(transport=public, base_url="http://lapor.test") as client,
        httpx.AsyncClient(transport=internal, base_url="http://lapor.internal") as metrics,
    ):
        yield client, metrics


@pytest.fixture
async def gql(db: str) -> AsyncIterator[GQL]:
    """The public (signed-out) client; `await gql.sign_in(email)` gives a signed-in one."""
    async with app_client(get_settings()) as client:
        yield GQL(client)


# ------------------------------------------------------------------ the demo's people

PASSWORD = "lapor-demo"
DEMO_VIEWERS = {
    "reporter": "warga@jember.demo",
    "coordinator": "koordinator@jember.demo",
    "officer": "dinkes@jember.demo",
    "head": "kepala.dinkes@jember.demo",
    "dpupr": "pupr@jember.demo",
    "puskesmas": "puskesmas@jember.demo",
    "jayapura": "koordinator@jayapura.demo",
    "admin": "admin@lapor.demo",
    "ombudsman": "ombudsman@lapor.demo",
}
# Another citizen, registered once per session through `authRegister`.
CITIZEN_EMAIL = f"tetangga-{uuid.uuid4().hex[:8]}@example.org"
# Signed-in tokens by e-mail, kept for the session: users outlive the per-test truncation.
_TOKENS: dict[str, str] = {}

People = dict[str, GQL]


async def _token(gql: GQL, email: str) -> str:
    if email not in _TOKENS:
        if email == CITIZEN_EMAIL:
            data = await gql(
                "mutation($i: RegisterInput!) { authRegister(input: $i) { errors {code} } }",
                {"i": {"name": "Tetangga Warga", "email": email, "password": PASSWORD}},
            )
            assert data["authRegister"]["errors"] == [], data
        signed = await gql.sign_in(email, PASSWORD)
        assert signed.token is not None
        _TOKENS[email] = signed.token
    return _TOKENS[email]


@pytest.fixture
async def people(gql: GQL) -> People:
    """Every viewer of the rules: the demo accounts, another citizen, and the public."""
    viewers = {"public": gql, "citizen": GQL(gql.client, await _token(gql, CITIZEN_EMAIL))}
    for who, email in DEMO_VIEWERS.items():
        viewers[who] = GQL(gql.client, await _token(gql, email))
    return viewers


# ------------------------------------------------------------------ ids of the demo data

JEMBER, JAYAPURA = "35.09", "91.03"


async def region_gid(code: str) -> str:
    """The global id of a demo region by its code."""
    return to_global_id("Region", (await Region.get(code=code)).id)


async def agency_gid(code: str, region: str = JEMBER) -> str:
    """The global id of a demo agency by its code and its region's code."""
    region_id = (await Region.get(code=region)).id
    return to_global_id("Agency", (await Agency.get(code=code, region_id=region_id)).id)


def pk(global_id: str) -> int:
    """The database id behind a global id."""
    decoded = from_global_id(global_id)
    assert decoded is not None, global_id
    return decoded[1]


async def holders(role: str, *, region: str | None = None, agency: str | None = None) -> set[str]:
    """E-mails of the active users holding a role (in a region, or at a DINKES-like agency code
    of Jember): other tests may have added staff, so expectations ask the database."""
    from models import RoleGrant, User

    qs = RoleGrant.filter(role=role)
    if region is not None:
        qs = qs.filter(region__code=region)
    if agency is not None:
        qs = qs.filter(agency__code=agency, agency__region__code=JEMBER)
    ids = await qs.values_list("user_id", flat=True)
    return set(await User.filter(id__in=list(ids), is_active=True).values_list("email", flat=True))
