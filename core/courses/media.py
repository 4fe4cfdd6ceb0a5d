"""Lesson media checks: type by content (not by name or the browser's word), size limit, duration
read from the file itself (``ffprobe``, else OpenCV), all off the event loop."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import anyio

PDF_MAX_BYTES = 50 * 1024 * 1024


class MediaRejected(ValueError):
    """The message is shown to staff next to the upload field (Chinese)."""


def sniff(head: bytes) -> str | None:
    """The media type of a file from its first bytes: video/mp4, video/webm, application/pdf."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    if head[:5] == b"%PDF-":
        return "application/pdf"
    return None


def _ffprobe(path: Path) -> float | None:
    exe = shutil.which("ffprobe")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "-v", "error", "-show_entries", "format=duration:stream=codec_type", "-of", "json", str(path)],
            capture_output=True, timeout=30, check=False,
        )
        data = json.loads(out.stdout or b"{}")
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    if not any(s.get("codec_type") == "video" for s in data.get("streams", [])):
        return 0.0
    try:
        return float(data.get("format", {}).get("duration") or 0.0)
    except ValueError:
        return 0.0


def _opencv(path: Path) -> float | None:
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return 0.0
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        frames = cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0
        return frames / fps if fps > 0 and frames > 0 else 0.0
    finally:
        cap.release()


def video_duration_sync(path: Path) -> float:
    duration = _ffprobe(path)
    if duration is None:
        duration = _opencv(path)
    return float(duration or 0.0)


async def check_video(path: Path, max_bytes: int) -> tuple[str, float]:
    """``(media_type, duration_seconds)`` of an uploaded video, or MediaRejected."""
    size = path.stat().st_size
    if size == 0:
        raise MediaRejected("请选择视频文件")
    if size > max_bytes:
        raise MediaRejected(f"视频过大，请上传不超过 {max_bytes // (1024 * 1024)} MB 的视频")
    with path.open("rb") as f:
        kind = sniff(f.read(16))
    if kind not in ("video/mp4", "video/webm"):
        raise MediaRejected("仅支持 MP4 或 WebM 格式的视频")
    duration = await anyio.to_thread.run_sync(video_duration_sync, path)
    if duration < 1:
        raise MediaRejected("无法读取视频时长，文件可能已损坏")
    return kind, round(duration, 3)


def check_pdf(data: bytes) -> None:
    if not data:
        raise MediaRejected("请选择 PDF 文件")
    if len(data) > PDF_MAX_BYTES:
        raise MediaRejected("PDF 文件过大，请上传不超过 50 MB 的文件")
    if sniff(data[:16]) != "application/pdf":
        raise MediaRejected("仅支持 PDF 文件")
