"""GraphiQL works with no internet: its files come from the npm registry at set-up and are
served by the service, byte for byte what the page's integrity hashes name."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.console import bundled_page, cdn_assets, fetch_assets, missing_assets
from lapor.settings import Settings
from tests.conftest import unavailable


@pytest.fixture(scope="session")
def assets_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if shutil.which("npm") is None:
        unavailable("no npm: the console's files are installed with it (apt-get install npm)")
    directory = tmp_path_factory.mktemp("console-assets")
    assert fetch_assets(directory) == []
    yield directory


async def _client(directory: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(console_assets_dir=str(directory)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lapor.test") as client:
        yield client


@pytest.fixture
async def console(db: str, assets_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(assets_dir):
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
    async for client in _client(tmp_path / "none"):
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert "https://unpkg.com/graphiql@" in page.text
        assert (await client.get("/console/assets/graphiql/graphiql.min.js")).status_code == 404


def test_a_tampered_file_is_not_served_as_the_console(assets_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(assets_dir, copy)
    script = copy / "graphiql" / "graphiql.min.js"
    script.write_bytes(script.read_bytes() + b"\n/* changed */")
    assert missing_assets(copy, bundled_page()) == ["graphiql/graphiql.min.js"]
