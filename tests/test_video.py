"""Lesson videos through the transcoding job, with real media and the real ffmpeg, on both
storage backends (a local folder and an S3 bucket on moto's server): a web-safe MP4 is copied into
a faststart MP4, other codecs become H.264/AAC, the stored duration is ffprobe's of the output, the
poster is a JPEG; hostile and damaged files end in a clear reason with the original kept and
nothing playable; a failed video is retried from its original."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from core.audit.tables import AuditEntry
from core.courses import services as courses
from core.courses import video_jobs
from core.courses.media import MediaRejected
from core.courses.editing import content_check
from core.courses.tables import Enrollment, Lesson
from core.files.tables import StoredFile
from s3_server import new_bucket, s3_settings
from test_study import T, clock, lesson_video, studying  # noqa: F401  (fixtures)
from video_helpers import wait_for_video

SHARED = Path(__file__).resolve().parents[2] / "shared" / "videos"
OBAMA = SHARED / "obama_weekly_address_blinks.mp4"  # H.264/AAC in MP4, moov at the end: 3.88 s
GRID = SHARED / "grid_id2_blinks.mpg"  # MPEG-1 video, MP2 audio, MPEG program stream: 3.0 s


@pytest.fixture(params=["local", "s3"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def xs_settings(xs_settings, backend):
    settings = dataclasses.replace(xs_settings, debug=True)
    return s3_settings(settings, new_bucket()) if backend == "s3" else settings


@pytest.fixture
def tenant(platform):
    return platform.tenants.get("construction")


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                          str(path)], capture_output=True, check=True, timeout=30)
    return json.loads(out.stdout)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


def top_atoms(data: bytes) -> list[bytes]:
    names, at = [], 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        names.append(data[at + 4:at + 8])
        if size < 8:
            break
        at += size
    return names


async def _course(platform, tenant):
    position = (await courses.ensure_positions(tenant, ["施工员"]))["施工员"]
    return await courses.create_course(tenant, position.id, 2026, "视频转码课程", 1.0)


async def _upload(platform, tenant, course, source: Path, tmp_path: Path, **kw) -> Lesson:
    copy = tmp_path / f"upload-{source.name}"
    shutil.copy(source, copy)  # the upload is consumed by the store
    return await courses.add_video_lesson(platform, tenant, course, source.stem, copy, **kw)


async def _stored(platform, file_id: int, target: Path) -> Path:
    row = await StoredFile.objects().where(StoredFile.id == file_id).first()
    target.write_bytes(await platform.storage.read(row))
    return target


async def _check_ready(platform, lesson: Lesson, tmp_path: Path) -> dict:
    """The lesson plays an H.264 faststart MP4 whose ffprobe duration is the lesson's, with a
    JPEG poster, and the original is gone from storage."""
    assert lesson.video_status == "ready" and lesson.video_error == "" and lesson.source_file is None
    mp4 = await _stored(platform, lesson.file, tmp_path / "out.mp4")
    info = ffprobe(mp4)
    assert info["format"]["format_name"].startswith("mov,mp4")
    video = [s for s in info["streams"] if s["codec_type"] == "video"]
    assert [s["codec_name"] for s in video] == ["h264"] and video[0]["pix_fmt"] == "yuv420p"
    assert all(s["codec_name"] == "aac" for s in info["streams"] if s["codec_type"] == "audio")
    assert lesson.duration_seconds == round(float(info["format"]["duration"]), 3)
    atoms = top_atoms(mp4.read_bytes())
    assert atoms.index(b"moov") < atoms.index(b"mdat")  # faststart: playable while it downloads
    poster = await _stored(platform, lesson.poster_file, tmp_path / "poster.jpg")
    with Image.open(io.BytesIO(poster.read_bytes())) as image:
        image.load()
        assert image.format == "JPEG" and image.width >= 16 and image.height >= 16
    row = await StoredFile.objects().where(StoredFile.id == lesson.file).first()
    assert row.kind == "lesson_video" and row.media_type == "video/mp4"
    return info


async def test_a_web_safe_mp4_is_copied_into_a_faststart_mp4_with_the_probed_duration(platform, tenant, tmp_path):
    course = await _course(platform, tenant)
    before = await StoredFile.count().where(StoredFile.kind == "lesson_source")
    lesson = await _upload(platform, tenant, course, OBAMA, tmp_path)
    info = await _check_ready(platform, lesson, tmp_path)
    source = ffprobe(OBAMA)
    # Copied, not re-encoded: the same frames and the same bitrate of the same H.264 stream.
    v_in = next(s for s in source["streams"] if s["codec_type"] == "video")
    v_out = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert v_out["nb_frames"] == v_in["nb_frames"] and v_out["bit_rate"] == v_in["bit_rate"]
    assert abs(lesson.duration_seconds - float(source["format"]["duration"])) < 0.1
    assert await StoredFile.count().where(StoredFile.kind == "lesson_source") == before  # the original is deleted


@pytest.mark.parametrize("kind", ["mpeg1_mp2", "mpeg4_part2", "vp9"])
async def test_other_codecs_become_h264_aac_mp4(platform, tenant, tmp_path, kind):
    if kind == "mpeg1_mp2":
        source = GRID
    elif kind == "mpeg4_part2":  # MPEG-4 Part 2 in an MP4 (plays in no browser), odd frame size
        source = tmp_path / "part2.mp4"
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=321x241:rate=15:duration=2.5", "-f", "lavfi", "-i",
               "sine=frequency=440:duration=2.5", "-c:v", "mpeg4", "-c:a", "aac", "-shortest", str(source))
    else:
        source = tmp_path / "clip.webm"
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=15:duration=2.5", "-c:v", "libvpx-vp9",
               "-deadline", "realtime", "-cpu-used", "8", str(source))
    course = await _course(platform, tenant)
    lesson = await _upload(platform, tenant, course, source, tmp_path)
    info = await _check_ready(platform, lesson, tmp_path)
    assert abs(lesson.duration_seconds - float(ffprobe(source)["format"]["duration"])) < 0.25
    has_audio = any(s["codec_type"] == "audio" for s in ffprobe(source)["streams"])
    assert any(s["codec_type"] == "audio" for s in info["streams"]) == has_audio
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert video["width"] % 2 == 0 and video["height"] % 2 == 0


async def test_a_text_file_named_mp4_is_refused_at_the_field_and_nothing_is_stored(client, platform, tenant,
                                                                                   make_account):
    admin, password = await make_account("construction", role="tenant_admin")
    await client.signin("construction", "id", password, id_number=admin.id_number)
    course = await _course(platform, tenant)
    files, lessons = await StoredFile.count(), await Lesson.count()
    r = await client.post(f"{T}/admin/courses/{course.id}/lessons", {"title": "假视频"},
                          files={"file": ("lesson.mp4", "这不是视频，只是文字。\n".encode() * 50, "video/mp4")})
    assert r.status_code == 400 and "不是可识别的视频文件" in r.text
    assert (await StoredFile.count(), await Lesson.count()) == (files, lessons)


@pytest.mark.parametrize("damage", ["fake_header", "truncated", "truncated_faststart"])
async def test_damaged_files_fail_with_a_reason_keep_the_original_and_never_play(
        client, platform, tmp_path, studying, damage):
    tenant, course = studying["tenant"], studying["course"]
    data = OBAMA.read_bytes()
    if damage == "fake_header":  # passes the type check by its first bytes, then is text
        body, reason = b"\x00\x00\x00\x20ftypisom" + b"hello, not a video " * 200, "无法读取该文件"
    elif damage == "truncated":  # cut before its index (moov at the end)
        body, reason = data[:len(data) // 2], "无法读取该文件"
    else:  # index first, half the media: the probe declares 3.88 s, only part decodes
        fast = tmp_path / "fast.mp4"
        ffmpeg("-i", str(OBAMA), "-c", "copy", "-movflags", "+faststart", str(fast))
        body, reason = fast.read_bytes()[:350_000], "视频文件不完整"
    upload = tmp_path / "damaged.mp4"
    upload.write_bytes(body)
    with pytest.raises(MediaRejected, match=reason):
        await courses.add_video_lesson(platform, tenant, course, "损坏的视频", upload)
    lesson = await Lesson.objects().where((Lesson.course == course.id) & (Lesson.title == "损坏的视频")).first()
    assert lesson.video_status == "failed" and reason in lesson.video_error
    assert lesson.file is None and lesson.poster_file is None and lesson.duration_seconds == 0
    kept = await StoredFile.objects().where(StoredFile.id == lesson.source_file).first()
    assert kept.kind == "lesson_source" and await platform.storage.read(kept) == body  # the original, untouched
    # The learner: told it is not available, no player, no session, no media, no hours.
    page = await client.get(f"{T}/study/{(await _enrollment(studying)).id}")
    assert "视频暂不可用（转码失败）" in page.text and f"/study/lessons/{lesson.id}\"" not in page.text
    player = await client.get(f"{T}/study/lessons/{lesson.id}")
    assert player.status_code == 303 and player.headers["location"].endswith(f"/study/{(await _enrollment(studying)).id}")
    r = await client.post(f"{T}/study/lessons/{lesson.id}/session")
    assert r.status_code == 409 and "转码" in r.json()["error"]
    assert (await client.get(f"{T}/study/lessons/{lesson.id}/media")).status_code == 404
    # Still failed the same way when retried (the job reads the same original again).
    assert await video_jobs.retry(platform, tenant, lesson)
    again = await wait_for_video(lesson.id)
    assert again.video_status == "failed" and reason in again.video_error and again.source_file == kept.id


async def _enrollment(learner: dict) -> Enrollment:
    return await Enrollment.objects().where((Enrollment.account == learner["account"].id)
                                            & (Enrollment.course == learner["course"].id)).first()


async def test_a_video_over_the_configured_length_fails_and_is_retried_after_the_limit_is_raised(
        client, platform, tenant, make_account, tmp_path):
    platform.settings = dataclasses.replace(platform.settings, video_max_seconds=3)  # grid is 3.0 s, Obama 3.88 s
    admin, password = await make_account("construction", role="tenant_admin")
    await client.signin("construction", "id", password, id_number=admin.id_number)
    course = await _course(platform, tenant)
    r = await client.post(f"{T}/admin/courses/{course.id}/lessons", {"title": "奥巴马讲话"},
                          files={"file": ("a.mp4", OBAMA.read_bytes(), "video/mp4")})
    assert r.status_code == 303
    lesson = await Lesson.objects().where((Lesson.course == course.id) & (Lesson.title == "奥巴马讲话")).first()
    lesson = await wait_for_video(lesson.id)
    assert lesson.video_status == "failed" and "视频过长" in lesson.video_error
    page = (await client.get(f"{T}/admin/courses/{course.id}")).text
    assert "转码失败" in page and "视频过长" in page and f"/lessons/{lesson.id}/retry" in page
    assert "0:00" not in page  # no duration is shown for what has none
    platform.settings = dataclasses.replace(platform.settings, video_max_seconds=3600)
    r = await client.post(f"{T}/admin/courses/{course.id}/lessons/{lesson.id}/retry")
    assert r.status_code == 303
    lesson = await wait_for_video(lesson.id)
    await _check_ready(platform, lesson, tmp_path)
    assert await AuditEntry.exists().where((AuditEntry.action == "lesson.retranscode") & (AuditEntry.object_id == str(lesson.id)))
    # A ready video is not retried.
    r = await client.post(f"{T}/admin/courses/{course.id}/lessons/{lesson.id}/retry")
    assert r.status_code == 409 and "无需重新转码" in r.text


async def test_a_lesson_waiting_for_its_job_says_so_and_counts_for_no_content(client, platform, tenant, make_account,
                                                                               tmp_path):
    admin, password = await make_account("construction", role="tenant_admin")
    await client.signin("construction", "id", password, id_number=admin.id_number)
    course = await _course(platform, tenant)
    ready = await _upload(platform, tenant, course, GRID, tmp_path)
    page = (await client.get(f"{T}/admin/courses/{course.id}")).text
    assert "0:03" in page and "转码中" not in page
    # The same lesson as it was before its job ran: no file, no duration, shown as 转码中.
    await Lesson.update({Lesson.video_status: "processing", Lesson.duration_seconds: 0.0}).where(
        Lesson.id == ready.id)
    page = (await client.get(f"{T}/admin/courses/{course.id}")).text
    assert "转码中" in page and "0:03" not in page and f"/lessons/{ready.id}/retry" not in page
    lessons = await courses.lessons_of(tenant, course.id)
    # The content check counts ready videos only, even with a duration left on a processing row.
    await Lesson.update({Lesson.duration_seconds: 3.0}).where(Lesson.id == ready.id)
    assert content_check(tenant, course, await courses.lessons_of(tenant, course.id)).content_seconds == 0
    await Lesson.update({Lesson.video_status: "ready"}).where(Lesson.id == ready.id)
    assert content_check(tenant, course, await courses.lessons_of(tenant, course.id)).content_seconds == 3.0
    assert lessons
