"""bench/uploads.py times the body it builds: that body, sent as it is, must be a stored report
with the photo, cleaned (so the bench times the whole path, not a refusal)."""

from __future__ import annotations

import orjson

from bench import media, uploads
from bench.submit import check_submit
from models import Attachment
from tests.app_fixtures import JEMBER, People, region_gid


async def test_the_bench_s_multipart_body_stores_a_report_with_its_cleaned_photo(
    people: People,
) -> None:
    reporter = people["reporter"]
    body, content_type = uploads.multipart(await region_gid(JEMBER), media.phone_photo())
    response = await reporter.client.post(
        "/graphql",
        content=body,
        headers={"Content-Type": content_type, "Authorization": f"Bearer {reporter.token}"},
    )
    assert check_submit(response.status_code, response.content) is None, response.text
    report = orjson.loads(response.content)["data"]["reportSubmit"]["report"]
    stored = await Attachment.filter(report__tracking_code=report["trackingCode"]).values_list(
        "width", "height"
    )
    assert stored == [(1500, 2000)]  # upright (EXIF orientation 6) and bounded to 2000 px
