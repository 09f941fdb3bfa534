"""Files on reports (issue 14, docs/adr/0029): cleaning what was uploaded, keeping it with the
change that brought it, showing it to whom the policy lets see it, thumbnails, hiding.

- A file is cleaned (domain/media.py: decided by its bytes, re-encoded without metadata)
  before anything is stored; a refused file stores nothing.
- The cleaned bytes go to the file store (models/storage.py) under their SHA-256 inside the
  transaction of the change they came with; if that transaction does not commit, the bytes
  that no row refers to are deleted again (`kept_if_committed`). A transaction-scoped advisory
  lock on the key orders a store and a removal of the same bytes (two reports can share them).
- Per report, at most `upload_max_report_files` files and `upload_max_report_bytes` bytes
  (counted after cleaning), checked with the report locked: two uploads racing on one report
  cannot both pass.
- Bytes a killed process stored without its commit ("orphans") are collected hourly by a worker
  (`forget_orphans`): each is deleted under the same key lock, and only if no row refers to it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import os
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from tortoise import connections
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from core.children import exit_with_parent
from core.settings import get_settings
from domain import media
from domain.actor import PUBLIC, Actor
from domain.errors import DomainError, ErrorCode, not_found
from domain.events import EventKind
from domain.file_links import FileGrant, Variant, file_link, link_key
from domain.ids import parse_id
from domain.policy import (
    Action,
    AttachmentFacts,
    FileAccess,
    ReportFacts,
    attachment_access,
)
from domain.services.accounts import actor_for_user
from domain.services.common import (
    Outcome,
    lock_report_for,
    record_event,
    report_rows,
    require_aware,
    required_text,
)
from models import Attachment, Report
from models.enums import AttachmentSource
from models.storage import FileStore, content_key, file_store

log = logging.getLogger("lapor.attachments")


@dataclass(frozen=True)
class Upload:
    """A file as a client sent it (read to at most one byte over the size limit), its size as
    sent, and the input it came in, to name in a refusal."""

    data: bytes
    size: int
    field: list[str]


@dataclass(frozen=True, slots=True)
class AttachmentView:
    """A file as one viewer may see it (the policy let them)."""

    id: int
    report_id: int
    follow_up_id: int | None
    source: AttachmentSource
    content_type: str
    byte_size: int
    width: int | None
    height: int | None
    created_at: datetime
    has_thumbnail: bool
    # Hidden files reach only the report's desks and their uploader, with the desk's reason.
    hidden: bool
    hidden_reason: str | None
    # The viewer sees it because it is public: its links are checked again when served.
    public: bool


@cache
def store() -> FileStore:
    """The process's file store, as the settings choose it."""
    return file_store(get_settings())


async def close() -> None:
    """Release the process's file store and cleaning processes (at API and worker shutdown);
    files queued for cleaning are cancelled, one being cleaned is finished."""
    if store.cache_info().currsize:
        await store().close()
        store.cache_clear()
    global _pool
    pool, _pool = _pool, None
    if pool is not None:
        # shutdown(wait=True) waits for a clean under way (about a second at most): in a thread,
        # so that the event loop goes on with what else is stopping.
        await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


# Cleaning is CPU work in child processes, not threads: Pillow holds the GIL for parts of it
# (the optimised JPEG encoding, allocations, the resize), which in a thread held up the event
# loop's other requests (bench/uploads.py: a small query's p99 x5 while 8 clients upload). At
# most cpu_count-1 children, so that uploads leave a core to the event loop. "spawn": never
# fork a process that has threads and an event loop. The children see no context variables
# (the request id): what is logged, the parent logs.
_WORKERS = max(1, (os.cpu_count() or 2) - 1)
# A child is reused for the next files: its memory is bounded by the files it cleans (about
# 100 MB for a 12-megapixel photo) but its allocator keeps the high-water. So after this many
# files the pool is replaced, at the first moment it has no file in hand. Not the executor's
# max_tasks_per_child: up to Python 3.13 it deadlocks once a child retires with files queued
# (python/cpython#115634; reproduced on 3.11.7 with spawn), which a burst of uploads does.
_FILES_PER_POOL = 50
_pool: ProcessPoolExecutor | None = None
_given = 0  # files given to _pool
_in_hand = 0  # files given to _pool and not answered yet


def _pool_for_next_file() -> ProcessPoolExecutor:
    """The process's cleaning pool, made on first use (its children start as work comes), and
    made anew when the current one has cleaned _FILES_PER_POOL files and is idle."""
    global _pool, _given
    if _pool is not None and _given >= _FILES_PER_POOL and _in_hand == 0:
        # Nothing queued on it: its children exit now, in their own time.
        _pool.shutdown(wait=False)
        _pool = None
    if _pool is None:
        _pool = ProcessPoolExecutor(
            max_workers=_WORKERS,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=exit_with_parent,
            initargs=(os.getpid(),),
        )
        _given = 0
    _given += 1
    return _pool


def _log_failed_warm_up(done: Future[str | None]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.warning("the cleaning process did not start", exc_info=done.exception())


def warm_up() -> None:
    """Start a cleaning process now (at API and worker start-up), so that the first upload does
    not wait for one to import Pillow (0.3-1 s); returns at once."""
    # Unpickling media.sniff imports domain.media in the child: Pillow and its plugins.
    _pool_for_next_file().submit(media.sniff, b"").add_done_callback(_log_failed_warm_up)


async def _in_process(
    field: list[str] | None, work: Callable[..., media.CleanFile], *args: object
) -> media.CleanFile:
    """`work(*args)` in a cleaning process: its file, or its DomainError raised here. A child
    that dies (the OOM killer, a decoder crashing on hostile bytes) refuses the file as
    UNREADABLE_FILE naming `field`, and the pool is replaced for the files after it."""
    global _in_hand
    pool = _pool_for_next_file()
    call = functools.partial(media.returning_refusal, work, *args)
    _in_hand += 1
    try:
        outcome = await asyncio.get_running_loop().run_in_executor(pool, call)
    except BrokenProcessPool:
        _replace(pool)
        log.warning("a cleaning process died: its file is refused as unreadable")
        raise DomainError(
            ErrorCode.UNREADABLE_FILE,
            "The file could not be read: it may be damaged. Try sending it again.",
            field,
        ) from None
    finally:
        _in_hand -= 1
    if isinstance(outcome, tuple):
        code, message, refused = outcome
        raise DomainError(code, message, refused)
    return outcome


def _replace(broken: ProcessPoolExecutor) -> None:
    """Drop a broken pool, once for all the files it failed: the next file makes a new one."""
    global _pool
    if _pool is broken:
        _pool = None
    # A broken pool's children are gone or going: nothing to wait for.
    broken.shutdown(wait=False, cancel_futures=True)


async def cleaned(files: Sequence[Upload], field: str) -> list[media.CleanFile]:
    """The files cleaned, in order; refused (nothing kept) beyond `upload_max_files`, for a file
    over `upload_max_file_bytes`, empty, of a type not allowed, or that does not decode."""
    s = get_settings()
    if len(files) > s.upload_max_files:
        raise DomainError(
            ErrorCode.TOO_MANY_FILES, f"at most {s.upload_max_files} files at once", [field]
        )
    for f in files:
        media.check_byte_size(max(f.size, len(f.data)), s.upload_max_file_bytes, f.field)
        if not f.data:
            raise DomainError(ErrorCode.UNREADABLE_FILE, "the file is empty", f.field)
    limits = media_limits()
    return [await _in_process(f.field, media.clean, f.data, f.field, limits) for f in files]


def media_limits() -> media.MediaLimits:
    """How images are bounded, from the settings."""
    s = get_settings()
    return media.MediaLimits(max_side=s.upload_image_max_side, thumbnail_side=s.thumbnail_side)


async def _lock_key(key: str) -> None:
    """Order the storing and the removal of the same bytes until the transaction ends."""
    await connections.get("default").execute_query(
        "SELECT pg_advisory_xact_lock($1::bigint)", [int(key[:15], 16)]
    )


@asynccontextmanager
async def kept_if_committed() -> AsyncIterator[list[str]]:
    """Around a transaction that stores files: yields the list `attach` records the stored keys
    in; if the block fails, the bytes no row refers to are deleted again."""
    stored: list[str] = []
    try:
        yield stored
    except BaseException:
        await asyncio.shield(_forget_unreferenced(stored))
        raise


async def _forget_unreferenced(keys: Sequence[str]) -> int:
    """Delete the bytes of each key no row refers to; how many were deleted. Each is decided in
    a transaction of its own under the key's lock: a change storing the same bytes holds it from
    its put to its commit, so this waits for that change and then sees its row."""
    deleted = 0
    for key in dict.fromkeys(keys):
        async with in_transaction():
            await _lock_key(key)
            if not await Attachment.filter(Q(blob_key=key) | Q(thumbnail_key=key)).exists():
                await store().delete(key)
                deleted += 1
    return deleted


async def _referenced(keys: Sequence[str]) -> set[str]:
    """Those of the keys some row refers to now (read without the locks: only a hint)."""
    rows = await Attachment.filter(Q(blob_key__in=keys) | Q(thumbnail_key__in=keys)).values_list(
        "blob_key", "thumbnail_key"
    )
    return {key for row in rows for key in row if key is not None}


async def forget_orphans(now: datetime, grace: timedelta, batch: int) -> int:
    """Delete the stored bytes no row refers to that were written before `now - grace`; how
    many were deleted. Safe beside changes storing the same bytes (see _forget_unreferenced)."""
    require_aware(now)
    deleted = 0
    candidates: list[str] = []
    # A put of bytes already stored does not write them again: an old file can be in a change
    # in flight, which is why the lock and the check decide, not the age.
    async for key in store().stored_before(now - grace):
        candidates.append(key)
        if len(candidates) >= batch:
            deleted += await _forget_unlisted(candidates)
            candidates = []
    if candidates:
        deleted += await _forget_unlisted(candidates)
    return deleted


async def _forget_unlisted(keys: Sequence[str]) -> int:
    # One query leaves out the keys rows refer to (nearly all): only the rest take the lock.
    held = await _referenced(keys)
    return await _forget_unreferenced([key for key in keys if key not in held])


async def _put(data: bytes, content_type: str, stored: list[str]) -> str:
    """Store bytes within the caller's transaction, under the lock of their key."""
    key = content_key(data)
    await _lock_key(key)
    await store().put(data, content_type)
    stored.append(key)
    return key


async def attach(
    report: Report,
    files: Sequence[media.CleanFile],
    *,
    uploader_id: int | None,
    source: AttachmentSource,
    now: datetime,
    stored: list[str],
    follow_up_id: int | None = None,
    field: str = "attachments",
) -> list[Attachment]:
    """Store `files` on `report`, which the caller's transaction has locked; refused beyond the
    report's limits. `stored` (from `kept_if_committed`) learns each key stored."""
    if not files:
        return []
    s = get_settings()
    count, size = (
        await connections.get("default").execute_query(
            "SELECT count(*), coalesce(sum(byte_size), 0) FROM attachment WHERE report_id = $1",
            [report.id],
        )
    )[1][0]
    if count + len(files) > s.upload_max_report_files:
        raise DomainError(
            ErrorCode.TOO_MANY_FILES,
            f"a report may have at most {s.upload_max_report_files} files ({count} already)",
            [field],
        )
    if size + sum(len(f.data) for f in files) > s.upload_max_report_bytes:
        limit = s.upload_max_report_bytes / 1024 / 1024
        raise DomainError(
            ErrorCode.FILE_TOO_LARGE, f"a report's files may take at most {limit:g} MiB", [field]
        )
    made: list[Attachment] = []
    for f in files:
        key = await _put(f.data, f.content_type, stored)
        made.append(
            await Attachment.create(
                report_id=report.id,
                follow_up_id=follow_up_id,
                uploader_id=uploader_id,
                source=source,
                blob_key=key,
                content_type=f.content_type,
                byte_size=len(f.data),
                width=f.width,
                height=f.height,
                created_at=now,
            )
        )
    return made


def images_of(made: Sequence[Attachment]) -> list[int]:
    """The ids of the images among files just stored: their thumbnails are to be made."""
    return [row.id for row in made if media.is_image(row.content_type)]


def _visible(actor: Actor, row: Attachment, facts: ReportFacts) -> AttachmentView | None:
    hidden = row.hidden_at is not None
    access = attachment_access(actor, facts, AttachmentFacts(row.uploader_id, hidden))
    if access is None:
        return None
    return AttachmentView(
        id=row.id,
        report_id=row.report_id,
        follow_up_id=row.follow_up_id,
        source=row.source,
        content_type=row.content_type,
        byte_size=row.byte_size,
        width=row.width,
        height=row.height,
        created_at=row.created_at,
        has_thumbnail=row.thumbnail_key is not None,
        hidden=hidden,
        hidden_reason=row.hidden_reason if hidden else None,
        public=access is FileAccess.PUBLIC,
    )


async def _views_of(actor: Actor, found: Sequence[Attachment]) -> list[AttachmentView | None]:
    report_ids = sorted({row.report_id for row in found})
    _, facts = await report_rows(report_ids) if report_ids else ([], {})
    return [_visible(actor, row, facts[row.report_id]) for row in found]


async def of_reports(actor: Actor, report_ids: Sequence[int]) -> list[list[AttachmentView]]:
    """The files of each report that `actor` may see, oldest first (the caller gives reports
    the actor reads; the policy decides each file)."""
    found = await Attachment.filter(report_id__in=list(set(report_ids))).order_by("id")
    return await _grouped(actor, found, report_ids, lambda view: view.report_id)


async def of_follow_ups(actor: Actor, follow_up_ids: Sequence[int]) -> list[list[AttachmentView]]:
    """The evidence of each follow-up that `actor` may see, oldest first."""
    found = await Attachment.filter(follow_up_id__in=list(set(follow_up_ids))).order_by("id")
    return await _grouped(actor, found, follow_up_ids, lambda view: view.follow_up_id)


async def _grouped(
    actor: Actor,
    found: Sequence[Attachment],
    keys: Sequence[int],
    key_of: Callable[[AttachmentView], int | None],
) -> list[list[AttachmentView]]:
    """The files of `found` that `actor` may see, grouped in the order of `keys`."""
    grouped: dict[int | None, list[AttachmentView]] = defaultdict(list)
    for view in await _views_of(actor, found):
        if view is not None:
            grouped[key_of(view)].append(view)
    return [grouped[k] for k in keys]


async def attachment_by_id(actor: Actor, attachment_id: int) -> AttachmentView | None:
    """One file if `actor` may see it; None when it is absent or not theirs to see alike."""
    row = await Attachment.get_or_none(id=attachment_id)
    if row is None:
        return None
    return (await _views_of(actor, [row]))[0]


def link(
    view: AttachmentView, variant: Variant, now: datetime, viewer_id: int | None
) -> str | None:
    """A signed link to a file `viewer_id` (None: the public) was shown: for the public when
    the file is public to them, else for that viewer (None for a thumbnail not made yet)."""
    if variant is Variant.THUMBNAIL and not view.has_thumbnail:
        return None
    s = get_settings()
    expires = int(now.timestamp()) + s.file_link_ttl_seconds
    viewer = 0 if view.public else viewer_id or 0
    return file_link(
        link_key(s.secret_key), FileGrant(view.id, variant, expires, view.public, viewer)
    )


async def public_photo_links(report_ids: Sequence[int], now: datetime) -> dict[int, str]:
    """A public link (path and query) to the first photo the public may see of each report
    that has one (Open311's media_url)."""
    links = {}
    for report_id, views in zip(report_ids, await of_reports(PUBLIC, report_ids), strict=True):
        photo = next((v for v in views if media.is_image(v.content_type)), None)
        path = link(photo, Variant.ORIGINAL, now, None) if photo is not None else None
        if path is not None:
            links[report_id] = path
    return links


@dataclass(frozen=True)
class Served:
    """The bytes of a file, ready to send."""

    data: bytes
    content_type: str
    attachment_id: int
    variant: Variant


async def served(grant: FileGrant) -> Served | None:
    """The bytes a verified link grants, if the file may still be seen by whom the link was
    given to (the public, or its viewer): None when it is gone, hidden since, its report no
    longer readable, or its viewer's access withdrawn (a desk that returned the report)."""
    row = await Attachment.get_or_none(id=grant.attachment_id)
    if row is None:
        return None
    _, facts = await report_rows([row.report_id])
    viewer = PUBLIC if grant.public else await actor_for_user(grant.viewer)
    file = AttachmentFacts(row.uploader_id, row.hidden_at is not None)
    if attachment_access(viewer, facts[row.report_id], file) is None:
        return None
    if grant.variant is Variant.THUMBNAIL:
        if row.thumbnail_key is None:
            return None
        data = await store().get(row.thumbnail_key)
        # Thumbnails are JPEG or WebP (transparency) as media.thumbnail chose: their bytes say.
        return Served(data, media.sniff(data) or "application/octet-stream", row.id, grant.variant)
    return Served(await store().get(row.blob_key), row.content_type, row.id, grant.variant)


async def make_thumbnail(attachment_id: int) -> bool:
    """Make an image's thumbnail once (whoever runs first, of jobs and sweeps); False when there
    is nothing to do: not an image, done already, being made by another worker, or gone."""
    async with kept_if_committed() as stored, in_transaction():
        # (`content_type LIKE 'image/%'` is media.is_image, in SQL.)
        _, found = await connections.get("default").execute_query(
            "SELECT blob_key FROM attachment WHERE id = $1 AND thumbnail_key IS NULL"
            " AND content_type LIKE 'image/%' FOR UPDATE SKIP LOCKED",
            [attachment_id],
        )
        if not found:
            return False
        original = await store().get(found[0]["blob_key"])
        limits = media_limits()
        thumb = await _in_process(None, media.thumbnail, original, limits.thumbnail_side, limits)
        key = await _put(thumb.data, thumb.content_type, stored)
        await Attachment.filter(id=attachment_id).update(thumbnail_key=key)
    return True


async def missing_thumbnails(limit: int) -> list[int]:
    """Images still without a thumbnail, oldest first (a job that was lost, a worker killed)."""
    found = (
        await Attachment.filter(thumbnail_key=None, content_type__startswith="image/")
        .order_by("id")
        .limit(limit)
        .values_list("id", flat=True)
    )
    return [int(aid) for aid in found]  # type: ignore[call-overload]


@dataclass(frozen=True)
class Hidden:
    """A change of a file's visibility: the report's outcome and the file."""

    outcome: Outcome
    attachment_id: int


async def set_hidden(
    actor: Actor, now: datetime, attachment_id: int | str, hidden: bool, reason: str | None
) -> Hidden:
    """The report's coordinator hides a file from everyone but the desks and its uploader (with
    a reason, on the timeline), or shows it again."""
    require_aware(now)
    aid = parse_id(attachment_id, "attachmentId")
    text = (
        required_text(reason, "reason", max_length=get_settings().message_max_length)
        if hidden
        else None
    )
    row = await Attachment.get_or_none(id=aid)
    if row is None:
        raise not_found("attachment", "attachmentId")
    async with in_transaction():
        try:
            report = await lock_report_for(
                actor,
                row.report_id,
                Action.HIDE_ATTACHMENT,
                "only the report's coordinators do this",
            )
        except DomainError as refused:
            if refused.code is ErrorCode.NOT_FOUND:  # its report is not theirs to read
                raise not_found("attachment", "attachmentId") from None
            raise
        row = await Attachment.filter(id=aid).select_for_update().get()
        if (row.hidden_at is not None) == hidden:
            state = "hidden" if hidden else "shown"
            raise DomainError(
                ErrorCode.ALREADY_DONE, f"the file is {state} already", ["attachmentId"]
            )
        await Attachment.filter(id=aid).update(
            hidden_at=now if hidden else None, hidden_reason=text
        )
        kind = EventKind.ATTACHMENT_HIDDEN if hidden else EventKind.ATTACHMENT_SHOWN
        _, entry = await record_event(
            report, kind, actor, now, message=text, data={"attachment_id": aid}
        )
        return Hidden(Outcome(report, outbox=[entry]), aid)
