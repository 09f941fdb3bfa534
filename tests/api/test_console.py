"""GraphiQL works with no internet: its files come from the npm registry at set-up and are
served by the service, byte for byte what the page's integrity hashes name."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api.console import ASSETS_URL, COOKIE, bundled_page, cdn_assets, missing_assets
from core.settings import Settings, get_settings
from domain.auth import issue_token
from domain.services import accounts
from models import User
from tests.app_fixtures import app_client


@pytest.fixture
async def console(db: str, assets_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(Settings(console_assets_dir=str(assets_dir))) as client:
        yield client


async def test_the_console_page_loads_everything_from_the_service(
    console: httpx.AsyncClient,
) -> None:
    page = await console.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "unpkg.com" not in page.text
    tags = re.findall(r'(?:src|href)="(/console/assets/[^"]+)"\s+integrity="([^"]+)"', page.text)
    assert len(tags) == len(cdn_assets(bundled_page())) == 7
    for url, integrity in tags:
        asset = await console.get(url)
        assert asset.status_code == 200, url
        algorithm, _, expected = integrity.partition("-")
        assert base64.b64encode(hashlib.new(algorithm, asset.content).digest()).decode() == expected


async def test_without_the_files_the_page_falls_back_to_the_cdn(db: str, tmp_path: Path) -> None:
    async with app_client(Settings(console_assets_dir=str(tmp_path / "none"))) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert "https://unpkg.com/graphiql@" in page.text
        assert (await client.get("/console/assets/graphiql/graphiql.min.js")).status_code == 404


def test_a_tampered_file_is_not_served_as_the_console(assets_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(assets_dir, copy)
    script = copy / "graphiql" / "graphiql.min.js"
    script.write_bytes(script.read_bytes() + b"\n/* changed */")
    assert missing_assets(copy, bundled_page()) == ["graphiql/graphiql.min.js"]


# ------------------------------------------------------------ sign-in and production

PRODUCTION_SECRET = "production-secret-" * 3
ADMIN, COORDINATOR, CITIZEN = "admin@lapor.demo", "koordinator@jember.demo", "warga@jember.demo"
JSON = "application/json"


async def _sign_in(client: httpx.AsyncClient, email: str, password: str = "lapor-demo"):
    return await client.post("/console/session", json={"email": email, "password": password})


@pytest.fixture
async def production(db: str, assets_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        env="production", secret_key=PRODUCTION_SECRET, console_assets_dir=str(assets_dir)
    )
    async with app_client(settings) as client:
        yield client


async def test_signing_in_gives_an_api_token_and_a_cookie_that_is_no_api_token(
    console: httpx.AsyncClient,
) -> None:
    response = await _sign_in(console, ADMIN)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == {"name": body["user"]["name"], "roles": ["SUPERADMIN"]}
    me = await console.post(
        "/graphql",
        json={"query": "{ me { email } }"},
        headers={"Authorization": f"Bearer {body['token']}"},
    )
    assert me.json()["data"]["me"]["email"] == ADMIN
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    console_token = response.cookies[COOKIE]
    as_bearer = await console.post(
        "/graphql",
        json={"query": "{ me { email } }"},
        headers={"Authorization": f"Bearer {console_token}"},
    )
    assert as_bearer.status_code == 401


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (
            {"email": ADMIN, "password": "wrong-password"},
            "application/json",
            401,
            "INVALID_CREDENTIALS",
        ),
        ({"email": ADMIN}, JSON, 400, "BAD_REQUEST"),
        (["not", "an", "object"], JSON, 400, "BAD_REQUEST"),
        ({"email": ADMIN, "password": "lapor-demo"}, "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ],
)
async def test_a_failed_sign_in_says_why_and_sets_no_cookie(
    console: httpx.AsyncClient, body: object, content_type: str, status: int, code: str
) -> None:
    response = await console.post(
        "/console/session", content=json.dumps(body), headers={"content-type": content_type}
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert "set-cookie" not in response.headers


async def test_signing_out_clears_the_cookie(console: httpx.AsyncClient) -> None:
    response = await console.delete("/console/session")
    assert response.status_code == 204
    assert f'{COOKIE}=""' in response.headers["set-cookie"]
    assert "Max-Age=0" in response.headers["set-cookie"]


async def test_in_development_anyone_gets_the_console_with_its_sign_in_bar(
    console: httpx.AsyncClient,
) -> None:
    page = await console.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert 'id="sign-in"' in page.text and "graphiql.min.js" in page.text
    assert (await _sign_in(console, CITIZEN)).status_code == 200


async def test_in_production_only_superadmins_and_coordinators_may_sign_in(
    production: httpx.AsyncClient,
) -> None:
    refused = await _sign_in(production, CITIZEN)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "FORBIDDEN"
    assert "set-cookie" not in refused.headers
    for email in (ADMIN, COORDINATOR):
        assert (await _sign_in(production, email)).status_code == 200


async def test_in_production_the_page_needs_a_console_users_cookie(
    production: httpx.AsyncClient,
) -> None:
    html = {"Accept": "text/html"}
    anonymous = await production.get("/graphql", headers=html)
    assert anonymous.status_code == 401
    assert 'id="sign-in"' in anonymous.text
    assert "<script src=" not in anonymous.text and ASSETS_URL not in anonymous.text
    assert anonymous.headers["cache-control"] == "no-store"

    signed = await _sign_in(production, COORDINATOR)
    production.cookies.clear()  # each request below names its cookie itself

    async def page_with(cookie: str) -> httpx.Response:
        return await production.get("/graphql", headers={**html, "Cookie": f"{COOKIE}={cookie}"})

    page = await page_with(signed.cookies[COOKIE])
    assert page.status_code == 200
    assert "graphiql.min.js" in page.text

    citizen = await User.get(email=CITIZEN)
    now = datetime.now(UTC)
    for cookie in (
        accounts.console_token(citizen.id, now, 3600),  # not a console user
        issue_token((await User.get(email=ADMIN)).id, get_settings().secret_key, now, 3600),
        accounts.console_token((await User.get(email=ADMIN)).id, now - timedelta(days=1), 60),
    ):
        assert (await page_with(cookie)).status_code == 401, cookie
