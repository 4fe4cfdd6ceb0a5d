"""``xueshi storage migrate``: a local deployment's files go into the bucket under the same keys,
each checked by its SHA-256 before and after; a second run copies only what is missing."""

from __future__ import annotations

import asyncio

import pytest

from core import cli
from core.files.migrate import migrate
from core.files.storage import object_storage
from s3_server import ENDPOINT, new_bucket, s3_settings

BIG = bytes(range(256)) * (24 * 1024)  # 6 MiB: past obstore's 5 MiB part size, a multipart upload


@pytest.fixture
def bucket_settings(xs_settings):
    return s3_settings(xs_settings, new_bucket())


async def test_migrate_copies_verifies_and_resumes(platform, tenant, bucket_settings):
    t = tenant("construction")
    small = await platform.storage.save(b"portrait-bytes", tenant_id=t.id, kind="portrait", media_type="image/jpeg")
    big = await platform.storage.save(BIG, tenant_id=t.id, kind="lesson_video", media_type="video/mp4")
    corrupt = await platform.storage.save(b"original", tenant_id=t.id, kind="id_front", media_type="image/jpeg")
    platform.storage.path(corrupt).write_bytes(b"altered on disk")
    missing = await platform.storage.save(b"gone", tenant_id=t.id, kind="snapshot", media_type="image/jpeg")
    platform.storage.path(missing).unlink()
    bucket = object_storage(bucket_settings)
    lines: list[str] = []

    first = await migrate(platform.storage, bucket, echo=lines.append)

    assert first.copied == 2 and not first.failed  # (the shared test database's other rows: missing here)
    assert corrupt.key in first.corrupt and missing.key in first.missing and not first.ok
    assert any(corrupt.key in line for line in lines)
    for row, data in ((small, b"portrait-bytes"), (big, BIG)):
        assert await bucket.read(row) == data
        assert await bucket.checksum(row.key) == row.sha256
    assert not await bucket.exists(corrupt) and not await bucket.exists(missing)

    again = await migrate(platform.storage, bucket, echo=lines.append)
    assert again.copied == 0 and again.already == 2
    await bucket.remove(big.key)  # as if the first run was cut off before this one
    resumed = await migrate(platform.storage, bucket, echo=lines.append)
    assert resumed.copied == 1 and resumed.already == 1
    assert await bucket.read(big) == BIG


async def test_the_command_reports_and_fails_on_a_file_it_could_not_copy(platform, tenant, bucket_settings,
                                                                         xs_settings, monkeypatch, capsys):
    t = tenant("survey")
    good = await platform.storage.save(b"licence", tenant_id=t.id, kind="licence", media_type="image/jpeg")
    bad = await platform.storage.save(b"licence", tenant_id=t.id, kind="licence", media_type="image/jpeg")
    platform.storage.path(bad).write_bytes(b"changed")
    for name, value in {"DATABASE_URL": xs_settings.database_url, "XUESHI_VAR_DIR": str(xs_settings.var_dir),
                        "XUESHI_DB_POOL_SIZE": "0", "XUESHI_STORAGE_URL": bucket_settings.storage_url,
                        "XUESHI_STORAGE_ENDPOINT": ENDPOINT, "XUESHI_STORAGE_ACCESS_KEY": "test",
                        "XUESHI_STORAGE_SECRET_KEY": "test"}.items():
        monkeypatch.setenv(name, value)

    assert await asyncio.to_thread(cli.main, ["storage", "migrate"]) == 1
    out = capsys.readouterr().out
    assert bad.key in out and "copied=1 " in out
    bucket = object_storage(bucket_settings)
    assert await bucket.read(good) == b"licence" and not await bucket.exists(bad)
