"""The lesson video job: read the upload from storage, make the web-safe MP4 and its poster
(core.courses.video), write both back to storage and make the lesson ready with the duration
probed from the MP4 (the duration the credit rule uses).

A refusal (not a video, damaged, too long, undecodable) marks the lesson failed with its reason
and keeps the original, so staff can retry; an unexpected error (storage unreachable) is retried
by the queue, and when the last attempt fails the lesson is marked failed too. Works the same on
both storage backends: the original is streamed out of storage into a temporary directory and the
results are stored with ``save_path``.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import anyio

from core.courses.tables import Lesson
from core.courses.video import VideoFailed, make_poster, make_web_mp4
from core.db.scoped import scoped
from core.files.tables import StoredFile
from core.jobs.specs import JobSpec, platform_of
from core.tenancy import Tenant

log = logging.getLogger("xueshi.video")
PROCESSING, READY, FAILED = "processing", "ready", "failed"
STATUS_LABELS = {PROCESSING: "转码中", READY: "可播放", FAILED: "转码失败"}
SERVER_ERROR = "视频处理未完成（服务器出错），请点击“重新转码”"


def job_key(tenant: Tenant, lesson_id: int) -> str:
    return f"transcode_lesson:{tenant.id}:{lesson_id}"


async def _fail(tenant: Tenant, lesson_id: int, reason: str) -> None:
    await scoped(Lesson, tenant).update({Lesson.video_status: FAILED, Lesson.video_error: reason[:200]}).where(
        (Lesson.id == lesson_id) & (Lesson.video_status == PROCESSING))


async def _download(storage, row: StoredFile, target: Path) -> None:
    """The stored original into ``target``, in chunks (written in a worker thread)."""
    async with await anyio.open_file(target, "wb") as out:
        if row.size:
            async for chunk in storage.chunks(row.key, 0, row.size - 1):
                await out.write(chunk)


async def process_lesson_video(platform, tenant: Tenant, lesson_id: int) -> str:
    """Make the lesson's video ready, or mark it failed with the reason. Returns the new status
    (or ``gone`` when the lesson was deleted or is not waiting for processing)."""
    lesson = await scoped(Lesson, tenant).get(lesson_id)
    if lesson is None or lesson.video_status != PROCESSING:
        return "gone"
    source = await scoped(StoredFile, tenant).get(lesson.source_file) if lesson.source_file else None
    if source is None or not await platform.storage.exists(source):
        await _fail(tenant, lesson_id, "原始视频文件已丢失，请删除该课件后重新上传")
        return FAILED
    settings = platform.settings
    root = settings.var_dir / "transcode"
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=root))
    try:
        try:
            if source.size > tenant.rules.study.max_video_mb * 1024 * 1024:
                raise VideoFailed(f"视频过大，请上传不超过 {tenant.rules.study.max_video_mb} MB 的视频")
            original = work / "source"
            await _download(platform.storage, source, original)
            mp4, poster = work / "lesson.mp4", work / "poster.jpg"
            _, out = await make_web_mp4(original, mp4, max_seconds=settings.video_max_seconds,
                                        timeout=settings.video_transcode_seconds)
            await make_poster(mp4, poster, out.duration)
        except VideoFailed as exc:
            log.info("lesson %s video refused: %s", lesson_id, exc)
            await _fail(tenant, lesson_id, str(exc))
            return FAILED
        video_row = await platform.storage.save_path(mp4, tenant_id=tenant.id, kind="lesson_video",
                                                     media_type="video/mp4")
        poster_row = await platform.storage.save_path(poster, tenant_id=tenant.id, kind="lesson_poster",
                                                      media_type="image/jpeg")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    done = await scoped(Lesson, tenant).update({
        Lesson.file: video_row.id, Lesson.poster_file: poster_row.id, Lesson.duration_seconds: out.duration,
        Lesson.video_status: READY, Lesson.video_error: "", Lesson.source_file: None,
    }).where((Lesson.id == lesson_id) & (Lesson.video_status == PROCESSING)
             & (Lesson.source_file == source.id)).returning(Lesson.id)
    if not done:  # deleted or taken over meanwhile: what was made belongs to nobody
        for row in (video_row, poster_row):
            await platform.storage.delete(row)
        return "gone"
    await platform.storage.delete(source)  # the MP4 replaces it
    return READY


async def transcode_lesson(ctx: dict[str, Any], *, tenant: str, lesson_id: int) -> str:
    """Job: ``process_lesson_video`` for one lesson."""
    platform = platform_of(ctx)
    return await process_lesson_video(platform, platform.tenants.get(tenant), lesson_id)


async def transcode_failed(ctx: dict[str, Any], error: str, *, tenant: str, lesson_id: int) -> None:
    """The last attempt failed with an unexpected error: the lesson says so and can be retried."""
    log.warning("lesson %s video job failed: %s", lesson_id, error)
    await _fail(platform_of(ctx).tenants.get(tenant), lesson_id, SERVER_ERROR)


async def queue(platform, tenant: Tenant, lesson_id: int) -> None:
    await platform.jobs.enqueue(transcode_lesson, key=job_key(tenant, lesson_id), tenant=tenant,
                                lesson_id=lesson_id)


async def retry(platform, tenant: Tenant, lesson: Lesson) -> bool:
    """A failed video whose original is kept goes back to processing; False when it is not one."""
    if lesson.video_status != FAILED or not lesson.source_file:
        return False
    done = await scoped(Lesson, tenant).update({Lesson.video_status: PROCESSING, Lesson.video_error: ""}).where(
        (Lesson.id == lesson.id) & (Lesson.video_status == FAILED)).returning(Lesson.id)
    if done:
        await queue(platform, tenant, lesson.id)
    return bool(done)


# ffmpeg's own timeout (Settings.video_transcode_seconds) ends a run well before the job's; one
# retry covers a worker restart or a storage hiccup.
JOBS = [JobSpec(transcode_lesson, timeout=3 * 3600, retries=1, retry_delay=30, label="课件视频转码",
                on_failure=transcode_failed)]
