"""The XLSX reader (python-calamine in core/roster/xlsx.py) reads what openpyxl's read-only mode
reads: the same cell texts through the same limits, for the value types spreadsheets hold, and
finds the pictures placed on a sheet at their cells (openpyxl's drawing model).

Where calamine legitimately differs from openpyxl the texts still agree, which is what the
comparison checks (``spreadsheets._cell_text``): a whole number comes as a float (42.0, shown
"42"), a date-time at midnight as a date, an empty cell as "" rather than None, and trailing
empty cells and rows pad the grid (dropped when the rows are collected). An integer of 16 digits
or more differs (float precision), as Excel itself keeps only 15."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import openpyxl
import pytest
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from PIL import Image

from core.roster import spreadsheets
from core.roster.spreadsheets import Limits, SpreadsheetRejected, read_sheets


def openpyxl_tables(data: bytes, limits: Limits) -> list[tuple[str, list[str], list]]:
    """The sheets as the reader based on openpyxl's read-only mode read them."""
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    out = []
    for ws in wb.worksheets:
        rows = ((n, list(r)) for n, r in enumerate(ws.iter_rows(max_col=limits.max_columns + 1, values_only=True),
                                                   start=1))
        try:
            table = spreadsheets._collect(rows, limits)
        except SpreadsheetRejected:  # an empty sheet: left out, as read_sheets does
            continue
        out.append((ws.title, table.headers, table.rows))
    wb.close()
    return out


def workbook(epoch_1904: bool = False) -> bytes:
    wb = openpyxl.Workbook()
    if epoch_1904:
        wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.title = "单选题"
    ws.append(["题干", "数字", "日期", "时间", "布尔", "富文本", "小数"])
    ws.append(["  前后有空格  ", 42, dt.date(2026, 12, 7), dt.datetime(2026, 12, 7, 8, 30), True,
               CellRichText(["加粗", TextBlock(InlineFont(b=True), "部分"), "结尾"]), 2.5])
    ws.append(["大数", 12345678901234, dt.datetime(1999, 1, 1), dt.time(13, 45), False, "=不是公式", 1e-7])
    ws.append([])  # a blank row inside the data
    ws.cell(row=6, column=1, value="稀疏行")
    ws.cell(row=6, column=5, value="第五列")
    ws.cell(row=7, column=2, value=0)
    second = wb.create_sheet("判断题")
    second.append(["题干", "答案"])
    second.append(["特种作业人员必须持证上岗。", "对"])
    wb.create_sheet("空白")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.mark.parametrize("epoch_1904", [False, True])
def test_the_same_cells_as_openpyxl(epoch_1904):
    data, limits = workbook(epoch_1904), Limits()
    mine = [(t.name, t.headers, t.rows) for t in read_sheets(data, "x.xlsx", limits)]
    assert mine == openpyxl_tables(data, limits)
    assert mine[0][2][0][1][:3] == ["前后有空格", "42", "2026-12-07"] and mine[0][2][0][1][5] == "加粗部分结尾"


def test_shared_strings_without_phonetic_runs_and_inline_strings():
    """Excel on Japanese or Chinese systems writes phonetic runs (rPh) inside shared strings;
    other tools write inline strings. Neither run is part of the text."""
    sheet = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>答案</t></is></c></row>'
             '<row r="2"><c r="A2" t="s"><v>1</v></c><c r="B2" t="inlineStr"><is><r><t>对</t></r>'
             '<rPh sb="0" eb="1"><t>dui</t></rPh></is></c><c r="C2" t="b"><v>1</v></c></row></sheetData></worksheet>')
    strings = ('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>题干</t></si>'
               '<si><r><t>特种</t></r><r><t>作业</t></r><rPh sb="0" eb="2"><t>tezhong</t></rPh></si></sst>')
    data = xlsx_parts(sheet, strings)
    (table,) = read_sheets(data, "x.xlsx", Limits())
    assert (table.headers, table.rows) == (["题干", "答案"], [(2, ["特种作业", "对", "True"])])
    assert [(t.headers, t.rows) for t in read_sheets(data, "x.xlsx", Limits())] == [
        (h, r) for _, h, r in openpyxl_tables(data, Limits())]


def xlsx_parts(sheet: str, strings: str, doctype: str = "") -> bytes:
    out = io.BytesIO()
    ns = "http://schemas.openxmlformats.org/"
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", f'<Types xmlns="{ns}package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                   'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="'
                   'application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                   '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
        z.writestr("_rels/.rels", f'<Relationships xmlns="{ns}package/2006/relationships"><Relationship Id="rId1" '
                   f'Type="{ns}officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
                   '</Relationships>')
        z.writestr("xl/workbook.xml", f'{doctype}<workbook xmlns="{ns}spreadsheetml/2006/main" '
                   f'xmlns:r="{ns}officeDocument/2006/relationships"><sheets><sheet name="题库" sheetId="1" '
                   'r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{ns}package/2006/relationships">'
                   f'<Relationship Id="rId1" Type="{ns}officeDocument/2006/relationships/worksheet" '
                   'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
                   f'Type="{ns}officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
                   '</Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        z.writestr("xl/sharedStrings.xml", strings)
    return out.getvalue()


LAUGHS = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
SHEET = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{}'
         '</sheetData></worksheet>')


def test_entities_are_never_expanded():
    """calamine does not expand a declared entity: a cell using one makes the file refused."""
    used = SHEET.format('<row r="1"><c r="A1" t="inlineStr"><is><t>题干&lol2;</t></is></c></row>')
    with pytest.raises(SpreadsheetRejected, match="文件已损坏"):
        read_sheets(xlsx_parts(LAUGHS + used, "<sst/>"), "x.xlsx", Limits())
    plain = SHEET.format('<row r="1"><c r="A1" t="inlineStr"><is><t>题干</t></is></c></row>')
    (table,) = read_sheets(xlsx_parts(plain, "<sst/>", doctype=LAUGHS), "x.xlsx", Limits())
    assert table.headers == ["题干"]


def test_a_cell_far_away_is_refused_before_calamine_lays_out_the_grid():
    """One valued cell at XFD1048576 with no dimension declared: calamine would allocate the grid
    up to it (512 GB; the process aborts). Its position alone refuses the file; a far cell
    without a value (self-closing, as Excel writes a styled empty cell) does not count."""
    one = '<row r="1"><c r="A1" t="inlineStr"><is><t>题干</t></is></c></row><row r="2"><c r="A2"><v>1</v></c></row>'
    far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    with pytest.raises(SpreadsheetRejected, match="文件超过 10000 行的上限"):
        read_sheets(xlsx_parts(SHEET.format(one + far), "<sst/>"), "x.xlsx", Limits())
    wide = '<row r="3"><c r="AY3"><v>1</v></c></row>'  # column 51 of 50
    with pytest.raises(SpreadsheetRejected, match="表格列数过多（超过 50 列）"):
        read_sheets(xlsx_parts(SHEET.format(one + wide), "<sst/>"), "x.xlsx", Limits())
    styled = '<row r="3"><c r="AX3"><v>1</v></c><c r="XFD3" s="1"/></row>'  # column 50: at the limit
    (table,) = read_sheets(xlsx_parts(SHEET.format(one + styled), "<sst/>"), "x.xlsx", Limits())
    assert table.rows[-1] == (3, [*[""] * 49, "1"])


def test_cells_without_references_are_placed_one_after_another_and_bounded():
    """Some writers leave out the cell references: calamine places the cells in order, and the
    bound counts them per row."""
    row = '<row>' + '<c t="inlineStr"><is><t>题</t></is></c>' * 3 + '</row>'
    (table,) = read_sheets(xlsx_parts(SHEET.format(row * 2), "<sst/>"), "x.xlsx", Limits())
    assert (table.headers, table.rows) == (["题"] * 3, [(2, ["题"] * 3)])
    with pytest.raises(SpreadsheetRejected, match="表格列数过多（超过 2 列）"):
        read_sheets(xlsx_parts(SHEET.format(row * 2), "<sst/>"), "x.xlsx", Limits(max_columns=2))
    with pytest.raises(SpreadsheetRejected, match="文件超过 1 行的上限"):
        read_sheets(xlsx_parts(SHEET.format(row * 4), "<sst/>"), "x.xlsx", Limits(max_rows=1, max_blank_rows=1))


def test_pictures_are_found_at_their_cells():
    png = io.BytesIO()
    Image.new("RGB", (80, 80), (1, 2, 3)).save(png, format="PNG")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["题干", "答案"])
    ws.append(["第一题", "A"])
    ws.append(["第二题", "B"])
    ws.add_image(SheetImage(io.BytesIO(png.getvalue())), "C3")
    out = io.BytesIO()
    wb.save(out)
    (table,) = read_sheets(out.getvalue(), "x.xlsx", Limits())
    assert [(row, col) for row, col, _ in table.pictures] == [(3, 3)]
    assert table.pictures[0][2].startswith("xl/media/")


def test_the_row_bound_is_the_line_limit_itself():
    """Header, one data row and one blank line allowed: a cell on line 3 reads, on line 4 refuses."""
    limits = Limits(max_rows=1, max_blank_rows=1)
    head = '<row r="1"><c r="A1" t="inlineStr"><is><t>题干</t></is></c></row>'
    (table,) = read_sheets(xlsx_parts(SHEET.format(head + '<row r="3"><c r="A3"><v>7</v></c></row>'), "<sst/>"),
                           "x.xlsx", limits)
    assert table.rows == [(3, ["7"])]
    with pytest.raises(SpreadsheetRejected, match="含空行共超过 3 行"):
        read_sheets(xlsx_parts(SHEET.format(head + '<row r="4"><c r="A4"><v>7</v></c></row>'), "<sst/>"),
                    "x.xlsx", limits)
