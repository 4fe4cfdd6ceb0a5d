"""Lesson upload checks in the request: size and type by content (not by name or the browser's
word). Everything else about a video (codecs, duration, damage) is decided by the transcoding
job's probe (core.courses.video), never by the client."""

from __future__ import annotations

from pathlib import Path

PDF_MAX_BYTES = 50 * 1024 * 1024
# The containers a video upload may be in (the job opens exactly these; core.courses.video).
VIDEO_TYPES = {"video/mp4", "video/webm", "video/x-msvideo", "video/mpeg"}
VIDEO_FORMATS = "MP4、MOV、WebM、MKV、AVI 或 MPEG"


class MediaRejected(ValueError):
    """The message is shown to staff next to the upload field (Chinese)."""


def sniff(head: bytes) -> str | None:
    """The media type of a file from its first bytes: video/mp4 (also MOV), video/webm (also
    Matroska), video/x-msvideo, video/mpeg (program stream), application/pdf."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "video/mpeg"
    if head[:5] == b"%PDF-":
        return "application/pdf"
    return None


def check_video_upload(path: Path, max_bytes: int) -> str:
    """The media type of an uploaded video after the size and type checks, or MediaRejected."""
    size = path.stat().st_size
    if size == 0:
        raise MediaRejected("请选择视频文件")
    if size > max_bytes:
        raise MediaRejected(f"视频过大，请上传不超过 {max_bytes // (1024 * 1024)} MB 的视频")
    with path.open("rb") as f:
        kind = sniff(f.read(16))
    if kind not in VIDEO_TYPES:
        raise MediaRejected(f"不是可识别的视频文件，仅支持 {VIDEO_FORMATS} 格式")
    return kind


def check_pdf(data: bytes) -> None:
    if not data:
        raise MediaRejected("请选择 PDF 文件")
    if len(data) > PDF_MAX_BYTES:
        raise MediaRejected("PDF 文件过大，请上传不超过 50 MB 的文件")
    if sniff(data[:16]) != "application/pdf":
        raise MediaRejected("仅支持 PDF 文件")
