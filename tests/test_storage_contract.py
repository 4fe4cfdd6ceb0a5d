"""The storage contract, on both backends: the local folder and an S3 bucket on a real S3 API
(moto's server, started by .ci/run; see tests/s3_server.py). Every test here runs twice, with the
whole platform on the one backend: saving, reading, ranges, deleting, what is signed and what
only streams through the app, the lesson player's media, and the retention purge with its legal
hold (the retention tests of tests/test_retention.py are collected here again for the bucket)."""

from __future__ import annotations

import datetime as dt
import hashlib
from urllib.parse import urlsplit

import httpx
import pytest

from certificate_helpers import approved_enrolment, sign_in
from core.certificates import services as certificates
from core.courses import services as courses
from core.courses.tables import Enrollment
from core.files.storage import LocalStorage, ObjectStorage, storage_from_settings
from core.files.tables import StoredFile
from core.proctoring.tables import FaceVerification
from core.retention import purge
from core.settings import Settings
from core.study.tables import StudyEvent
from s3_server import new_bucket, s3_settings
from test_retention import (  # noqa: F401  (collected again, on both backends)
    test_purge_deletes_import_files_past_the_rule_and_keeps_the_jobs_counts,
    test_purge_deletes_old_face_evidence_and_keeps_recent,
    test_purge_deletes_replaced_images_and_keeps_referenced_and_fresh_ones,
)
from test_study import T, clock, lesson_video, studying  # noqa: F401  (fixtures)

VIDEO = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture(params=["local", "s3"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def xs_settings(xs_settings, backend):
    return s3_settings(xs_settings, new_bucket()) if backend == "s3" else xs_settings


async def test_the_platform_uses_the_configured_backend(platform, backend):
    assert isinstance(platform.storage, ObjectStorage if backend == "s3" else LocalStorage)


async def test_save_read_range_and_delete(platform, tenant):
    t = tenant("construction")
    row = await platform.storage.save(VIDEO, tenant_id=t.id, kind="lesson_video", media_type="video/mp4")
    assert row.size == len(VIDEO) and row.sha256 == hashlib.sha256(VIDEO).hexdigest()
    assert row.key.startswith(f"{t.id}/lesson_video/")
    assert await platform.storage.read(row) == VIDEO
    assert await platform.storage.exists(row)
    assert await platform.storage.checksum(row.key) == row.sha256
    part = b"".join([c async for c in platform.storage.chunks(row.key, 1000, 1999)])
    assert part == VIDEO[1000:2000]
    last = b"".join([c async for c in platform.storage.chunks(row.key, len(VIDEO) - 1, len(VIDEO) - 1)])
    assert last == VIDEO[-1:]

    other = await platform.storage.save(VIDEO[:500], tenant_id=t.id, kind="lesson_video", media_type="video/mp4")
    assert await platform.storage.get_many([other.key, row.key, other.key]) == [VIDEO[:500], VIDEO, VIDEO[:500]]
    await platform.storage.delete(other)
    with pytest.raises(FileNotFoundError):
        await platform.storage.get_many([row.key, other.key])

    await platform.storage.delete(row)
    assert not await platform.storage.exists(row)
    assert await platform.storage.checksum(row.key) is None
    assert not await StoredFile.exists().where(StoredFile.id == row.id)
    with pytest.raises(FileNotFoundError):
        await platform.storage.read(row)
    await platform.storage.delete(row)  # deleting what is gone is not an error (a purge run twice)


async def test_save_path_consumes_the_spooled_upload(platform, tenant, tmp_path):
    t = tenant("construction")
    spooled = tmp_path / "upload.bin"
    spooled.write_bytes(VIDEO)
    row = await platform.storage.save_path(spooled, tenant_id=t.id, kind="lesson_video", media_type="video/mp4")
    assert not spooled.exists()
    assert row.size == len(VIDEO) and row.sha256 == hashlib.sha256(VIDEO).hexdigest()
    assert await platform.storage.read(row) == VIDEO


async def test_only_videos_and_certificates_are_signed_and_a_bucket_refuses_unsigned_reads(platform, tenant,
                                                                                          backend):
    t = tenant("construction")
    rows = {kind: await platform.storage.save(VIDEO, tenant_id=t.id, kind=kind, media_type="application/pdf")
            for kind in ("lesson_video", "certificate", "id_front", "id_back", "portrait", "snapshot", "evidence",
                         "import", "lesson_pdf")}
    urls = {kind: await platform.storage.signed_url(row) for kind, row in rows.items()}
    if backend == "local":
        assert set(urls.values()) == {None}
        return
    assert {k for k, u in urls.items() if u} == {"lesson_video", "certificate"}
    async with httpx.AsyncClient() as http:
        signed = urls["lesson_video"]
        assert signed.startswith(platform.storage.media_origin + "/")
        part = await http.get(signed, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == VIDEO[100:200]
        assert part.headers["content-type"] == "application/pdf"  # the type saved with the object
        bare = signed.split("?")[0]
        assert (await http.get(bare)).status_code == 403  # a private object: no signature, no bytes


async def test_the_player_gets_its_video_with_ranges_from_the_app_or_the_bucket(client, studying, backend,
                                                                               platform, make_account):
    url = f"{T}/study/lessons/{studying['lesson'].id}/media"
    stored = await StoredFile.objects().get(StoredFile.id == studying["lesson"].file)
    video = await platform.storage.read(stored)
    r = await client.get(url, headers={"Range": "bytes=100-199"})
    if backend == "local":
        assert r.status_code == 206 and r.content == video[100:200]
    else:
        assert r.status_code == 302 and r.headers["cache-control"] == "private, no-store"
        location = r.headers["location"]
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(location))
        assert origin == platform.storage.media_origin
        async with httpx.AsyncClient() as http:
            part = await http.get(location, headers={"Range": "bytes=100-199"})
            tail = await http.get(location, headers={"Range": "bytes=-10"})
        assert part.status_code == 206 and part.content == video[100:200]
        assert tail.status_code == 206 and tail.content == video[-10:]
        assert f"media-src 'self' blob: {origin};" in r.headers["content-security-policy"]  # on every response
    other, password = await make_account("construction")
    await client.signin("construction", "id", password, id_number=other.id_number)
    refused = await client.get(url)
    assert refused.status_code == 404 and "location" not in refused.headers  # no URL for the unenrolled


async def test_a_certificate_is_viewed_by_a_signed_url_on_a_bucket_and_downloaded_through_the_app(
        client, platform, make_account, backend):
    tenant, account, password, enrollment = await approved_enrolment(platform, make_account)
    cert = await certificates.issue(platform, platform.hooks(tenant), tenant, enrollment)
    await sign_in(client, "construction", account, password)
    url = f"/t/construction/certificates/{enrollment.id}/pdf"
    download = await client.get(f"{url}?download=true")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert hashlib.sha256(download.content).hexdigest() == cert.sha256
    view = await client.get(url)
    if backend == "local":
        assert view.status_code == 200 and view.content == download.content
    else:
        assert view.status_code == 302 and view.headers["location"].startswith(platform.storage.media_origin + "/")
        async with httpx.AsyncClient() as http:
            signed = await http.get(view.headers["location"])
        assert signed.status_code == 200 and signed.content == download.content
        assert signed.headers["content-type"] == "application/pdf"
    other, other_password = await make_account("construction")
    await sign_in(client, "construction", other, other_password)
    refused = await client.get(url)
    assert refused.status_code == 404 and "location" not in refused.headers


async def test_the_purge_keeps_evidence_on_legal_hold_and_deletes_the_rest(platform, tenant, make_account):
    t = tenant("construction")
    held_learner, _ = await make_account("construction")
    other, _ = await make_account("construction")
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=10 * 365)  # past the startup purge's clock
    old = now - dt.timedelta(days=t.rules.retention.face_evidence_days + 1)
    position = (await courses.ensure_positions(t, ["施工员"]))["施工员"]
    course = await courses.create_course(t, position.id, 2026, "留存课程", 1.0)
    under_review = Enrollment(tenant=t.id, account=held_learner.id, course=course.id, status="review", created_at=old)
    await under_review.save()

    async def old_check(account) -> tuple[FaceVerification, StoredFile]:
        frame = await platform.storage.save(b"frame", tenant_id=t.id, kind="evidence", media_type="image/jpeg",
                                            owner_id=account.id)
        check = FaceVerification(tenant=t.id, account=account.id, purpose="snapshot", nonce=f"hold-{frame.id}",
                                 evidence=[frame.id], created_at=old)
        await check.save()
        return check, frame

    held, held_frame = await old_check(held_learner)
    await StudyEvent(tenant=t.id, account=held_learner.id, enrollment=under_review.id, kind="snapshot_ok",
                     verification=held.id, created_at=old).save()
    control, control_frame = await old_check(other)

    counts = await purge(t, platform.storage, now=now)

    assert counts["evidence_files"] >= 1
    assert await FaceVerification.exists().where(FaceVerification.id == held.id)
    assert await platform.storage.read(held_frame) == b"frame"
    assert not await FaceVerification.exists().where(FaceVerification.id == control.id)
    assert not await platform.storage.exists(control_frame)


def test_the_bucket_is_configured_from_the_environment_only():
    env = {"XUESHI_STORAGE_URL": "s3://xueshi-files/prod", "XUESHI_STORAGE_REGION": "oss-cn-beijing",
           "XUESHI_STORAGE_ENDPOINT": "https://oss-cn-beijing.aliyuncs.com", "XUESHI_STORAGE_VIRTUAL_HOSTED": "1",
           "XUESHI_STORAGE_ACCESS_KEY": "AK-test", "XUESHI_STORAGE_SECRET_KEY": "SK-secret-test",
           "XUESHI_STORAGE_SIGNED_SECONDS": "600", "XUESHI_SECRET_KEY": "k"}
    settings = Settings.from_env(env)
    assert "SK-secret-test" not in repr(settings) and "AK-test" not in repr(settings)
    storage = storage_from_settings(settings)
    assert isinstance(storage, ObjectStorage) and storage.signed_for == dt.timedelta(seconds=600)
    assert storage.media_origin == "https://xueshi-files.oss-cn-beijing.aliyuncs.com"
    path_style = storage_from_settings(Settings.from_env({**env, "XUESHI_STORAGE_VIRTUAL_HOSTED": ""}))
    assert path_style.media_origin == "https://oss-cn-beijing.aliyuncs.com"
    assert isinstance(storage_from_settings(Settings.from_env({"XUESHI_SECRET_KEY": "k"})), LocalStorage)
    with pytest.raises(ValueError, match="s3://bucket"):
        storage_from_settings(Settings.from_env({**env, "XUESHI_STORAGE_URL": "oss://xueshi-files"}))
