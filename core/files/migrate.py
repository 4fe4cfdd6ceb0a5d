"""``xueshi storage migrate``: copy a local deployment's files into the bucket under the same keys
(so no row changes), each verified by its SHA-256 (``StoredFile.sha256``, recorded when the file
was saved): the local file is checked before it is sent and the object is read back and checked
after. Resumable: an object whose recorded checksum already matches is not copied again, so a
run cut off (or repeated) only copies what is missing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from core.files.storage import LocalStorage, ObjectStorage, file_digest
from core.files.tables import StoredFile

BATCH = 500


@dataclass
class Migration:
    copied: int = 0
    already: int = 0  # in the bucket with a matching checksum (an earlier run)
    missing: list[str] = field(default_factory=list)  # keys whose local file is gone
    corrupt: list[str] = field(default_factory=list)  # local bytes that do not match the row's SHA-256
    failed: list[str] = field(default_factory=list)  # read back from the bucket with another SHA-256

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupt or self.failed)


async def _object_sha256(target: ObjectStorage, key: str, size: int) -> str:
    digest = hashlib.sha256()
    if size:
        async for chunk in target.chunks(key, 0, size - 1):
            digest.update(chunk)
    return digest.hexdigest()


async def migrate(source: LocalStorage, target: ObjectStorage, echo: Callable[[str], None] = print) -> Migration:
    """Copy every ``StoredFile`` (all tenants, by id) from ``source`` into ``target``."""
    done = Migration()
    last = 0
    while rows := await StoredFile.objects().where(StoredFile.id > last).order_by(StoredFile.id).limit(BATCH):
        for row in rows:
            last = row.id
            if await target.checksum(row.key) == row.sha256:
                done.already += 1
                continue
            path = source.path(row)
            if not path.is_file():
                done.missing.append(row.key)
                echo(f"missing locally: {row.key} (file {row.id})")
                continue
            if (await anyio.to_thread.run_sync(file_digest, path))[1] != row.sha256:
                done.corrupt.append(row.key)
                echo(f"local file does not match its SHA-256, not copied: {row.key} (file {row.id})")
                continue
            await target.upload(row.key, path, media_type=row.media_type, sha256=row.sha256)
            if await _object_sha256(target, row.key, row.size) != row.sha256:
                await target.remove(row.key)  # never leave a wrong object that a rerun would skip
                done.failed.append(row.key)
                echo(f"copy does not match its SHA-256, removed: {row.key} (file {row.id})")
                continue
            done.copied += 1
        echo(f"… {done.copied} copied, {done.already} already there (up to file {last})")
    return done
