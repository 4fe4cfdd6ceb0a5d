"""Waiting for a lesson's transcoding job (the in-process runner of the test platform)."""

from __future__ import annotations

import asyncio

from core.courses.tables import Lesson
from core.jobs import records
from core.jobs.tables import JobRun


async def wait_for_video(lesson_id: int, seconds: float = 120) -> Lesson:
    """The lesson once its video is no longer processing (ready or failed) and its job's run is
    closed, so that no job task is left running when the test's platform stops."""
    lesson = None
    for _ in range(int(seconds * 10)):
        lesson = await Lesson.objects().where(Lesson.id == lesson_id).first()
        open_runs = await JobRun.exists().where(
            JobRun.key.like(f"transcode_lesson:%:{lesson_id}") & JobRun.status.is_in(list(records.OPEN)))
        if lesson is not None and lesson.video_status != "processing" and not open_runs:
            await asyncio.sleep(0.2)  # the task's last step after its run is recorded
            return lesson
        await asyncio.sleep(0.1)
    raise AssertionError(f"lesson {lesson_id} is still {lesson and lesson.video_status}")
