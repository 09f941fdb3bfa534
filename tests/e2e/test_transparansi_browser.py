"""The page /transparansi in a real headless Chromium that can reach nothing but the service
(tests/e2e/test_console_browser.py launches it): the page renders its charts from the service
alone, asks no one else for anything, and a screenshot is kept (var/test-artifacts, and the
README's picture, docs/transparansi.png)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.services import assignments, reports, transparency
from models import Assignment
from models.enums import ResolutionCode, ResolutionTier
from tests.app_fixtures import DEMO_VIEWERS
from tests.e2e.processes import lapor_api
from tests.e2e.test_console_browser import ARTIFACTS, browser
from tests.factories import actor_for, demo_agency, submit_complaint
from tests.harness import RedisServer

SECRET = "transparansi-browser-test-secret-" * 2


@pytest.fixture
def api(db: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[str]:
    """`lapor api` in production mode."""
    env = {
        "LAPOR_ENV": "production",
        "LAPOR_SECRET_KEY": SECRET,
        "LAPOR_DATABASE_URL": db,
        "LAPOR_REDIS_URL": redis_server.url,
        "LAPOR_TRANSPARENCY_MIN_SAMPLE": "4",
    }
    with lapor_api(env, tmp_path / "api.log") as base:
        yield base


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def _month_of_work() -> None:
    """March 2031 in Jember: Dinkes answers most reports within days, DPUPR returns some and
    leaves others, the Puskesmas gets two (a small cell)."""
    coordinator = await actor_for(DEMO_VIEWERS["coordinator"])
    dinkes = await actor_for(DEMO_VIEWERS["officer"])
    pupr = await actor_for(DEMO_VIEWERS["dpupr"])
    citizen = await actor_for(DEMO_VIEWERS["reporter"])
    plan = [("DINKES", dinkes, "answer")] * 6 + [("DPUPR", pupr, "return")] * 3
    plan += [("DPUPR", pupr, "leave")] * 2 + [("PKM-SUMBERSARI", None, "leave")] * 2
    for i, (code, desk, what) in enumerate(plan):
        day = 3 + i % 18
        r = (await submit_complaint(utc(2031, 3, day, 2), confidential=i % 4 == 0)).report
        agency = await demo_agency(code)
        await reports.verify(coordinator, utc(2031, 3, day, 3), r.id, [agency.id], None, None)
        a = await Assignment.get(report_id=r.id)
        if what == "answer" and desk is not None:
            await assignments.accept(desk, utc(2031, 3, day, 4), a.id, ResolutionTier.SIMPLE)
            await assignments.follow_up(
                desk,
                utc(2031, 3, day + 1 + i % 3, 4),
                a.id,
                "Selesai",
                True,
                ResolutionCode.RESOLVED,
            )
            await reports.rate(citizen, utc(2031, 3, day + 5, 4), r.id, 3 + i % 3, None)
        elif what == "return" and desk is not None:
            await assignments.return_(desk, utc(2031, 3, day + 2, 4), a.id, "Bukan kami", None)
    await transparency.catch_up(utc(2031, 4, 1))


async def test_the_page_draws_its_charts_offline(api: str) -> None:
    await _month_of_work()
    async with browser() as page:
        page.events.clear()
        await page.call("Page.navigate", url=f"{api}/transparansi?periode=2031-03")
        # Ten indicators, for the regions and for Jember's agencies; the page draws them one
        # after the other, so wait for them all (a loaded machine caught it half-way).
        count = "document.querySelectorAll('figure svg').length"
        charts = await page.wait_for(f"{count} >= 20 && {count}", "the charts")
        assert charts >= 20
        bars = await page.evaluate("document.querySelectorAll('svg rect.bar').length")
        assert bars > 10
        text = await page.evaluate("document.body.innerText")
        assert "Kinerja instansi: Kabupaten Jember" in text and "Dinas Kesehatan" in text
        assert "belum dapat diperingkat" in text and "dirahasiakan" in text
        await page.evaluate("window.scrollTo(0, 0)")
        shot = await page.call("Page.captureScreenshot", format="png")
        png = base64.b64decode(shot["data"])
        assert png.startswith(b"\x89PNG") and len(png) > 20_000
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "transparansi.png").write_bytes(png)

        loaded = [r["request"]["url"] for r in page.seen("Network.requestWillBeSent")]
        strangers = [u for u in loaded if not u.startswith((api, "data:", "about:"))]
        assert strangers == [], "the page asked the outside world for something"
