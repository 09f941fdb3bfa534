"""The GraphiQL console without internet: its scripts and styles are installed from the npm
registry at set-up (`lapor console-assets`) and served by the service itself.

Strawberry's bundled page loads them from a CDN; we rewrite those addresses to our own and
keep the page's subresource-integrity hashes, so the browser still checks every byte."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

ASSETS_URL = "/console/assets"
_CDN = re.compile(r"https://unpkg\.com/((?:@[\w.-]+/)?[\w.-]+)@([\w.-]+)/([^\"']+)")
_TAG = re.compile(r"""(?:src|href)="(https://unpkg\.com/[^"]+)"\s+integrity="([^"]+)\"""")


def bundled_page() -> str:
    """Strawberry's GraphiQL page, as shipped (CDN addresses)."""
    return get_graphql_ide_html("graphiql")


def cdn_assets(page: str) -> list[tuple[str, str, str, str]]:
    """(package, version, path in the package, integrity) of every CDN file the page loads."""
    found = []
    for url, integrity in _TAG.findall(page):
        match = _CDN.fullmatch(url)
        if match:
            package, version, path = match.groups()
            found.append((package, version, path, integrity))
    return found


def _sri_ok(data: bytes, integrity: str) -> bool:
    algorithm, _, expected = integrity.partition("-")
    digest = hashlib.new(algorithm, data).digest()
    return base64.b64encode(digest).decode() == expected


def missing_assets(directory: Path, page: str) -> list[str]:
    """The files the page needs that are absent from `directory` or fail their integrity."""
    missing = []
    for package, _version, path, integrity in cdn_assets(page):
        file = directory / package / path
        if not file.is_file() or not _sri_ok(file.read_bytes(), integrity):
            missing.append(f"{package}/{path}")
    return missing


def local_page(page: str) -> str:
    """The page with every CDN address turned into one of ours."""
    return _CDN.sub(lambda m: f"{ASSETS_URL}/{m.group(1)}/{m.group(3)}", page)


def fetch_assets(directory: Path, npm: str = "npm") -> list[str]:
    """Install the console's files from the npm registry into `directory` (one folder per
    package) and check them against the page's integrity hashes; returns what is still missing."""
    page = bundled_page()
    wanted = sorted({(package, version) for package, version, _, _ in cdn_assets(page)})
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [npm, "pack", *[f"{p}@{v}" for p, v in wanted], "--pack-destination", tmp],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        for package, version in wanted:
            tarball = Path(tmp) / f"{package.lstrip('@').replace('/', '-')}-{version}.tgz"
            target = directory / package
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            with tarfile.open(tarball) as archive:
                for member in archive.getmembers():
                    if member.isfile() and member.name.startswith("package/"):
                        member.name = member.name.removeprefix("package/")
                        archive.extract(member, target, filter="data")
    return missing_assets(directory, page)
