"""Where attachment files live: one small interface (`FileStore`) with two backends, a directory
on this machine (`DirectoryStore`) and an S3-compatible bucket (`S3Store`), chosen by the
settings (`file_store`).

Files are stored under their content address, the SHA-256 of their bytes in lowercase hex: the
same bytes are stored once, a key names exactly one content, and a key that is not 64 hex digits
is refused before any I/O, so no key can reach outside the store.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from core.settings import Settings

KEY = re.compile(r"[0-9a-f]{64}")
# A temp file this old is a crashed writer's (a put takes well under a second); a younger one may
# be another process's write in flight (several API processes share one directory).
STALE_TEMP_SECONDS = 60.0
# What S3 answers for an absent object or bucket: GET says NoSuchKey, HEAD (no body) only 404.
ABSENT_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class FileMissing(LookupError):
    """No file is stored under the key."""


class InvalidKey(ValueError):
    """The key is not a content address (64 lowercase hex digits)."""


class FileCorrupt(RuntimeError):
    """The bytes stored under the key are not those the key names (damaged at rest)."""


def content_key(data: bytes) -> str:
    """The key the bytes are stored under: their SHA-256, lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def verified(key: str, data: bytes) -> bytes:
    """The bytes read under the key when they are the ones it names; else FileCorrupt. A content
    address makes this check free of any stored checksum, and the same for every backend."""
    if content_key(data) != key:
        raise FileCorrupt(key)
    return data


def checked_key(key: str) -> str:
    """The key itself when it is a content address; else InvalidKey (before any I/O)."""
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise InvalidKey(f"not a file key (64 lowercase hex digits): {key!r:.80}")
    return key


class FileStore(Protocol):
    """Bytes under their content address."""

    async def put(self, data: bytes, content_type: str) -> str:
        """Store the bytes and return their key. Idempotent (the same bytes: the same key, one
        copy) and atomic (nobody ever reads a partial file under a key)."""
        ...

    async def get(self, key: str) -> bytes:
        """The bytes under the key (checked against it: FileCorrupt when they differ);
        FileMissing when there are none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the file under the key; an absent one is fine."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether a file is stored under the key."""
        ...

    def stored_before(self, moment: datetime) -> AsyncIterator[str]:
        """The keys whose file was last written before `moment` (aware), in no set order. A put
        of bytes already stored writes nothing, so an old file may be wanted again right now."""
        ...

    async def close(self) -> None:
        """Release connections; the store is not used after."""
        ...


class _Once:
    """Runs an async preparation once, on first use, however many callers race to it."""

    def __init__(self, prepare: Callable[[], Awaitable[None]]) -> None:
        self._prepare = prepare
        self._lock = asyncio.Lock()
        self._done = False

    async def __call__(self) -> None:
        if self._done:
            return
        async with self._lock:
            if not self._done:
                await self._prepare()
                self._done = True


# ------------------------------------------------------------------ a directory


def _write_fully(fd: int, data: bytes) -> None:
    """Write every byte to the descriptor (os.write may write fewer than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_directory(path: Path) -> None:
    # A new or replaced name is durable only once its directory is synced too.
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"a moment needs its time zone: {moment!r}")
    return moment


def _keys_written_before(top: Path, cutoff: float) -> list[str]:
    """The keys under one first-level directory (<root>/aa) whose file's mtime is before
    `cutoff` (epoch seconds); what is not a file at its key's place is not a key."""
    found: list[str] = []
    # Files and directories may go while we look (a delete, another janitor): absent is fine.
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        with os.scandir(top) as seconds:
            middles = [entry for entry in seconds if entry.is_dir(follow_symlinks=False)]
        for middle in middles:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                with os.scandir(middle.path) as files:
                    for entry in files:
                        name = entry.name
                        if not KEY.fullmatch(name) or name[0:2] != top.name:
                            continue
                        if name[2:4] != middle.name or not entry.is_file(follow_symlinks=False):
                            continue
                        with contextlib.suppress(FileNotFoundError):
                            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                                found.append(name)
    return found


def _make_private_directory(path: Path) -> bool:
    """Create the directory (0700) if it is missing; whether it was created."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return False
    return True


class DirectoryStore:
    """Files at <root>/<k[0:2]>/<k[2:4]>/<k> (0600, directories 0700), written to <root>/tmp
    first and renamed into place; the blocking I/O runs in a thread. The first operation creates
    the root and removes temp files a crash left behind."""

    def __init__(self, root: str | os.PathLike[str] = "var/files") -> None:
        self.root = Path(root)
        self._temp_dir = self.root / "tmp"
        self._prepared = _Once(self._prepare)

    def path_of(self, key: str) -> Path:
        """Where the file under the key lives (or would)."""
        checked_key(key)
        return self.root / key[0:2] / key[2:4] / key

    async def _prepare(self) -> None:
        await asyncio.to_thread(self._prepare_blocking)

    def _prepare_blocking(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        _make_private_directory(self._temp_dir)
        # A writer killed between its temp file and the rename leaves the temp file behind.
        cutoff = time.time() - STALE_TEMP_SECONDS
        for leftover in self._temp_dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()

    async def put(self, data: bytes, content_type: str) -> str:
        """Store the bytes under their SHA-256 (the content type is not kept here: whoever serves
        the file keeps it with the attachment's row)."""
        await self._prepared()
        return await asyncio.to_thread(self._put_blocking, data)

    def _put_blocking(self, data: bytes) -> str:
        key = content_key(data)
        target = self.path_of(key)
        if target.is_file():
            return key
        fd, temp_name = tempfile.mkstemp(dir=self._temp_dir, prefix=key[:16], suffix=".part")
        temp = Path(temp_name)
        try:
            try:
                _write_fully(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            changed = [target.parent]
            for directory in (target.parent.parent, target.parent):
                if _make_private_directory(directory):
                    changed.append(directory.parent)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        for directory in changed:
            _fsync_directory(directory)
        return key

    async def _prepared_path(self, key: str) -> Path:
        # The key is checked before the first use prepares the directory: a bad key does no I/O.
        path = self.path_of(key)
        await self._prepared()
        return path

    async def get(self, key: str) -> bytes:
        """The bytes under the key; FileMissing when there are none."""
        path = await self._prepared_path(key)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise FileMissing(key) from None
        return await asyncio.to_thread(verified, key, data)

    async def delete(self, key: str) -> None:
        """Remove the file under the key; an absent one is fine."""
        path = await self._prepared_path(key)
        await asyncio.to_thread(path.unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        """Whether a file is stored under the key."""
        path = await self._prepared_path(key)
        return await asyncio.to_thread(path.is_file)

    async def stored_before(self, moment: datetime) -> AsyncIterator[str]:
        """The keys whose file's mtime is before `moment`, read in a thread one first-level
        directory (<root>/aa, 1/256 of the files) at a time; temp files are not keys."""
        cutoff = _aware(moment).timestamp()
        await self._prepared()
        tops = await asyncio.to_thread(self._first_level)
        for top in tops:
            for key in await asyncio.to_thread(_keys_written_before, top, cutoff):
                yield key

    def _first_level(self) -> list[Path]:
        # Only two-hex-digit names: tmp/ and anything else put beside the files are skipped.
        with os.scandir(self.root) as entries:
            return sorted(
                Path(entry.path)
                for entry in entries
                if re.fullmatch(r"[0-9a-f]{2}", entry.name) and entry.is_dir(follow_symlinks=False)
            )

    async def close(self) -> None:
        """Nothing to release: every operation opens and closes its own files."""


# ------------------------------------------------------------------ an S3-compatible bucket


def _is_absent(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code", "")) in ABSENT_CODES


class S3Store:
    """Objects <prefix><key> in a bucket of S3 or an S3-compatible server, uploaded with their
    SHA-256 so the server refuses bytes damaged on the way. The bucket must exist unless
    `create_bucket` (development and tests: production buckets are made by their owners)."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "attachments/",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        create_bucket: bool = False,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url or None
        self.region = region
        # None: botocore's own chain (AWS_* variables, an instance or task role).
        self._access_key_id = access_key_id or None
        self._secret_access_key = secret_access_key or None
        self._create_bucket = create_bucket
        self._exit_stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._connected = _Once(self._connect)

    def object_name(self, key: str) -> str:
        """The object's name in the bucket for the key."""
        return self.prefix + checked_key(key)

    async def _connect(self) -> None:
        config = AioConfig(
            connect_timeout=5,
            read_timeout=30,
            retries={"mode": "standard", "max_attempts": 3},
            # S3-compatible servers (MinIO, Garage, Ceph) answer path-style requests; AWS itself
            # prefers virtual-hosted ones.
            s3={"addressing_style": "path" if self.endpoint_url else "auto"},
        )
        async with contextlib.AsyncExitStack() as connecting:
            self._client = await connecting.enter_async_context(
                get_session().create_client(
                    "s3",
                    endpoint_url=self.endpoint_url,
                    region_name=self.region,
                    aws_access_key_id=self._access_key_id,
                    aws_secret_access_key=self._secret_access_key,
                    config=config,
                )
            )
            if self._create_bucket:
                await self._ensure_bucket()
            # Connected: the client stays open until close(); had anything above failed, the
            # `async with` would have closed it, and the next call tries afresh.
            self._exit_stack = connecting.pop_all()

    async def _ensure_bucket(self) -> None:
        try:
            await self._client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            if not _is_absent(error):
                raise
            where: dict[str, Any] = {}
            if self.region != "us-east-1":  # the one region S3 refuses to be told
                where["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            with contextlib.suppress(self._client.exceptions.BucketAlreadyOwnedByYou):
                await self._client.create_bucket(Bucket=self.bucket, **where)

    async def client(self) -> Any:
        """The connected aiobotocore S3 client, for what this interface does not cover (a
        presigned download link)."""
        await self._connected()
        return self._client

    async def put(self, data: bytes, content_type: str) -> str:
        """Store the bytes under their SHA-256 with their content type; bytes already there are
        not uploaded again (and keep the content type they were first stored with)."""
        # Hashing megabytes takes milliseconds: off the event loop (hashlib lets go of the GIL).
        digest = await asyncio.to_thread(hashlib.sha256, data)
        key = digest.hexdigest()
        if await self.exists(key):
            return key
        s3 = await self.client()
        await s3.put_object(
            Bucket=self.bucket,
            Key=self.object_name(key),
            Body=data,
            ContentType=content_type,
            ChecksumSHA256=base64.b64encode(digest.digest()).decode("ascii"),
        )
        return key

    async def get(self, key: str) -> bytes:
        """The bytes under the key; FileMissing when there are none."""
        name = self.object_name(key)
        s3 = await self.client()
        try:
            answer = await s3.get_object(Bucket=self.bucket, Key=name)
        except ClientError as error:
            if _is_absent(error):
                raise FileMissing(key) from None
            raise
        async with answer["Body"] as body:
            data: bytes = await body.read()
        return await asyncio.to_thread(verified, key, data)

    async def delete(self, key: str) -> None:
        """Remove the object; S3 answers an absent one as a success too."""
        name = self.object_name(key)
        s3 = await self.client()
        await s3.delete_object(Bucket=self.bucket, Key=name)

    async def exists(self, key: str) -> bool:
        """Whether the object is there (a HEAD). Without s3:ListBucket on the bucket S3 answers
        403 rather than 404 for an absent object, which is raised, not taken for absence."""
        name = self.object_name(key)
        s3 = await self.client()
        try:
            await s3.head_object(Bucket=self.bucket, Key=name)
        except ClientError as error:
            if _is_absent(error):
                return False
            raise
        return True

    async def stored_before(self, moment: datetime) -> AsyncIterator[str]:
        """The keys whose object's LastModified is before `moment`, listed a page (1000 objects)
        at a time under the prefix; other objects there (not a key after the prefix) are not
        ours and are skipped."""
        _aware(moment)
        s3 = await self.client()
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        async for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix) :]
                if KEY.fullmatch(key) and item["LastModified"] < moment:
                    yield key

    async def close(self) -> None:
        """Close the client's connections."""
        await self._exit_stack.aclose()
        self._client = None


def file_store(settings: Settings) -> FileStore:
    """The bucket when LAPOR_S3_BUCKET names one, else the directory LAPOR_FILES_DIR."""
    if settings.s3_bucket:
        return S3Store(
            settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            create_bucket=settings.env != "production",
        )
    return DirectoryStore(settings.files_dir)
