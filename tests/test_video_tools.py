"""The ffmpeg runs of the lesson video job are bounded: a run past its timeout, or whose task is
cancelled (a job timeout, a worker stopping), is killed and reaped, and the configured timeout
(Settings.video_transcode_seconds) ends a slow transcode with a reason; only the listed
containers are opened."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from core.courses import services as courses
from core.courses.media import MediaRejected
from core.courses.tables import Lesson
from core.courses.video import VideoFailed, probe, run

SHARED = Path(__file__).resolve().parents[2] / "shared" / "videos"


def running_with(marker: str) -> list[int]:
    """Process ids whose command line mentions ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
                state = (proc / "stat").read_bytes().rsplit(b")", 1)[1].split()[0]
            except OSError:
                continue
            if marker.encode() in cmdline and state != b"Z":
                found.append(int(proc.name))
    return found


def endless(tmp_path: Path) -> tuple[list[str], str]:
    """An ffmpeg run of ten minutes at real-time speed, with a marker in its command line."""
    marker = f"endless-{secrets.token_hex(6)}"
    return ["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=64x64:duration=600",
            "-f", "null", str(tmp_path / marker)], marker


async def test_a_run_past_its_timeout_is_killed_with_a_reason(tmp_path):
    args, marker = endless(tmp_path)
    with pytest.raises(VideoFailed, match="视频处理超时（超过 1 秒）"):
        await run(args, 1)
    assert running_with(marker) == []


async def test_a_cancelled_run_is_killed_before_the_cancel_returns(tmp_path):
    args, marker = endless(tmp_path)
    task = asyncio.create_task(run(args, 600))
    for _ in range(100):
        if running_with(marker):
            break
        await asyncio.sleep(0.05)
    assert running_with(marker), "ffmpeg did not start"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert running_with(marker) == []


async def test_only_the_listed_containers_are_opened():
    with pytest.raises(VideoFailed, match="不支持的视频格式"):
        await probe(SHARED / "intel_head_turn.gif")
    assert (await probe(SHARED / "grid_id2_blinks.mpg")).duration == 3.0


@pytest.fixture
def xs_settings(xs_settings):
    return dataclasses.replace(xs_settings, video_transcode_seconds=1)


async def test_the_configured_transcode_timeout_ends_a_slow_transcode(platform, tmp_path):
    tenant = platform.tenants.get("construction")
    assert platform.settings.video_transcode_seconds == 1
    source = tmp_path / "big.mp4"  # 1080p MPEG-4 Part 2: re-encoding 300 frames takes seconds
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=1920x1080:rate=25:duration=12", "-c:v", "mpeg4", "-q:v", "8", str(source)],
                   check=True, timeout=120)
    position = (await courses.ensure_positions(tenant, ["施工员"]))["施工员"]
    course = await courses.create_course(tenant, position.id, 2026, "超时课程", 1.0)
    upload = tmp_path / "upload.mp4"
    shutil.copy(source, upload)
    with pytest.raises(MediaRejected, match="视频处理超时（超过 1 秒）"):
        await courses.add_video_lesson(platform, tenant, course, "慢视频", upload)
    lesson = await Lesson.objects().where((Lesson.course == course.id) & (Lesson.title == "慢视频")).first()
    assert lesson.video_status == "failed" and lesson.source_file and lesson.file is None
    assert running_with(str(platform.settings.var_dir / "transcode")) == []  # no ffmpeg left in the job's folder
    assert list((platform.settings.var_dir / "transcode").iterdir()) == []  # its files removed
