"""Waiting for a lesson's transcoding job (the in-process runner of the test platform)."""

from __future__ import annotations

import asyncio

from core.courses.tables import Lesson


async def wait_for_video(lesson_id: int, seconds: float = 120) -> Lesson:
    """The lesson once its video is no longer processing (ready or failed)."""
    lesson = None
    for _ in range(int(seconds * 10)):
        lesson = await Lesson.objects().where(Lesson.id == lesson_id).first()
        if lesson is not None and lesson.video_status != "processing":
            return lesson
        await asyncio.sleep(0.1)
    raise AssertionError(f"lesson {lesson_id} is still {lesson and lesson.video_status}")
