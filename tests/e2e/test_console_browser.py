"""The console in a real headless Chromium, against `lapor api` in production mode, with the
outside world out of the browser's reach: the page loads from the service's own files, an
admin signs in from the bar, runs a query and sees its result; a subscription carries the
token to the WebSocket's connection_init. A screenshot is kept as a test artifact.

Driven over the DevTools protocol with the `websockets` package (Playwright cannot download
its browsers here); Debian's `chromium` package is the browser (.ci/run installs it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import unavailable
from tests.e2e.processes import ROOT, access_lines, lapor_api, stop
from tests.harness import RedisServer

ARTIFACTS = ROOT / "var" / "test-artifacts"
SECRET = "console-browser-test-secret-" * 2
QUERY = """query Me {
  me { name email roles }
  regions { code name timezone }
}"""
SUBSCRIPTION = "subscription Live { notificationAdded { id message } }"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    unavailable("no Chromium: apt-get install chromium (.ci/run does)")


@pytest.fixture
def api(db: str, redis_server: RedisServer, assets_dir: Path, tmp_path: Path) -> Iterator[str]:
    """`lapor api` in production mode; its JSON log in tmp_path/api.log."""
    env = {
        "LAPOR_ENV": "production",
        "LAPOR_SECRET_KEY": SECRET,
        "LAPOR_DATABASE_URL": db,
        "LAPOR_REDIS_URL": redis_server.url,
        "LAPOR_CONSOLE_ASSETS_DIR": str(assets_dir),
    }
    with lapor_api(env, tmp_path / "api.log") as base:
        yield base


class DevTools:
    """A page driven over the Chrome DevTools protocol; keeps the events it saw."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        await self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.recv(), 30))
            if message.get("id") == ident:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})  # type: ignore[no-any-return]
            self.events.append(message)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, what: str, seconds: float = 30) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(AssertionError):
                found = await self.evaluate(expression)
                if found:
                    return found
            await asyncio.sleep(0.2)
        raise AssertionError(f"{what}: not seen within {seconds}s")

    def seen(self, method: str) -> list[dict[str, Any]]:
        return [e["params"] for e in self.events if e.get("method") == method]


def _launch(binary: str, profile: str) -> subprocess.Popen[bytes]:
    """Chromium, headless, whose only reachable host is the loopback: every other name fails
    to resolve, and every proxied request goes to a closed port."""
    return subprocess.Popen(
        [
            binary,
            "--headless=new",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--window-size=1280,800",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextlib.asynccontextmanager
async def browser() -> AsyncIterator[DevTools]:
    """A page of a fresh headless Chromium (see `_launch`), closed afterwards."""
    profile = tempfile.mkdtemp(prefix="lapor-chromium-")
    process = _launch(_chromium(), profile)
    try:
        active = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not active.exists() or len(active.read_text().splitlines()) < 2:
            assert process.poll() is None, "Chromium exited while starting"
            assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
            await asyncio.sleep(0.1)
        port = active.read_text().splitlines()[0]
        async with httpx.AsyncClient() as http:
            targets = (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
        page = next(t for t in targets if t["type"] == "page")
        async with connect(page["webSocketDebuggerUrl"], max_size=None) as socket:
            tools = DevTools(socket)
            for domain in ("Page", "Runtime", "Network"):
                await tools.call(f"{domain}.enable")
            await tools.call(
                "Emulation.setDeviceMetricsOverride",
                width=1280,
                height=800,
                deviceScaleFactor=1,
                mobile=False,
            )
            yield tools
    finally:
        stop(process)
        shutil.rmtree(profile, ignore_errors=True)


async def _run_in_console(page: DevTools, operation: str) -> None:
    await page.evaluate(
        "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"
        f".setValue({json.dumps(operation)})"
    )
    # GraphiQL learns the operation's name from the editor a moment after it changes.
    await asyncio.sleep(1)
    await page.evaluate("document.querySelector('.graphiql-execute-button').click()")


RESPONSE = "document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue()"


async def test_an_admin_signs_in_and_runs_a_query_in_the_offline_console(
    api: str, tmp_path: Path
) -> None:
    async with browser() as page:
        outside = await page.evaluate(
            "fetch('https://unpkg.com/react@18.2.0/umd/react.production.min.js')"
            ".then(() => 'reached', () => 'blocked')"
        )
        assert outside == "blocked", "the browser can reach the internet: the test proves nothing"
        page.events.clear()  # from here on, every request the browser makes is the console's

        # Production: without the console cookie the page is the sign-in bar alone.
        await page.call("Page.navigate", url=f"{api}/graphql")
        await page.wait_for("document.getElementById('sign-in') !== null", "the sign-in bar")
        assert await page.evaluate("typeof GraphiQL") == "undefined"

        await page.evaluate(
            "(() => { const form = document.getElementById('sign-in');"
            " form.email.value = 'admin@lapor.demo'; form.password.value = 'lapor-demo';"
            " form.requestSubmit(); })()"
        )
        who = await page.wait_for(
            "typeof GraphiQL !== 'undefined' && document.querySelector('.graphiql-query-editor')"
            " && document.getElementById('signed-in-as').textContent",
            "the console after signing in",
        )
        assert "SUPERADMIN" in who

        await _run_in_console(page, QUERY)
        shown = await page.wait_for(
            f"(({RESPONSE}) || '').includes('admin@lapor.demo') && {RESPONSE}", "the result"
        )
        result = json.loads(shown)
        assert result["data"]["me"]["roles"] == ["SUPERADMIN"]
        assert {"code": "35.09", "name": "Kabupaten Jember", "timezone": "Asia/Jakarta"} in (
            result["data"]["regions"]
        )

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = await page.call("Page.captureScreenshot", format="png")
        png = base64.b64decode(shot["data"])
        assert png.startswith(b"\x89PNG") and len(png) > 20_000
        (ARTIFACTS / "console.png").write_bytes(png)

        # Subscriptions go over the same address; the token rides in connection_init.
        token = json.loads(await page.evaluate("sessionStorage.getItem('lapor.console.session')"))[
            "token"
        ]
        await _run_in_console(page, SUBSCRIPTION)
        init = await _connection_init(page)
        assert init == {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        # The service signs the socket in and takes the subscription (no error comes back).
        received = await _frames_received(page, "connection_ack")
        assert not [f for f in received if f.get("type") == "error"], received

        loaded = [r["request"]["url"] for r in page.seen("Network.requestWillBeSent")]
        assert any(url.endswith("/console/assets/graphiql/graphiql.min.js") for url in loaded)
        strangers = [u for u in loaded if not u.startswith((api, "data:", "about:"))]
        assert strangers == [], "the console asked the outside world for files"

    lines = access_lines(tmp_path / "api.log", lambda lines: any(_ran_me(lines)))
    ran = list(_ran_me(lines))
    assert ran and ran[0]["status"] == 200 and ran[0]["path"] == "/graphql"
    assert len(ran[0]["request_id"]) == 32 and ran[0]["logger"] == "lapor.access"


def _ran_me(lines: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (line for line in lines if line.get("operation") == "Me")


async def _frames_received(page: DevTools, wanted: str) -> list[dict[str, Any]]:
    """The WebSocket messages the page has received, once one of type `wanted` is among them."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        frames = [
            json.loads(f["response"]["payloadData"])
            for f in page.seen("Network.webSocketFrameReceived")
        ]
        if any(f.get("type") == wanted for f in frames):
            await asyncio.sleep(0.5)  # room for an error to follow, were the subscription refused
            return [
                json.loads(f["response"]["payloadData"])
                for f in page.seen("Network.webSocketFrameReceived")
            ]
        await page.evaluate("1")
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {wanted} received")


async def _connection_init(page: DevTools) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for frame in page.seen("Network.webSocketFrameSent"):
            message = json.loads(frame["response"]["payloadData"])
            if message.get("type") == "connection_init":
                return message  # type: ignore[no-any-return]
        await page.evaluate("1")  # let the socket deliver events
        await asyncio.sleep(0.2)
    methods = sorted({e.get("method", "") for e in page.events})
    shown = await page.evaluate(RESPONSE)
    raise AssertionError(f"no connection_init was sent; events {methods}; response {shown}")
