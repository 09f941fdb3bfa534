"""The file use cases on PostgreSQL (domain/services/attachments.py): bytes are kept only
with the change that brought them, shared bytes survive another change's failure, the
report's count limit, thumbnails made once whoever runs first, a cleaning process killed
mid-clean, and the janitor that deletes bytes no row refers to (and waits for a change storing
them)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from core.settings import get_settings
from domain.errors import DomainError, ErrorCode
from domain.services import attachments, reports
from models import Attachment
from models.enums import AttachmentSource
from models.storage import DirectoryStore, content_key
from tests.factories import actor_for, new_complaint, submit_complaint, utc
from tests.files import authored_pdf, image_size, leaked, phone_jpeg
from workers import jobs

NOW = utc(2026, 3, 2, 9)


def _upload(data: bytes, index: int = 0) -> attachments.Upload:
    return attachments.Upload(data, len(data), ["attachments", str(index)])


async def _stored(key: str) -> bool:
    return await attachments.store().exists(key)


async def test_bytes_stored_by_a_change_that_fails_are_removed(db: str) -> None:
    report = await new_complaint(NOW)
    (clean,) = await attachments.cleaned([_upload(phone_jpeg((60, 30)))], "attachments")
    key = content_key(clean.data)

    with pytest.raises(RuntimeError, match="after the store"):
        async with attachments.kept_if_committed() as stored, in_transaction():
            await attachments.attach(
                report, [clean], uploader_id=None, source=AttachmentSource.REPORTER,
                now=NOW, stored=stored,
            )  # fmt: skip
            assert await _stored(key)
            raise RuntimeError("the change failed after the store")

    assert not await _stored(key)
    assert await Attachment.filter(report_id=report.id).count() == 0


async def test_bytes_another_report_holds_survive_a_failed_change(db: str) -> None:
    data = phone_jpeg((60, 30))
    kept = await submit_complaint(NOW, attachments=[_upload(data)])
    (row,) = await Attachment.filter(report_id=kept.report.id)
    other = await new_complaint(NOW)
    (clean,) = await attachments.cleaned([_upload(data)], "attachments")
    assert content_key(clean.data) == row.blob_key  # the same bytes, stored once

    with pytest.raises(RuntimeError):
        async with attachments.kept_if_committed() as stored, in_transaction():
            await attachments.attach(
                other, [clean], uploader_id=None, source=AttachmentSource.REPORTER,
                now=NOW, stored=stored,
            )  # fmt: skip
            raise RuntimeError("the second change failed")

    assert await attachments.store().get(row.blob_key) == clean.data


async def test_a_report_holds_at_most_its_number_of_files(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "upload_max_report_files", 2)
    outcome = await submit_complaint(NOW, attachments=[_upload(phone_jpeg((60, 30)))])
    reporter = await actor_for("warga@jember.demo")

    with pytest.raises(DomainError) as refused:
        await reports.add_info(
            reporter, NOW, outcome.report.id, "dua foto lagi",
            [_upload(phone_jpeg((50, 30)), 0), _upload(phone_jpeg((40, 30)), 1)],
        )  # fmt: skip
    assert (refused.value.code, refused.value.field) == (ErrorCode.TOO_MANY_FILES, ["attachments"])
    assert await Attachment.filter(report_id=outcome.report.id).count() == 1


async def test_a_thumbnail_is_made_once_whoever_runs_first(db: str) -> None:
    outcome = await submit_complaint(NOW, attachments=[_upload(phone_jpeg((900, 500)))])
    (aid,) = outcome.images
    assert await attachments.missing_thumbnails(10) == [aid]

    made = await asyncio.gather(*(attachments.make_thumbnail(aid) for _ in range(3)))

    assert sorted(made) == [False, False, True]
    row = await Attachment.get(id=aid)
    assert row.thumbnail_key is not None
    thumb = await attachments.store().get(row.thumbnail_key)
    assert leaked(thumb) == [] and max(image_size(thumb)) == 320
    assert await attachments.make_thumbnail(aid) is False
    assert await attachments.missing_thumbnails(10) == []


async def test_a_document_has_no_thumbnail(db: str) -> None:
    outcome = await submit_complaint(NOW, attachments=[_upload(authored_pdf())])
    assert outcome.images == []
    (row,) = await Attachment.filter(report_id=outcome.report.id)
    assert await attachments.make_thumbnail(row.id) is False
    assert await attachments.missing_thumbnails(10) == []


def _cpu_ticks(pid: int) -> int:
    """The user and system CPU time of a process so far, in clock ticks (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


async def test_a_killed_cleaning_process_refuses_its_file_and_the_next_is_cleaned() -> None:
    """A child killed while it cleans (the OOM killer, a decoder crashing on hostile bytes):
    that file is refused as unreadable, and a new pool cleans the next upload."""
    await attachments.cleaned([_upload(phone_jpeg())], "attachments")
    pool = attachments._pool
    assert pool is not None
    children = [p.pid for p in pool._processes.values() if p.pid is not None]
    assert children
    before = {pid: _cpu_ticks(pid) for pid in children}
    # 25 megapixels, no JPEG draft below 5120 px: hundreds of ms of decoding and resizing.
    cleaning = asyncio.create_task(
        attachments.cleaned([_upload(phone_jpeg((5000, 5000)), 1)], "attachments")
    )
    for _ in range(2000):  # 10 s at most
        if any(_cpu_ticks(pid) - before[pid] >= 3 for pid in children):
            break  # 30 ms into the photo
        await asyncio.sleep(0.005)
    else:
        pytest.fail("the child never started on the photo")
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(DomainError) as refused:
        await cleaning
    assert refused.value.code is ErrorCode.UNREADABLE_FILE
    assert refused.value.field == ["attachments", "1"]
    (clean,) = await attachments.cleaned([_upload(phone_jpeg())], "attachments")
    assert clean.content_type == "image/jpeg"
    assert attachments._pool is not pool


async def test_a_refusal_in_the_cleaning_process_is_raised_here() -> None:
    with pytest.raises(DomainError) as refused:
        await attachments.cleaned([_upload(b"GIF89a not accepted", 2)], "attachments")
    assert refused.value.code is ErrorCode.UNSUPPORTED_FILE
    assert refused.value.field == ["attachments", "2"]


async def test_a_burst_beyond_a_pools_files_is_all_cleaned_by_a_new_pool() -> None:
    """The pool is replaced after _FILES_PER_POOL files, once idle: a burst queued across that
    count is all answered (the executor's max_tasks_per_child would hang here on 3.11)."""
    await attachments.cleaned([_upload(phone_jpeg())], "attachments")
    first = attachments._pool
    burst = 2 * attachments._FILES_PER_POOL
    cleaned = await asyncio.wait_for(
        asyncio.gather(
            *(attachments.cleaned([_upload(phone_jpeg((80 + i, 40)))], "b") for i in range(burst))
        ),
        timeout=60,
    )
    assert [clean.width for (clean,) in cleaned] == [40] * burst
    await attachments.cleaned([_upload(phone_jpeg())], "attachments")
    assert attachments._pool is not first


# ------------------------------------------------------------------ the janitor

GRACE = timedelta(hours=1)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DirectoryStore]:
    """A file store of the test's own: the janitor lists every file, and the session's store
    holds other tests' files, which the truncated tables no longer name."""
    own = DirectoryStore(tmp_path / "files")
    monkeypatch.setattr(attachments, "store", lambda: own)
    yield own


def _age(files: DirectoryStore, *keys: str) -> None:
    """Make the files look written two hours ago (beyond the grace)."""
    long_ago = time.time() - 2 * 3600
    for key in keys:
        os.utime(files.path_of(key), (long_ago, long_ago))


async def _forget_orphans(batch: int = 10) -> int:
    return await attachments.forget_orphans(datetime.now(UTC), GRACE, batch)


async def test_the_janitor_deletes_old_bytes_no_row_refers_to_and_keeps_young_ones(
    db: str, files: DirectoryStore
) -> None:
    old = await files.put(b"bytes of a change killed before its commit", "application/pdf")
    young = await files.put(b"bytes of a change that may still commit", "application/pdf")
    _age(files, old)

    assert await _forget_orphans() == 1
    assert not await files.exists(old)
    assert await files.exists(young)
    assert await _forget_orphans() == 0


async def test_the_janitor_keeps_originals_and_thumbnails_rows_refer_to(
    db: str, files: DirectoryStore
) -> None:
    outcome = await submit_complaint(NOW, attachments=[_upload(phone_jpeg((900, 500)))])
    (aid,) = outcome.images
    assert await attachments.make_thumbnail(aid)
    row = await Attachment.get(id=aid)
    assert row.thumbnail_key is not None
    orphan = await files.put(b"bytes of a change killed before its commit", "application/pdf")
    _age(files, row.blob_key, row.thumbnail_key, orphan)

    assert await _forget_orphans(batch=1) == 1
    assert await files.exists(row.blob_key) and await files.exists(row.thumbnail_key)
    assert not await files.exists(orphan)


async def _until_a_session_waits_for_an_advisory_lock() -> None:
    for _ in range(1000):  # 10 s at most
        db = connections.get("default")
        # pg_stat_activity is read once per transaction unless its snapshot is cleared.
        await db.execute_query("SELECT pg_stat_clear_snapshot()")
        _, rows = await db.execute_query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
        )
        if rows[0]["n"]:
            return
        await asyncio.sleep(0.01)
    pytest.fail("the janitor never waited for the key's lock")


async def test_the_janitor_waits_for_a_change_storing_the_same_bytes_and_keeps_them(
    db: str, files: DirectoryStore
) -> None:
    """Bytes stored long ago (a change killed before its commit), stored again by a change in
    flight: the put writes nothing, so the file looks old to the janitor, which must wait for
    the change's lock on the key and then see its row."""
    report = await new_complaint(NOW)
    (clean,) = await attachments.cleaned([_upload(phone_jpeg((60, 30)))], "attachments")
    key = await files.put(clean.data, clean.content_type)
    _age(files, key)
    go = asyncio.Event()

    async def janitor() -> int:
        await go.wait()
        return await _forget_orphans()

    # Made before the transaction: the janitor's task does not inherit it, and has a connection
    # of its own.
    running = asyncio.create_task(janitor())
    try:
        async with attachments.kept_if_committed() as stored, in_transaction():
            (row,) = await attachments.attach(
                report, [clean], uploader_id=None, source=AttachmentSource.REPORTER,
                now=NOW, stored=stored,
            )  # fmt: skip
            assert files.path_of(key).stat().st_mtime < time.time() - GRACE.total_seconds()
            go.set()
            await _until_a_session_waits_for_an_advisory_lock()
            assert not running.done()
        assert await asyncio.wait_for(running, 10) == 0
    finally:
        running.cancel()

    assert row.blob_key == key and await files.get(key) == clean.data


async def test_the_hourly_job_forgets_what_is_older_than_the_setting(
    db: str, files: DirectoryStore
) -> None:
    orphan = await files.put(b"bytes of a change killed before its commit", "application/pdf")
    _age(files, orphan)
    assert get_settings().files_orphan_grace_seconds < 2 * 3600
    assert await jobs.forget_orphan_files({}) == 1
    assert not await files.exists(orphan)
