"""Hostile uploads are refused before the expensive part, with a Chinese message, and the CPU
work that remains runs off the event loop (issue 8 #3); exports cannot carry formulas (#9).

No test here measures time: "quickly, without big memory" follows from refusing on the header
(the tests check *which* check refused) and from the work running in the bounded pools (the
tests check the thread). ``benchmarks/bench_hostile_uploads.py`` prints the figures.
"""

from __future__ import annotations

import csv
import io
import os
import threading
import tracemalloc
import zipfile

import openpyxl
import pytest
from PIL import Image

from core.accounts import passwords
from core.files import images
from core.files.images import FACE_FRAME_MAX_PIXELS, ImageRejected, clean_image, clean_image_async
from core.roster import spreadsheets
from core.roster.spreadsheets import Limits, SpreadsheetRejected, read_table, read_table_async, write_csv, write_xlsx
from core.testing import hostile
from core.testing.hostile import xlsx_text

# -- spreadsheets ----------------------------------------------------------------------------


def test_xlsx_declaring_twenty_thousand_rows_is_refused_on_its_header():
    data = hostile.xlsx_declaring_rows(20_001 + 1_000)
    assert len(data) < 6000
    tracemalloc.start()
    try:
        with pytest.raises(SpreadsheetRejected, match="表格范围过大（声明了 21001 行）"):
            read_table(data, "roster.xlsx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024  # refused from the zip directory and 4 KB of the sheet


def test_xlsx_declaring_too_many_columns_is_refused():
    with pytest.raises(SpreadsheetRejected, match="声明了 16384 列"):
        read_table(hostile.xlsx_with_dimension("A1:XFD3"), "roster.xlsx")


def test_an_ordinary_dimension_passes():
    assert len(read_table(hostile.xlsx_with_dimension("A1:B2"), "roster.xlsx").rows) == 1


def test_far_row_without_a_dimension_is_refused_before_any_row_is_read(monkeypatch):
    """No header to refuse on: the cells' positions give the far row away, and the file is
    refused before calamine lays out a grid up to it (blank lines count towards the limit)."""
    data = hostile.xlsx_far_row_without_dimension(30_000)
    widths = []
    real = spreadsheets._collect

    def spy(lines, limits, *already):
        return real(((n, widths.append(len(row)) or row) for n, row in lines), limits, *already)

    monkeypatch.setattr(spreadsheets, "_collect", spy)
    with pytest.raises(SpreadsheetRejected, match="文件超过 10000 行的上限（含空行共超过 11001 行）"):
        read_table(data, "roster.xlsx")
    assert widths == []


def test_huge_shared_strings_part_is_refused_before_parsing():
    data = hostile.xlsx_with_huge_shared_strings(60)
    assert len(data) < Limits().max_bytes  # passes the upload size limit
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo("xl/sharedStrings.xml")
    assert info.file_size < Limits().max_zip_ratio * info.compress_size  # not caught as a zip bomb
    tracemalloc.start()
    try:
        with pytest.raises(SpreadsheetRejected, match="文字内容解压后超过 16 MB"):
            read_table(data, "roster.xlsx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * len(data)  # nothing decompressed


def test_slow_parse_is_stopped_by_the_deadline():
    rows = [[f"学员{i}", f"{i:018d}"] for i in range(600)]
    with pytest.raises(SpreadsheetRejected, match="文件处理超时"):
        read_table(write_xlsx(["姓名", "身份证号"], rows), "r.xlsx", Limits(max_seconds=0))


def test_a_normal_roster_still_reads():
    rows = [[f"学员{i}", f"11010519900101{i:04d}"] for i in range(300)]
    table = read_table(write_xlsx(["姓名", "身份证号"], rows), "r.xlsx")
    assert table.headers == ["姓名", "身份证号"] and len(table.rows) == 300


async def test_spreadsheets_are_parsed_in_a_worker_process_off_the_event_loop():
    """Parsing holds the GIL: a thread would still stall the loop, so it runs in another process."""
    from core.offload import run_cpu

    table = await read_table_async(write_xlsx(["姓名"], [["张三"]]), "r.xlsx")
    assert table.headers == ["姓名"] and table.rows == [(2, ["张三"])]
    assert await run_cpu("spreadsheet", os.getpid) != os.getpid()
    with pytest.raises(SpreadsheetRejected, match="表头缺少|文件是空的"):
        await read_table_async(b"", "r.xlsx")  # the worker's refusal arrives as the same exception


async def test_a_spreadsheet_worker_cannot_take_the_servers_memory():
    """The worker's address space is capped: an allocation past it fails there, and the server
    answers with the Chinese refusal instead of growing."""
    from core import offload

    with pytest.raises(MemoryError):
        await offload.run_cpu("spreadsheet", bytearray, 2 * offload.PROCESS_MEMORY_LIMIT)
    assert await offload.run_cpu("spreadsheet", len, b"still serving") == 13


# -- images ----------------------------------------------------------------------------------


def test_a_6300_pixel_square_png_is_refused_on_its_header():
    data = hostile.png_declaring(6300, 6300)
    tracemalloc.start()
    try:
        with pytest.raises(ImageRejected, match="图片像素过大"):
            clean_image(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024  # a decoded 6300² image would take 119 MB


@pytest.mark.parametrize("side", [20_000, 60_000])
def test_decompression_bombs_are_refused(side):
    with pytest.raises(ImageRejected, match="图片像素过大"):
        clean_image(hostile.png_header_only(side, side))


def test_a_face_frame_is_capped_near_two_megapixels():
    frame = hostile.png_declaring(2000, 1500)  # 3 MP: fine as a photo, too big for a face frame
    assert clean_image(frame).width == 2000
    with pytest.raises(ImageRejected, match="超过 2 百万像素"):
        clean_image(frame, max_pixels=FACE_FRAME_MAX_PIXELS)


def test_a_large_phone_photo_is_accepted_and_resized():
    out = io.BytesIO()
    Image.new("RGB", (4800, 3600), (90, 120, 200)).save(out, format="JPEG", quality=70)
    cleaned = clean_image(out.getvalue())
    assert max(cleaned.width, cleaned.height) == images.MAX_SIDE_OUT


async def test_images_are_decoded_off_the_event_loop(monkeypatch):
    seen = []
    real = images.clean_image
    monkeypatch.setattr(images, "clean_image",
                        lambda *a, **k: seen.append(threading.current_thread().name) or real(*a, **k))
    out = io.BytesIO()
    Image.new("RGB", (200, 200)).save(out, format="PNG")
    await clean_image_async(out.getvalue())
    assert seen and seen[0].startswith("xs-image")


async def test_passwords_are_hashed_and_checked_off_the_event_loop(monkeypatch):
    seen = []
    real = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password",
                        lambda *a: seen.append(threading.current_thread().name) or real(*a))
    hashed = await passwords.hash_password_async("Passw0rd-1")
    assert await passwords.verify_password_async(hashed, "Passw0rd-1")
    assert seen and seen[0].startswith("xs-password")


async def test_the_anonymous_certification_form_refuses_a_huge_png_at_the_field(client):
    await client.get("/t/survey/enterprise/certify")
    r = await client.post("/t/survey/enterprise/certify", {"name": "某公司"},
                          files={"licence": ("licence.png", hostile.png_declaring(6300, 6300), "image/png")})
    assert r.status_code == 400
    assert "图片像素过大" in r.text


# -- exports (#9) ----------------------------------------------------------------------------

FORMULAS = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def test_csv_export_neutralises_formulas():
    data = write_csv(["姓名", "备注"], [["张三", f] for f in FORMULAS] + [["李四", "普通文字"]])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert [r[1] for r in rows[1:-1]] == ["'" + f for f in FORMULAS]
    assert rows[-1] == ["李四", "普通文字"]


def test_xlsx_export_stores_formulas_as_quoted_text():
    data = write_xlsx(["=姓名", "备注"], [["张三", f] for f in FORMULAS] + [["李四", "110105199001011237"]])
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert b"<f>" not in z.read("xl/worksheets/sheet1.xml")
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    assert ws["A1"].data_type == "s" and ws["A1"].value == "=姓名" and ws["A1"].quotePrefix
    for row, f in enumerate(FORMULAS, start=2):
        cell = ws.cell(row=row, column=2)
        assert cell.data_type == "s" and cell.quotePrefix
        assert xlsx_text(cell.value) == f  # exactly, a CR included
    last = ws.cell(row=len(FORMULAS) + 2, column=2)
    assert last.value == "110105199001011237" and not last.quotePrefix
