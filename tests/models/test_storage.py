"""Where attachment files live (models/storage.py): both backends behind one interface.

The S3 store talks over HTTP on loopback to moto's standalone S3 server (no real S3-compatible
server installs here from the package registries we reach): it proves the requests our client
makes and how we read S3's answers (404 versus NoSuchKey, a missing bucket), not how AWS or MinIO
enforce checksums, consistency or permissions. Under CI=true a server that does not start fails
the tests instead of skipping them.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import hashlib
import math
import os
import socket
import stat
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from core.settings import Settings
from lapor.servers import free_port
from models import storage
from models.storage import (
    STALE_TEMP_SECONDS,
    DirectoryStore,
    FileCorrupt,
    FileMissing,
    FileStore,
    InvalidKey,
    S3Store,
    content_key,
    file_store,
)
from tests.conftest import unavailable

PHOTO = b"\xff\xd8\xff\xe0 a photo, already stripped of its metadata \xff\xd9"
ABSENT = hashlib.sha256(b"never stored").hexdigest()
INVALID_KEYS = [
    "../etc/passwd",
    "../../" + "0" * 58,  # 64 characters, and a way out of the directory
    content_key(PHOTO).upper(),
    content_key(PHOTO)[:63],
    content_key(PHOTO) + "\n",  # the trailing newline a `$` would have let through
    "",
]
# Beyond every file a test writes: whatever is stored was written before it.
LATER = datetime.now(UTC) + timedelta(days=1)
# Fake credentials: moto accepts any, and the client must not look for real ones.
TEST_KEY_ID = "lapor-test"
TEST_SECRET = "lapor-test-secret"


# ------------------------------------------------------------------ the stand-in for S3


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server, in a thread of this process, on a free loopback port."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as error:
        unavailable(f"moto's server is not installed (pip install -e '.[dev]'): {error}")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    try:
        server.start()
        _wait_until_listening(port)
    except Exception as error:
        unavailable(f"moto's S3 server did not start on port {port}: {error}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _wait_until_listening(port: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _s3_store(
    endpoint: str, bucket: str, *, prefix: str = "attachments/", create_bucket: bool = False
) -> S3Store:
    return S3Store(
        bucket,
        prefix=prefix,
        endpoint_url=endpoint,
        access_key_id=TEST_KEY_ID,
        secret_access_key=TEST_SECRET,
        create_bucket=create_bucket,
    )


def _text(header: str | bytes) -> str:
    return header.decode() if isinstance(header, bytes) else header


def _fresh_bucket() -> str:
    return f"lapor-test-{uuid.uuid4().hex[:16]}"


# ------------------------------------------------------------------ both backends


@dataclass
class Backend:
    store: FileStore
    # The keys of every file stored, read from the storage itself rather than the store.
    stored_keys: Callable[[], Awaitable[list[str]]]
    # Overwrite what is stored under a key, behind the store's back (damage at rest).
    overwrite: Callable[[str, bytes], Awaitable[None]]


@pytest.fixture(params=["directory", "s3"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "directory":
        root = tmp_path / "files"
        directory = DirectoryStore(root)

        async def files_on_disk() -> list[str]:
            return sorted(p.name for p in root.glob("??/??/*") if p.is_file())

        async def overwrite_on_disk(key: str, data: bytes) -> None:
            directory.path_of(key).write_bytes(data)

        yield Backend(directory, files_on_disk, overwrite_on_disk)
        await directory.close()
        return
    s3 = _s3_store(request.getfixturevalue("s3_endpoint"), _fresh_bucket(), create_bucket=True)

    async def objects_in_bucket() -> list[str]:
        listing = await (await s3.client()).list_objects_v2(Bucket=s3.bucket)
        return sorted(item["Key"].removeprefix(s3.prefix) for item in listing.get("Contents", []))

    async def overwrite_in_bucket(key: str, data: bytes) -> None:
        await (await s3.client()).put_object(Bucket=s3.bucket, Key=s3.object_name(key), Body=data)

    yield Backend(s3, objects_in_bucket, overwrite_in_bucket)
    await s3.close()


async def test_round_trip(backend: Backend) -> None:
    key = await backend.store.put(PHOTO, "image/jpeg")
    assert key == hashlib.sha256(PHOTO).hexdigest()
    assert await backend.store.exists(key)
    assert await backend.store.get(key) == PHOTO
    assert await backend.stored_keys() == [key]


async def test_empty_file_round_trip(backend: Backend) -> None:
    key = await backend.store.put(b"", "text/plain")
    assert await backend.store.get(key) == b""


async def test_putting_the_same_bytes_again_keeps_one_copy(backend: Backend) -> None:
    first = await backend.store.put(PHOTO, "image/jpeg")
    again = await backend.store.put(PHOTO, "image/jpeg")
    assert again == first
    assert await backend.stored_keys() == [first]
    assert await backend.store.get(first) == PHOTO


async def test_an_absent_key_is_file_missing(backend: Backend) -> None:
    with pytest.raises(FileMissing):
        await backend.store.get(ABSENT)
    assert not await backend.store.exists(ABSENT)


async def test_delete_removes_and_absent_is_fine(backend: Backend) -> None:
    kept = await backend.store.put(b"another document", "application/pdf")
    key = await backend.store.put(PHOTO, "image/jpeg")
    await backend.store.delete(key)
    assert not await backend.store.exists(key)
    with pytest.raises(FileMissing):
        await backend.store.get(key)
    await backend.store.delete(key)
    await backend.store.delete(ABSENT)
    assert await backend.stored_keys() == [kept]


async def test_get_refuses_bytes_that_are_not_the_ones_the_key_names(backend: Backend) -> None:
    key = await backend.store.put(PHOTO, "image/jpeg")
    await backend.overwrite(key, PHOTO[:-1] + b"\x00")
    with pytest.raises(FileCorrupt):
        await backend.store.get(key)


async def test_twenty_concurrent_puts_of_the_same_bytes_store_one_file(backend: Backend) -> None:
    keys = await asyncio.gather(*(backend.store.put(PHOTO, "image/jpeg") for _ in range(20)))
    assert set(keys) == {content_key(PHOTO)}
    assert await backend.stored_keys() == [content_key(PHOTO)]
    assert await backend.store.get(keys[0]) == PHOTO


async def test_twenty_concurrent_puts_of_different_bytes_store_each(backend: Backend) -> None:
    files = [f"document {n} ".encode() * (n * 1000 + 1) for n in range(20)]
    keys = await asyncio.gather(*(backend.store.put(data, "text/plain") for data in files))
    assert sorted(keys) == await backend.stored_keys()
    assert len(set(keys)) == 20
    contents = await asyncio.gather(*(backend.store.get(key) for key in keys))
    assert contents == files


async def _listed(store: FileStore, moment: datetime) -> list[str]:
    return sorted([key async for key in store.stored_before(moment)])


async def test_stored_before_lists_the_keys_written_before_the_moment(backend: Backend) -> None:
    """S3 keeps LastModified to the second: the moment is a whole second, after the first put
    and before the second."""
    old = await backend.store.put(PHOTO, "image/jpeg")
    moment = datetime.fromtimestamp(math.floor(time.time()) + 1, UTC)
    # Past the moment by more than a coarse file-system clock's tick.
    await asyncio.sleep(moment.timestamp() - time.time() + 0.05)
    new = await backend.store.put(b"a newer document", "application/pdf")
    again = await backend.store.put(PHOTO, "image/jpeg")  # already stored: not written again

    assert again == old
    assert await _listed(backend.store, moment) == [old]
    assert await _listed(backend.store, LATER) == sorted([old, new])
    assert await _listed(backend.store, moment - timedelta(hours=1)) == []


async def test_stored_before_wants_an_aware_moment(backend: Backend) -> None:
    with pytest.raises(ValueError, match="time zone"):
        await _listed(backend.store, datetime(2026, 1, 1))


# ------------------------------------------------------------------ keys are checked first


@pytest.fixture(params=["directory", "s3"])
async def unusable_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """A store any I/O would fail on: a root below a plain file, an endpoint nobody serves."""
    if request.param == "directory":
        blocker = tmp_path / "a-file"
        blocker.write_bytes(b"")
        yield DirectoryStore(blocker / "files")
        return
    s3 = _s3_store(f"http://127.0.0.1:{free_port()}", _fresh_bucket(), create_bucket=True)
    yield s3
    await s3.close()


@pytest.mark.parametrize("key", INVALID_KEYS)
@pytest.mark.parametrize("operation", ["get", "exists", "delete"])
async def test_invalid_keys_are_refused_before_any_io(
    unusable_store: FileStore, operation: str, key: str
) -> None:
    with pytest.raises(InvalidKey):
        await getattr(unusable_store, operation)(key)


# ------------------------------------------------------------------ the directory store


@pytest.fixture
def directory(tmp_path: Path) -> DirectoryStore:
    return DirectoryStore(tmp_path / "files")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_directory_layout_and_permissions(directory: DirectoryStore) -> None:
    key = await directory.put(PHOTO, "image/jpeg")
    path = directory.path_of(key)
    assert path == directory.root / key[0:2] / key[2:4] / key
    assert _mode(path) == 0o600
    for folder in (path.parent, path.parent.parent, directory.root, directory.root / "tmp"):
        assert _mode(folder) == 0o700, folder


async def test_a_put_leaves_no_temp_file(directory: DirectoryStore) -> None:
    await asyncio.gather(*(directory.put(bytes([n]) * 100, "image/png") for n in range(5)))
    assert list((directory.root / "tmp").iterdir()) == []


async def test_a_write_failing_midway_leaves_nothing_behind(
    directory: DirectoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk halfway through the temp file: no file under the key, no temp file."""
    real_write = storage._write_fully

    def disk_full_halfway(fd: int, data: bytes) -> None:
        real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(storage, "_write_fully", disk_full_halfway)
    with pytest.raises(OSError, match="No space left"):
        await directory.put(PHOTO, "image/jpeg")
    key = content_key(PHOTO)
    assert not directory.path_of(key).exists()
    assert not await directory.exists(key)
    assert list((directory.root / "tmp").iterdir()) == []

    monkeypatch.undo()
    assert await directory.get(await directory.put(PHOTO, "image/jpeg")) == PHOTO


async def test_a_rename_failing_leaves_nothing_behind(
    directory: DirectoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_rename(source: Any, target: Any) -> None:
        raise OSError(errno.EIO, "rename refused")

    monkeypatch.setattr(storage.os, "replace", no_rename)
    with pytest.raises(OSError, match="rename refused"):
        await directory.put(PHOTO, "image/jpeg")
    monkeypatch.undo()
    assert not await directory.exists(content_key(PHOTO))
    assert list((directory.root / "tmp").iterdir()) == []


async def test_stale_temp_files_of_a_crash_are_removed_at_start(tmp_path: Path) -> None:
    temp_dir = tmp_path / "files" / "tmp"
    temp_dir.mkdir(parents=True)
    crashed = temp_dir / "0123456789abcdef-crashed.part"
    crashed.write_bytes(b"half a photo")
    long_ago = time.time() - STALE_TEMP_SECONDS - 5
    os.utime(crashed, (long_ago, long_ago))
    # Another API process's write in flight: young, so not touched.
    in_flight = temp_dir / "fedcba9876543210-writing.part"
    in_flight.write_bytes(b"a photo being written")

    store = DirectoryStore(tmp_path / "files")
    assert not await store.exists(ABSENT)  # the first use prepares the directory
    assert not crashed.exists()
    assert in_flight.exists()


async def test_stored_before_lists_only_files_at_their_keys_place(
    directory: DirectoryStore,
) -> None:
    """Temp files (a write in flight, named anything) and whatever else lies in the directory
    are not keys, however old."""
    key = await directory.put(PHOTO, "image/jpeg")
    other = content_key(b"another photo")
    strays = [
        directory.root / "tmp" / other,
        directory.root / other[0:2] / other[2:4] / "notes.txt",
        directory.root / "00" / "00" / other,  # not where its key puts it
        directory.root / other,
    ]
    for stray in strays:
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_bytes(b"another photo")
    (directory.root / other[0:2] / other[2:4] / other).mkdir()  # a directory, not a file
    long_ago = time.time() - 86_400
    for path in [directory.path_of(key), *strays]:
        os.utime(path, (long_ago, long_ago))

    assert await _listed(directory, LATER) == [key]
    assert await _listed(directory, datetime.now(UTC) - timedelta(hours=1)) == [key]


async def test_a_reader_sees_the_whole_file_or_none(directory: DirectoryStore) -> None:
    """Gets racing puts of a large file: every answer is complete or FileMissing."""
    big = os.urandom(4 * 1024 * 1024)
    key = content_key(big)

    async def read() -> bytes | None:
        try:
            return await directory.get(key)
        except FileMissing:
            return None

    puts = [directory.put(big, "application/pdf") for _ in range(3)]
    results = await asyncio.gather(*puts, *(read() for _ in range(20)))
    assert all(answer in (key, big, None) for answer in results)
    assert await directory.get(key) == big


# ------------------------------------------------------------------ the S3 store


async def test_s3_put_sends_content_type_and_sha256_and_skips_a_second_upload(
    s3_endpoint: str,
) -> None:
    store = _s3_store(s3_endpoint, _fresh_bucket(), create_bucket=True)
    client = await store.client()
    uploads: list[dict[str, str]] = []

    def record(request: Any, **_: Any) -> None:
        headers = request.headers.items()
        uploads.append({name.lower(): _text(value) for name, value in headers})

    client.meta.events.register("before-send.s3.PutObject", record)
    try:
        key = await store.put(PHOTO, "image/jpeg")
        await store.put(PHOTO, "image/jpeg")
        head = await client.head_object(Bucket=store.bucket, Key=store.object_name(key))
    finally:
        await store.close()
    assert len(uploads) == 1, "the second put of the same bytes uploads nothing"
    expected = base64.b64encode(hashlib.sha256(PHOTO).digest()).decode()
    assert uploads[0]["x-amz-checksum-sha256"] == expected
    assert uploads[0]["content-type"] == "image/jpeg"
    assert head["ContentType"] == "image/jpeg"


async def test_s3_keys_go_under_the_prefix(s3_endpoint: str) -> None:
    store = _s3_store(s3_endpoint, _fresh_bucket(), prefix="lapor/evidence/", create_bucket=True)
    try:
        key = await store.put(PHOTO, "image/jpeg")
        listing = await (await store.client()).list_objects_v2(Bucket=store.bucket)
    finally:
        await store.close()
    assert [item["Key"] for item in listing["Contents"]] == [f"lapor/evidence/{key}"]


async def test_s3_stored_before_skips_objects_that_are_not_keys_under_the_prefix(
    s3_endpoint: str,
) -> None:
    store = _s3_store(s3_endpoint, _fresh_bucket(), prefix="lapor/evidence/", create_bucket=True)
    try:
        key = await store.put(PHOTO, "image/jpeg")
        s3 = await store.client()
        other = content_key(b"another photo")
        for name in ["lapor/evidence/notes.txt", f"lapor/evidence/old/{other}", f"lapor/{other}"]:
            await s3.put_object(Bucket=store.bucket, Key=name, Body=b"another photo")
        assert await _listed(store, LATER) == [key]
    finally:
        await store.close()


async def test_production_never_creates_the_bucket(s3_endpoint: str) -> None:
    settings = Settings(
        env="production",
        s3_bucket=_fresh_bucket(),
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id=TEST_KEY_ID,
        s3_secret_access_key=TEST_SECRET,
    )
    store = file_store(settings)
    try:
        with pytest.raises(ClientError, match="NoSuchBucket"):
            await store.put(PHOTO, "image/jpeg")
    finally:
        await store.close()
    checker = _s3_store(s3_endpoint, settings.s3_bucket)
    try:
        with pytest.raises(ClientError):
            await (await checker.client()).head_bucket(Bucket=settings.s3_bucket)
    finally:
        await checker.close()


# ------------------------------------------------------------------ choosing by the settings


def test_no_bucket_means_the_directory(tmp_path: Path) -> None:
    store = file_store(Settings(files_dir=str(tmp_path / "files"), s3_bucket=""))
    assert isinstance(store, DirectoryStore)
    assert store.root == tmp_path / "files"
    assert not store.root.exists(), "choosing a store does no I/O"


def test_a_bucket_means_s3_with_the_settings() -> None:
    store = file_store(
        Settings(
            s3_bucket="lapor-files",
            s3_endpoint_url="https://s3.example.test",
            s3_region="ap-southeast-3",
            s3_prefix="evidence/",
        )
    )
    assert isinstance(store, S3Store)
    assert (store.bucket, store.endpoint_url, store.region) == (
        "lapor-files",
        "https://s3.example.test",
        "ap-southeast-3",
    )
    assert store.object_name(ABSENT) == f"evidence/{ABSENT}"


def test_docker_compose_keeps_files_on_a_volume_the_api_and_workers_share() -> None:
    """Without a bucket, files outlive the containers: both roles mount one named volume where
    LAPOR_FILES_DIR points (an absolute path: the processes' working directory is no promise)."""
    import yaml

    compose = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text()
    )
    files_dir = compose["x-lapor-environment"]["LAPOR_FILES_DIR"]
    assert os.path.isabs(files_dir)
    for role in ("api", "worker"):
        service = compose["services"][role]
        assert service["environment"]["LAPOR_FILES_DIR"] == files_dir
        mounts = dict(volume.rsplit(":", 1)[::-1] for volume in service["volumes"])
        assert mounts[files_dir] in compose["volumes"], role
