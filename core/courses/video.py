"""Lesson video processing with ffprobe and ffmpeg: probe, make a web-safe MP4 (H.264/AAC,
``+faststart``), take a poster frame, probe the result.

Each tool runs as a subprocess (an argument list, never a shell) with a timeout; a timeout or a
cancelled task kills it and waits for it, so no ffmpeg outlives its job. Inputs are bounded: only
the containers listed in ``CONTAINERS`` are opened (forced with ``-f``, file protocol only, so a
playlist or a URL inside a file is never followed), with a cap on duration and frame size. Every
refusal is a :class:`VideoFailed` whose message is shown to staff (Chinese).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("xueshi.video")

# ffprobe's format_name → the demuxer ffmpeg is told to use (nothing else is opened).
CONTAINERS = {
    "mov,mp4,m4a,3gp,3g2,mj2": "mov",
    "matroska,webm": "matroska",
    "avi": "avi",
    "mpeg": "mpeg",
}
# Already web-safe (copied into a faststart MP4, not re-encoded): H.264 8-bit 4:2:0, AAC or silent.
SAFE_VIDEO = {"h264"}
SAFE_PIX = {"yuv420p", "yuvj420p"}
SAFE_AUDIO = {"aac"}
MAX_SIDE = 8192  # pixels: a larger frame is refused before decoding
OUT_WIDTH = 1920  # the output is scaled down to this width at most
PROBE_SECONDS = 30
POSTER_SECONDS = 60
# An output shorter than this share of what the input declares came from a damaged file.
COMPLETE_SHARE = 0.9


class VideoFailed(Exception):
    """Why a video cannot be used (Chinese, shown to staff next to the lesson)."""


@dataclass(frozen=True)
class Probe:
    container: str  # ffprobe's format_name
    duration: float
    video_codec: str
    pix_fmt: str
    width: int
    height: int
    audio_codecs: tuple[str, ...]

    @property
    def web_safe(self) -> bool:
        """Playable by every browser once in a faststart MP4 (then copied, not re-encoded)."""
        return (CONTAINERS.get(self.container) == "mov" and self.video_codec in SAFE_VIDEO
                and self.pix_fmt in SAFE_PIX and all(a in SAFE_AUDIO for a in self.audio_codecs))


def tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise VideoFailed("服务器未安装视频处理程序（ffmpeg），请联系平台管理员")
    return exe


async def run(args: list[str], timeout: float) -> tuple[int, bytes, bytes]:
    """``(returncode, stdout, stderr)`` of ``args`` run without a shell. On timeout or when the
    calling task is cancelled the process is killed and reaped before this returns or raises."""
    proc = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except BaseException as exc:  # TimeoutError, CancelledError
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await asyncio.shield(proc.wait())
        if isinstance(exc, TimeoutError):
            raise VideoFailed(f"视频处理超时（超过 {int(timeout)} 秒），请压缩视频或分段后重新上传") from None
        raise
    return proc.returncode, out, err


def _number(value, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


async def probe(path: Path, container: str | None = None) -> Probe:
    """What ffprobe reads from ``path``; VideoFailed when it is no video we open."""
    args = [tool("ffprobe"), "-v", "error", "-protocol_whitelist", "file"]
    if container:
        args += ["-f", container]
    code, out, _ = await run([*args, "-print_format", "json", "-show_format", "-show_streams", str(path)],
                             PROBE_SECONDS)
    try:
        data = json.loads(out or b"{}")
    except ValueError:
        data = {}
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    if code != 0 or not fmt:
        raise VideoFailed("无法读取该文件：不是视频，或文件不完整、已损坏")
    name = str(fmt.get("format_name", ""))
    if name not in CONTAINERS:
        raise VideoFailed("不支持的视频格式（支持 MP4、MOV、WebM、MKV、AVI、MPEG）")
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not (s.get("disposition") or {}).get("attached_pic")), None)
    if video is None:
        raise VideoFailed("文件中没有视频画面")
    duration = _number(fmt.get("duration")) or _number(video.get("duration"))
    return Probe(container=name, duration=round(duration, 3), video_codec=str(video.get("codec_name", "")),
                 pix_fmt=str(video.get("pix_fmt", "")), width=int(_number(video.get("width"))),
                 height=int(_number(video.get("height"))),
                 audio_codecs=tuple(str(s.get("codec_name", "")) for s in streams if s.get("codec_type") == "audio"))


def check_bounds(p: Probe, max_seconds: int) -> None:
    if p.duration < 1:
        raise VideoFailed("无法读取视频时长，文件可能已损坏")
    if p.duration > max_seconds:
        raise VideoFailed(f"视频过长（{p.duration / 60:.0f} 分钟），单个课件不超过 {max_seconds // 60} 分钟")
    if not (0 < p.width <= MAX_SIDE and 0 < p.height <= MAX_SIDE):
        raise VideoFailed(f"视频画面尺寸不支持（{p.width}×{p.height}）")


def transcode_args(p: Probe, source: Path, target: Path) -> list[str]:
    """The ffmpeg command: a stream copy into a faststart MP4 when the input is already web-safe,
    else H.264 (yuv420p, even dimensions, at most ``OUT_WIDTH`` wide) and AAC."""
    head = [tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-protocol_whitelist", "file", "-f", CONTAINERS[p.container], "-i", str(source),
            "-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn", "-map_metadata", "-1"]
    if p.web_safe:
        codecs = ["-c", "copy"]
    else:
        scale = f"scale='min({OUT_WIDTH},iw)':-2,scale=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p"
        codecs = ["-vf", scale, "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
                  "-c:a", "aac", "-b:a", "128k", "-ac", "2"]
    return [*head, *codecs, "-movflags", "+faststart", "-f", "mp4", str(target)]


async def make_web_mp4(source: Path, target: Path, *, max_seconds: int, timeout: int) -> tuple[Probe, Probe]:
    """Probe ``source``, write the web-safe MP4 to ``target`` and probe it: ``(input, output)``.
    The output must be an H.264 MP4 about as long as the input declares."""
    src = await probe(source)
    check_bounds(src, max_seconds)
    code, _, err = await run(transcode_args(src, source, target), timeout)
    if code != 0 or not target.is_file() or target.stat().st_size == 0:
        log.warning("ffmpeg failed (%s): %s", code, err[-500:].decode("utf-8", "replace"))
        raise VideoFailed("视频转码失败：文件无法解码，可能已损坏或编码不受支持")
    out = await probe(target, "mov")
    if out.video_codec != "h264" or out.duration < 1:
        raise VideoFailed("视频转码失败：未能生成可播放的视频")
    if out.duration < src.duration * COMPLETE_SHARE:
        raise VideoFailed(f"视频文件不完整：只能读出 {out.duration:.0f} 秒，文件声明 {src.duration:.0f} 秒，"
                          "请重新上传完整的文件")
    return src, out


async def make_poster(video: Path, target: Path, duration: float) -> None:
    """A JPEG frame of ``video`` (one second in, or a third of a shorter video)."""
    at = f"{min(1.0, duration / 3):.3f}"
    code, _, err = await run([tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                              "-protocol_whitelist", "file", "-ss", at, "-f", "mov", "-i", str(video),
                              "-frames:v", "1", "-vf", f"scale='min({OUT_WIDTH // 2},iw)':-2", "-q:v", "4",
                              "-f", "image2", "-c:v", "mjpeg", str(target)], POSTER_SECONDS)
    if code != 0 or not target.is_file() or target.read_bytes()[:3] != b"\xff\xd8\xff":
        log.warning("poster failed (%s): %s", code, err[-500:].decode("utf-8", "replace"))
        raise VideoFailed("无法生成视频封面，文件可能已损坏")
