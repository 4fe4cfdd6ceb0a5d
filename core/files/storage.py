"""One storage interface for private files, two backends: a local directory (the default, the
demo and tests) and an S3-compatible bucket (obstore). A file is a ``StoredFile`` row plus the
bytes under its key; both backends use the same keys, so ``xueshi storage migrate`` copies a
local deployment into a bucket without touching a row.

Objects are private on both. Large media the browser fetches itself (lesson videos,
certificate PDFs: ``SIGNED_KINDS``) get a short-lived signed URL on a bucket, which then
answers the Range requests; everything else (ID cards, portraits, snapshots, imports) only
streams through the app's authorised handlers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import obstore
from obstore.exceptions import GenericError, NotFoundError
from obstore.store import S3Store

from core.db.scoped import scoped
from core.files.tables import StoredFile
from core.settings import Settings

CHUNK = 256 * 1024
# Kinds a bucket hands to the browser by signed URL; the rest stays behind the app.
SIGNED_KINDS = frozenset({"lesson_video", "certificate"})
# The object's metadata that carries its checksum (x-amz-meta-sha256 on S3).
SHA_META = "sha256"
# obstore raises Python's FileNotFoundError for a missing object (its NotFoundError is declared).
MISSING = (NotFoundError, FileNotFoundError)


class StorageUnavailable(Exception):
    """The bucket did not answer (obstore gave up after its retries): try again later. Pages
    answer it as 503 系统繁忙 with ``Retry-After`` (``core.errors``); nothing was written."""


@contextlib.contextmanager
def _bucket_call():
    try:
        yield
    except GenericError as exc:  # connection refused or reset, timeouts, 5xx after the retries
        raise StorageUnavailable(str(exc).split("\n", 1)[0]) from exc


def new_key(tenant_id: int, kind: str) -> str:
    return f"{tenant_id}/{kind}/{secrets.token_hex(16)}"


def file_digest(source: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    with source.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return source.stat().st_size, digest.hexdigest()


class Storage:
    """What every backend does with rows; a backend stores bytes under keys (``put``, ``get``…)."""

    # The origin signed URLs point at (for the page's Content-Security-Policy), None if unsigned.
    media_origin: str | None = None

    async def save(
        self, data: bytes, *, tenant_id: int, kind: str, media_type: str, owner_id: int | None = None
    ) -> StoredFile:
        key = new_key(tenant_id, kind)
        sha = hashlib.sha256(data).hexdigest()
        await self.put(key, data, media_type=media_type, sha256=sha)
        row = StoredFile(tenant=tenant_id, owner=owner_id, kind=kind, key=key, media_type=media_type,
                         size=len(data), sha256=sha)
        await row.save()
        return row

    async def save_path(
        self, source: Path, *, tenant_id: int, kind: str, media_type: str, owner_id: int | None = None
    ) -> StoredFile:
        """Store a file already on disk (a large upload spooled to a temporary file); the source
        is consumed (moved or uploaded, then removed)."""
        size, sha = await anyio.to_thread.run_sync(file_digest, source)
        key = new_key(tenant_id, kind)
        await self.put_file(key, source, media_type=media_type, sha256=sha)
        row = StoredFile(tenant=tenant_id, owner=owner_id, kind=kind, key=key, media_type=media_type, size=size,
                         sha256=sha)
        await row.save()
        return row

    async def read(self, row: StoredFile) -> bytes:
        """The file's bytes; FileNotFoundError when they are gone."""
        return await self.get(row.key)


    async def delete(self, row: StoredFile) -> None:
        await self.remove(row.key)
        await scoped(StoredFile, row.tenant).delete().where(StoredFile.id == row.id)

    async def exists(self, row: StoredFile) -> bool:
        return await self.has(row.key)

    async def signed_url(self, row: StoredFile) -> str | None:
        """A short-lived URL the browser fetches the file from, or None: stream it through the app."""
        return None

    # --- what a backend implements ---------------------------------------------------------------

    async def put(self, key: str, data: bytes, *, media_type: str, sha256: str) -> None:
        raise NotImplementedError

    async def put_file(self, key: str, source: Path, *, media_type: str, sha256: str) -> None:
        raise NotImplementedError

    async def get(self, key: str) -> bytes:
        raise NotImplementedError

    async def get_many(self, keys: list[str]) -> list[bytes]:
        """The bytes of each object, in order (a snapshot's burst); FileNotFoundError when one is gone."""
        return list(await asyncio.gather(*(self.get(key) for key in keys)))

    async def remove(self, key: str) -> None:
        raise NotImplementedError

    async def has(self, key: str) -> bool:
        raise NotImplementedError

    async def checksum(self, key: str) -> str | None:
        """The object's SHA-256 (None if absent): a bucket's is recorded at upload and read without
        the bytes; a local file is hashed."""
        raise NotImplementedError

    def chunks(self, key: str, first: int, last: int) -> AsyncIterator[bytes]:
        """Bytes ``first..last`` (inclusive) of the object, in chunks."""
        raise NotImplementedError


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = root
        self._resolved = root.resolve()  # resolved once: keys' paths are made and checked under it

    def _path(self, key: str) -> Path:
        path = (self._resolved / key).resolve()
        if self._resolved not in path.parents:
            raise ValueError("storage key escapes the storage root")
        return path

    def path(self, row: StoredFile) -> Path:
        """The file's place on disk (local backend only)."""
        return self._path(row.key)

    async def put(self, key: str, data: bytes, *, media_type: str, sha256: str) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

        await anyio.to_thread.run_sync(write)

    async def put_file(self, key: str, source: Path, *, media_type: str, sha256: str) -> None:
        path = self._path(key)

        def move() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), path)

        await anyio.to_thread.run_sync(move)

    async def get(self, key: str) -> bytes:
        return await anyio.to_thread.run_sync(self._path(key).read_bytes)

    async def get_many(self, keys: list[str]) -> list[bytes]:
        """The files read one after another in one worker thread (one hand-off, not one a file)."""
        paths = [self._path(key) for key in keys]
        return await anyio.to_thread.run_sync(lambda: [path.read_bytes() for path in paths])

    async def remove(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    async def has(self, key: str) -> bool:
        return self._path(key).is_file()

    async def checksum(self, key: str) -> str | None:
        path = self._path(key)
        return (await anyio.to_thread.run_sync(file_digest, path))[1] if path.is_file() else None

    async def chunks(self, key: str, first: int, last: int) -> AsyncIterator[bytes]:
        async with await anyio.open_file(self._path(key), "rb") as f:
            await f.seek(first)
            left = last - first + 1
            while left > 0:
                data = await f.read(min(CHUNK, left))
                if not data:
                    break
                left -= len(data)
                yield data


class ObjectStorage(Storage):
    """An S3-compatible bucket through obstore (async, Rust's object_store underneath)."""

    def __init__(self, store: S3Store, *, signed_seconds: int, media_origin: str | None) -> None:
        self.store = store
        self.signed_for = dt.timedelta(seconds=signed_seconds)
        self.media_origin = media_origin

    async def put(self, key: str, data: bytes, *, media_type: str, sha256: str) -> None:
        with _bucket_call():
            await obstore.put_async(self.store, key, data, attributes={"Content-Type": media_type, SHA_META: sha256})

    async def put_file(self, key: str, source: Path, *, media_type: str, sha256: str) -> None:
        await self.upload(key, source, media_type=media_type, sha256=sha256)
        source.unlink(missing_ok=True)

    async def upload(self, key: str, source: Path, *, media_type: str, sha256: str) -> None:
        """Copy a file on disk into the bucket (streamed, multipart when large); the file stays."""
        with _bucket_call():
            await obstore.put_async(self.store, key, source, attributes={"Content-Type": media_type, SHA_META: sha256})

    async def get(self, key: str) -> bytes:
        try:
            with _bucket_call():
                result = await obstore.get_async(self.store, key)
                return bytes(await result.bytes_async())
        except MISSING as exc:
            raise FileNotFoundError(key) from exc

    async def remove(self, key: str) -> None:
        try:
            with _bucket_call():
                await obstore.delete_async(self.store, key)
        except MISSING:
            pass

    async def has(self, key: str) -> bool:
        try:
            with _bucket_call():
                await obstore.head_async(self.store, key)
        except MISSING:
            return False
        return True

    async def checksum(self, key: str) -> str | None:
        try:
            with _bucket_call():
                result = await obstore.get_async(self.store, key, options={"head": True})
        except MISSING:
            return None
        return result.attributes.get(SHA_META)

    async def chunks(self, key: str, first: int, last: int) -> AsyncIterator[bytes]:
        with _bucket_call():
            result = await obstore.get_async(self.store, key, options={"range": (first, last + 1)})
        async for data in result.stream(min_chunk_size=CHUNK):
            yield data

    async def signed_url(self, row: StoredFile) -> str | None:
        if row.kind not in SIGNED_KINDS:
            return None
        return await obstore.sign_async(self.store, "GET", row.key, self.signed_for)


def object_storage(settings: Settings) -> ObjectStorage:
    """The bucket named by ``settings.storage_url`` (``s3://bucket/optional/prefix``)."""
    url = urlsplit(settings.storage_url)
    if url.scheme != "s3" or not url.netloc:
        raise ValueError(f"XUESHI_STORAGE_URL must look like s3://bucket/prefix, got {settings.storage_url!r}")
    config: dict = {"region": settings.storage_region,
                    "virtual_hosted_style_request": settings.storage_virtual_hosted}
    if settings.storage_endpoint:
        config["endpoint"] = settings.storage_endpoint
    if settings.storage_access_key:
        config["access_key_id"] = settings.storage_access_key
        config["secret_access_key"] = settings.storage_secret_key
    # A request may last as long as a slow browser takes to receive a file streamed through the
    # app (the client's default is 30 s for the whole body); a stalled one ends after a minute.
    client = {"allow_http": settings.storage_endpoint.startswith("http://"),
              "timeout": dt.timedelta(minutes=30), "read_timeout": dt.timedelta(minutes=1)}
    store = S3Store(url.netloc, prefix=url.path.strip("/") or None, config=config, client_options=client)
    endpoint = urlsplit(settings.storage_endpoint or f"https://s3.{settings.storage_region}.amazonaws.com")
    host = f"{url.netloc}.{endpoint.netloc}" if settings.storage_virtual_hosted else endpoint.netloc
    origin = f"{endpoint.scheme}://{host}"
    return ObjectStorage(store, signed_seconds=settings.storage_signed_seconds, media_origin=origin)


def storage_from_settings(settings: Settings) -> Storage:
    return object_storage(settings) if settings.storage_url else LocalStorage(settings.storage_dir)
