"""Small real lesson videos made on this machine (no download, nothing from outside the
repository): slides with Chinese text drawn by Pillow (a CJK font when one is installed, else
plain shapes), written as WebM/VP8 by OpenCV. Used by the demo course and by tests."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)


def _font(size: int):
    from PIL import ImageFont

    for path in FONT_CANDIDATES:
        if Path(path).exists():
            try:
                return ImageFont.truetype(path, size)
            except OSError:
                continue
    return None


@contextlib.contextmanager
def _stderr_silenced():
    """File descriptor 2 pointed at /dev/null for the block: the warning comes from C (fprintf),
    below Python's sys.stderr. (The demo makes its videos before anything else runs.)"""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def make_lesson_video(path: Path, title: str, lines: list[str], seconds: int = 60, fps: int = 2,
                      size: tuple[int, int] = (640, 360)) -> Path:
    """A ``seconds`` long WebM of slides: the title, one line at a time, a moving progress bar."""
    import cv2
    import numpy as np
    from PIL import Image, ImageDraw

    w, h = size
    big, small = _font(36), _font(26)
    with _stderr_silenced():  # OpenCV's FFmpeg wrapper always prints that WebM has no codec tags
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write WebM/VP8 here")
    frames = seconds * fps
    try:
        for i in range(frames):
            t = i / fps
            img = Image.new("RGB", (w, h), (24, 64, 120))
            d = ImageDraw.Draw(img)
            line = lines[min(len(lines) - 1, int(t / max(1, seconds / max(1, len(lines)))))] if lines else ""
            if big is not None:
                d.text((32, 40), title, font=big, fill=(255, 255, 255))
                d.text((32, 150), line, font=small, fill=(255, 230, 160))
                d.text((32, h - 70), f"{int(t) // 60}:{int(t) % 60:02d}", font=small, fill=(200, 210, 230))
            else:  # no CJK font: simple graphics that still change over time
                d.rectangle((32, 40, 32 + int((w - 64) * (i % fps + 1) / fps), 80), fill=(255, 255, 255))
            d.rectangle((0, h - 12, int(w * (i + 1) / frames), h), fill=(230, 80, 60))
            writer.write(cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path
