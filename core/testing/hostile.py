"""Hostile uploads built in memory, small to make and small to send (tests and benchmarks).

Each is what an attacker would upload: a tiny file whose header promises a huge amount of work.
None of them needs much memory to build.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib

from PIL import Image

from core.roster.spreadsheets import write_xlsx


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` × ``height`` pixels; its data is one compressed
    stream of zero rows (a real, decodable image: a 6300 × 6300 one is ~120 KB)."""
    raw_row = b"\x00" + b"\x00" * (width * 3)  # filter byte + RGB
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(raw_row) for _ in range(height)]
    data = b"".join(chunks) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def png_header_only(width: int, height: int) -> bytes:
    """A PNG header declaring a pixel bomb, with a tiny (truncated) image body."""
    small = io.BytesIO()
    Image.new("RGB", (64, 64)).save(small, format="PNG")
    body = bytearray(small.getvalue())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body[16:29] = ihdr
    body[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(body)


def _rewrite(xlsx: bytes, replace: dict[str, bytes | None], add: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename in replace:
                data = replace[item.filename]
            dst.writestr(item.filename, data)
        for name, data in (add or {}).items():
            dst.writestr(name, data)
    return out.getvalue()


def xlsx_with_dimension(ref: str, extra_rows: str = "", headers=("姓名", "身份证号")) -> bytes:
    """A valid one-row sheet whose ``<dimension>`` says ``ref`` (e.g. ``A1:XFD30000``)."""
    base = write_xlsx(list(headers), [["张三", "x"]])
    with zipfile.ZipFile(io.BytesIO(base)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    sheet = re.sub(r'<dimension ref="[^"]*"\s*/>', "", sheet)
    # The schema's order: sheetPr, dimension, sheetViews, …
    sheet = sheet.replace("<sheetViews>", f'<dimension ref="{ref}"/><sheetViews>', 1)
    sheet = sheet.replace("</sheetData>", extra_rows + "</sheetData>")
    return _rewrite(base, {"xl/worksheets/sheet1.xml": sheet.encode()})


def xlsx_declaring_rows(rows: int = 30_000) -> bytes:
    """~5 KB: a valid sheet whose ``<dimension>`` declares ``rows`` rows by 16,384 columns and
    whose last row sits at ``rows`` in the last column (openpyxl pads every row in between)."""
    last = f'<row r="{rows}"><c r="XFD{rows}" t="inlineStr"><is><t>x</t></is></c></row>'
    return xlsx_with_dimension(f"A1:XFD{rows}", last)


def xlsx_far_row_without_dimension(rows: int = 30_000) -> bytes:
    """Like ``xlsx_declaring_rows`` but with no ``<dimension>``: only the far row gives it away."""
    data = xlsx_declaring_rows(rows)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    sheet = re.sub(r'<dimension ref="[^"]*"\s*/>', "", sheet)
    return _rewrite(data, {"xl/worksheets/sheet1.xml": sheet.encode()})


def xlsx_with_huge_shared_strings(megabytes: int = 60, headers=("姓名", "身份证号")) -> bytes:
    """A few MB on the wire: a ``xl/sharedStrings.xml`` of ``megabytes`` MB once uncompressed,
    below the zip-bomb ratio (varied numbered strings compress ~20:1). Streamed, so building it
    needs little memory."""
    base = write_xlsx(list(headers), [["张三", "x"]])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, src.read(item.filename))
        with dst.open("xl/sharedStrings.xml", "w", force_zip64=True) as stream:
            stream.write(b'<?xml version="1.0" encoding="UTF-8"?>'
                         b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            written, i = 0, 0
            while written < megabytes * 1024 * 1024:
                block = "".join(f"<si><t>勘察设计协会培训学员第{n:09d}号</t></si>"
                                for n in range(i, i + 5000)).encode()
                stream.write(block)
                written += len(block)
                i += 5000
            stream.write(b"</sst>")
    return out.getvalue()


def xlsx_text(value: str | None) -> str | None:
    """A string cell's text as the OOXML standard reads it (ECMA-376 ST_Xstring): ``_xHHHH_`` is
    the character HHHH. XlsxWriter writes control characters so, as Excel and calamine read them;
    openpyxl returns the escape as it is."""
    return None if value is None else re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m[1], 16)), value)
