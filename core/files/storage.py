"""One storage interface for private files: a local directory by default."""

from __future__ import annotations

import hashlib
import secrets
import shutil
from pathlib import Path

import anyio

from core.db.scoped import scoped
from core.files.tables import StoredFile


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("storage key escapes the storage root")
        return path

    async def save(
        self, data: bytes, *, tenant_id: int, kind: str, media_type: str, owner_id: int | None = None
    ) -> StoredFile:
        key = f"{tenant_id}/{kind}/{secrets.token_hex(16)}"
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        row = StoredFile(
            tenant=tenant_id,
            owner=owner_id,
            kind=kind,
            key=key,
            media_type=media_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        await row.save()
        return row

    def path(self, row: StoredFile) -> Path:
        """The file's place on disk (for streaming large files, e.g. lesson videos)."""
        return self._path(row.key)

    async def save_path(
        self, source: Path, *, tenant_id: int, kind: str, media_type: str, owner_id: int | None = None
    ) -> StoredFile:
        """Store a file already on disk (a large upload spooled to a temporary file) by moving it."""
        def move() -> tuple[str, int, str]:
            key = f"{tenant_id}/{kind}/{secrets.token_hex(16)}"
            path = self._path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with source.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
            size = source.stat().st_size
            shutil.move(str(source), path)
            return key, size, digest.hexdigest()

        key, size, sha = await anyio.to_thread.run_sync(move)
        row = StoredFile(tenant=tenant_id, owner=owner_id, kind=kind, key=key, media_type=media_type, size=size,
                         sha256=sha)
        await row.save()
        return row

    def read(self, row: StoredFile) -> bytes:
        return self._path(row.key).read_bytes()

    async def delete(self, row: StoredFile) -> None:
        self._path(row.key).unlink(missing_ok=True)
        await scoped(StoredFile, row.tenant).delete().where(StoredFile.id == row.id)
