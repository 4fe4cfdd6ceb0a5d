#!/usr/bin/env python3
"""Build the certificate font shipped in core/certificates/fonts/ (run with the project's venv:
``uv run python scripts/build_cert_font.py``). Needs Debian's fonts-noto-cjk (only here, when
building; the product reads the shipped file and never a system font).

Source: /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc, face 2 (Noto Sans CJK SC),
Debian package fonts-noto-cjk 1:20220127+repack1-1, SIL Open Font License 1.1.
Subset (fontTools' pyftsubset, WOFF2): ASCII and Latin-1, every character of GB 2312 (its
symbol rows and its 6,763 hanzi), CJK punctuation (U+3000–303F) and full-width forms
(U+FF00–FFEF). The family is renamed "Xueshi Sans SC" (a Modified Version under the OFL must not
be presented under the original's names). Writes the font, and SHA256SUMS next to it.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

from fontTools.ttLib import TTFont

SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FACE = 2  # Noto Sans CJK SC in the collection
OUT_DIR = Path(__file__).resolve().parent.parent / "core" / "certificates" / "fonts"
OUT = OUT_DIR / "XueshiSansSC-GB2312.woff2"
FAMILY = "Xueshi Sans SC"


def characters() -> list[int]:
    chars = set(range(0x20, 0x7F)) | set(range(0xA0, 0x100))
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    chars |= set(range(0x3000, 0x3040)) | set(range(0xFF00, 0xFFF0))
    chars |= {0x2014, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2026}
    return sorted(chars)


def main() -> int:
    if not SOURCE.exists():
        print(f"{SOURCE} is missing: apt-get install fonts-noto-cjk", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        unicodes = Path(tmp) / "unicodes.txt"
        unicodes.write_text("\n".join(f"U+{c:04X}" for c in characters()))
        subset = Path(tmp) / "subset.woff2"
        subprocess.run([sys.executable, "-m", "fontTools.subset", str(SOURCE), f"--font-number={FACE}",
                        f"--unicodes-file={unicodes}", f"--output-file={subset}", "--flavor=woff2",
                        "--layout-features=*", "--no-hinting", "--name-IDs=0,1,2,3,4,5,6,13,14"], check=True)
        font = TTFont(subset)
        names = font["name"]
        for record in list(names.names):
            if record.nameID in (1, 4, 16):
                record.string = FAMILY
            elif record.nameID == 3:
                record.string = f"{FAMILY} (subset of Noto Sans CJK SC Regular)"
            elif record.nameID == 6:
                record.string = "XueshiSansSC-Regular"
        font.flavor = "woff2"
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        font.save(OUT)
    digest = hashlib.sha256(OUT.read_bytes()).hexdigest()
    (OUT_DIR / "SHA256SUMS").write_text(f"{digest}  {OUT.name}\n")
    print(f"{OUT} {OUT.stat().st_size} bytes sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
