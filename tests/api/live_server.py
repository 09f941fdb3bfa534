"""Live subscriptions in one process, for test_live_delivery.py and test_live_connections.py:
a real uvicorn server in the test's event loop (`serving`; the `live` fixture of
tests/api/conftest.py), real WebSockets, PostgreSQL and Redis. Here the hub's counts and the
process's tasks can be read directly; tests/e2e/test_live_stack.py runs the same over several
`lapor api` processes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from api.live import LiveHub
from core.settings import Settings, get_settings
from tests.app_fixtures import GQL, People
from tests.factories import submit, verify
from tests.harness import free_port
from tests.live_client import LiveClient

INBOX = """subscription($a: ID!) { inboxEvents(agencyId: $a) {
  kind at assignment { id status report { id status title anonymous reporter { name email }
  address latitude longitude } } } }"""
TIMELINE = "subscription($r: ID!) { reportEvents(reportId: $r) { id kind message actor { name } } }"
# Where every report of these tests is: an anonymous one's place must reach no inbox.
MAWAR = {"address": "Jl. Mawar 7", "latitude": -8.17, "longitude": 113.7}


@dataclass
class Live:
    """A running API process in this event loop."""

    url: str
    hub: LiveHub
    http: httpx.AsyncClient
    settings: Settings

    def as_(self, person: GQL) -> GQL:
        """The same person, talking HTTP to this server (its dispatcher publishes to Redis)."""
        return GQL(self.http, person.token)

    async def connect(self, person: GQL, **options: Any) -> LiveClient:
        client = LiveClient(self.url, **options)
        await client.open({"Authorization": f"Bearer {person.token}"})
        return client


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Live]:
    """uvicorn on a free port in this loop, the lifespan off: the ORM is the tests' already."""
    app = create_app(settings)
    hub: LiveHub = app.state.live_hub
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    await hub.start()
    try:
        while not server.started:
            assert not task.done(), task
            await asyncio.sleep(0.02)
        assert await hub.wait_connected(10), "the hub never subscribed to Redis"
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lapor.test") as http:
            yield Live(f"ws://127.0.0.1:{port}/graphql", hub, http, settings)
    finally:
        server.should_exit = True
        await task
        await hub.close()


def live_settings(redis_url: str, **overrides: Any) -> Settings:
    return get_settings().model_copy(update={"redis_url": redis_url, **overrides})


async def submitted(live: Live, people: People, *, anonymous: bool = False) -> str:
    """A report of the demo citizen in Jember, through this server: its global id."""
    report = await submit(live.as_(people["reporter"]), anonymous=anonymous, **MAWAR)
    return str(report["id"])


async def verified(live: Live, people: People, report: str, *codes: str) -> list[str]:
    """The report forwarded to `codes` by the Jember coordinator, through this server."""
    return await verify(live.as_(people["coordinator"]), report, *codes)


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait for a condition of this process, with a deadline."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
