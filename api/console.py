"""The GraphiQL console: offline assets, the sign-in bar, and who may open it.

Its scripts and styles are installed from the npm registry at set-up (`lapor console-assets`)
and served by the service itself. Strawberry's bundled page names them (with CDN addresses
and subresource-integrity hashes); our page (console.html) loads the same files from our own
address, keeping the hashes, so the browser still checks every byte (docs/adr/0005).

Admins sign in from the page's bar (POST /console/session): the answer carries an API token
for the page's requests and sets an HttpOnly cookie that only opens the page itself. In
production the page is served only to signed-in superadmins and coordinators; others get the
sign-in bar alone (docs/adr/0010).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import shutil
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from strawberry.http.ides import get_graphql_ide_html

from api.headers import media_type
from api.tokens import client_ip
from core.settings import Settings
from domain.errors import DomainError
from domain.policy import may_use_console
from domain.services import accounts
from domain.services.ratelimits import RateLimits, RedisSource

log = logging.getLogger("lapor.console")

ASSETS_URL = "/console/assets"
SESSION_URL = "/console/session"
COOKIE = "lapor_console"
TEMPLATE = Path(__file__).with_name("console.html")
DEFAULT_QUERY = """# Lapor console. Sign in above: every request, and the WebSocket of
# subscriptions, then carries your token. Ctrl-Enter runs the operation.
query Me {
  me { name email roles }
  regions { code name timezone }
}
"""
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


def console_page(bundled: str, offline: bool, *, console: bool) -> str:
    """Our console page: GraphiQL's files as the bundled page names them (ours when
    `offline`, else the CDN's), or with `console` False, the sign-in bar alone."""
    tags = []
    for package, version, path, integrity in cdn_assets(bundled) if console else []:
        url = (
            f"{ASSETS_URL}/{package}/{path}"
            if offline
            else f"https://unpkg.com/{package}@{version}/{path}"
        )
        if path.endswith(".css"):
            tags.append(
                f'<link rel="stylesheet" href="{url}" integrity="{integrity}" crossorigin />'
            )
        else:
            tags.append(f'<script src="{url}" integrity="{integrity}" crossorigin></script>')
    config = {
        "console": console,
        "graphqlPath": "/graphql",
        "sessionUrl": SESSION_URL,
        "defaultQuery": DEFAULT_QUERY,
    }
    # `<` escaped: the JSON sits inside a <script> element.
    embedded = json.dumps(config).replace("<", "\\u003c")
    template = TEMPLATE.read_text(encoding="utf-8")
    return template.replace("<!--assets-->", "\n    ".join(tags)).replace("/*config*/{}", embedded)


class Console:
    """The console page and its sign-in endpoint, for one settings object."""

    def __init__(self, settings: Settings, redis: RedisSource) -> None:
        self.settings = settings
        self.redis = redis
        self.assets = Path(settings.console_assets_dir)
        bundled = bundled_page()
        self.offline = not missing_assets(self.assets, bundled)
        if not self.offline:
            log.warning(
                "console assets missing in %s (`lapor console-assets`): GraphiQL uses a CDN",
                self.assets,
            )
        self.full_page = console_page(bundled, self.offline, console=True)
        self.sign_in_page = console_page(bundled, self.offline, console=False)

    def routes(self) -> list[BaseRoute]:
        """The sign-in endpoint and, when installed, GraphiQL's files."""
        routes: list[BaseRoute] = [Route(SESSION_URL, self.session, methods=["POST", "DELETE"])]
        if self.offline:
            routes.append(Mount(ASSETS_URL, StaticFiles(directory=self.assets)))
        return routes

    async def page(self, request: Request) -> Response:
        """The console, or where it is restricted and the browser's cookie does not show a
        console user, the sign-in bar alone (401)."""
        if not self.settings.console_restricted:
            return HTMLResponse(self.full_page)
        actor = await accounts.actor_for_token(
            request.cookies.get(COOKIE), datetime.now(UTC), accounts.CONSOLE_AUDIENCE
        )
        # The answer depends on the cookie: no cache may keep it for someone else.
        headers = {"Cache-Control": "no-store", "Vary": "Cookie"}
        if actor.authenticated and may_use_console(actor, restricted=True):
            return HTMLResponse(self.full_page, headers=headers)
        return HTMLResponse(self.sign_in_page, status_code=401, headers=headers)

    async def session(self, request: Request) -> Response:
        """POST {email, password}: sign in (token for the page, cookie for the page's GET);
        DELETE: sign out (the cookie is cleared)."""
        if request.method == "DELETE":
            response: Response = Response(status_code=204)
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
            return response
        # JSON only: a cross-site form cannot send it without the browser asking first (CORS).
        if media_type(request.scope) != "application/json":
            return _refuse(415, "UNSUPPORTED_MEDIA_TYPE", "send {email, password} as JSON")
        try:
            body: Any = json.loads(await request.body())
        except ValueError:
            body = None
        email = body.get("email") if isinstance(body, dict) else None
        password = body.get("password") if isinstance(body, dict) else None
        if not isinstance(email, str) or not isinstance(password, str):
            return _refuse(400, "BAD_REQUEST", "send a JSON object {email, password}")
        now = datetime.now(UTC)
        limits = RateLimits(self.settings, self.redis, client_ip(request))
        try:
            signed = await accounts.login(now, email, password, limits)
        except DomainError as error:
            if error.retry_after is not None:
                retry = {"Retry-After": str(error.retry_after)}
                return _refuse(429, error.code.value, error.message, retry)
            return _refuse(401, error.code.value, error.message)
        actor = await accounts.actor_for_user(signed.user.id)
        if not may_use_console(actor, self.settings.console_restricted):
            return _refuse(
                403, "FORBIDDEN", "the console is open only to superadmins and coordinators"
            )
        seconds = self.settings.console_session_seconds
        response = JSONResponse(
            {
                "token": signed.token,
                "user": {"name": actor.name, "roles": sorted(r.value for r in actor.roles)},
            }
        )
        response.set_cookie(
            COOKIE,
            accounts.console_token(signed.user.id, now, seconds),
            max_age=seconds,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response


def _refuse(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


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
