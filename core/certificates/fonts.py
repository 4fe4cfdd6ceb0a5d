"""The certificate's font: a subset of Noto Sans CJK SC shipped in ``fonts/`` (OFL, see
fonts/OFL.txt and fonts/SHA256SUMS; built by scripts/build_cert_font.py).

WeasyPrint gets it through ``@font-face`` (never from the system), so Chinese renders on a
machine without any CJK font. Characters outside the subset (rare name characters such as 䶮)
fall back per glyph to an installed CJK font (the stylesheet lists Noto Sans CJK SC and other
common ones after ours); a character that no font here can draw is replaced by 〓 (U+3013, the
typesetters' mark for a missing character) instead of leaving a blank or a box on the page.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import shutil
import subprocess
from pathlib import Path

FONT_DIR = Path(__file__).parent / "fonts"
FONT_FILE = FONT_DIR / "XueshiSansSC-GB2312.woff2"
FAMILY = "Xueshi Sans SC"
FALLBACK_FAMILIES = ('"Noto Sans CJK SC"', '"Source Han Sans SC"', '"Noto Sans SC"', '"WenQuanYi Micro Hei"',
                     '"Droid Sans Fallback"')
MISSING = "〓"
log = logging.getLogger("xueshi.certificates")


def expected_sha256() -> str:
    line = (FONT_DIR / "SHA256SUMS").read_text().split()
    return line[0]


@functools.cache
def font_bytes() -> bytes:
    """The shipped font as plain OpenType (decompressed from WOFF2 once per process, so each
    render skips that step); refuses a file whose hash is not the recorded one."""
    from fontTools.ttLib import TTFont

    data = FONT_FILE.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sha256():
        raise RuntimeError(f"{FONT_FILE} has SHA-256 {digest}, not the one in SHA256SUMS")
    font = TTFont(io.BytesIO(data))
    font.flavor = None
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


@functools.cache
def covered() -> frozenset[int]:
    """Code points the shipped font draws."""
    from fontTools.ttLib import TTFont

    return frozenset(TTFont(io.BytesIO(font_bytes()))["cmap"].getBestCmap())


@functools.lru_cache(maxsize=4096)
def system_covers(char: str) -> bool:
    """Whether an installed font (fontconfig) draws ``char``; False without fontconfig."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    try:
        out = subprocess.run([fc_list, f":charset={ord(char):x}", "file"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(out.strip())


def printable(text: str) -> str:
    """``text`` with every character no font here can draw replaced by 〓 (whitespace and
    control characters other than spaces are dropped)."""
    have = covered()
    out = []
    for ch in text:
        if ch in "\t\r\n":
            out.append(" ")
        elif not ch.isprintable():
            continue
        elif ord(ch) in have or system_covers(ch):
            out.append(ch)
        else:
            log.warning("certificate text: U+%04X has no font here, shown as %s", ord(ch), MISSING)
            out.append(MISSING)
    return "".join(out)


def font_family() -> str:
    return ", ".join([f'"{FAMILY}"', *FALLBACK_FAMILIES, "sans-serif"])
