"""The file use cases on PostgreSQL (domain/services/attachments.py): bytes are kept only
with the change that brought them, shared bytes survive another change's failure, the
report's count limit, and thumbnails made once whoever runs first."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.transactions import in_transaction

from core.settings import get_settings
from domain.errors import DomainError, ErrorCode
from domain.services import attachments, reports
from models import Attachment
from models.enums import AttachmentSource
from models.storage import content_key
from tests.factories import actor_for, new_complaint, submit_complaint, utc
from tests.files import authored_pdf, image_size, leaked, phone_jpeg

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
