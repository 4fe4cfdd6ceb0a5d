"""Reading uploaded spreadsheets safely: XLSX (openpyxl, read-only) and CSV (UTF-8 or GBK).

The type is decided by the content, never by the file name. Every way a file can be wrong ends in
``SpreadsheetRejected`` with a message for the user (Chinese); nothing is half-read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field


class SpreadsheetRejected(ValueError):
    """The message is shown to the user above the upload field."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 10 * 1024 * 1024  # the uploaded file
    max_rows: int = 10_000  # data rows, header excluded
    max_cell_chars: int = 500
    max_columns: int = 50
    max_unzipped_bytes: int = 200 * 1024 * 1024  # XLSX: all members together
    max_zip_ratio: int = 150  # XLSX: uncompressed / compressed, per member


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)  # (line number, cells)


XLSX_MAGIC = b"PK\x03\x04"


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value).strip()


def _check_zip(data: bytes, limits: Limits) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise SpreadsheetRejected("文件已损坏，无法作为 Excel 表格打开，请重新保存为 .xlsx 后上传") from None
    if len(members) > 1000:
        raise SpreadsheetRejected("文件结构异常，无法导入")
    total = 0
    for m in members:
        total += m.file_size
        if m.file_size > 1024 * 1024 and m.file_size > limits.max_zip_ratio * max(m.compress_size, 1):
            raise SpreadsheetRejected("文件解压后体积异常（疑似压缩炸弹），已拒绝导入")
    if total > limits.max_unzipped_bytes:
        raise SpreadsheetRejected("文件解压后体积过大，已拒绝导入，请拆分后分批上传")
    if "xl/workbook.xml" not in {m.filename for m in members}:
        raise SpreadsheetRejected("文件不是有效的 Excel 表格（.xlsx），请使用模板填写后上传")


def _check_cells(line: int, cells: list[str], headers: list[str], limits: Limits) -> None:
    for i, text in enumerate(cells):
        if len(text) > limits.max_cell_chars:
            name = headers[i] if i < len(headers) and headers[i] else f"第 {i + 1} 列"
            raise SpreadsheetRejected(
                f"第 {line} 行「{name}」内容过长（超过 {limits.max_cell_chars} 个字符），请检查文件"
            )


def _collect(lines, limits: Limits) -> Table:
    """Header = the first non-blank row; blank rows are skipped; limits enforced while reading."""
    table: Table | None = None
    for line, raw in lines:
        cells = [_cell_text(v) for v in raw[: limits.max_columns + 1]]
        if len(raw) > limits.max_columns and any(_cell_text(v) for v in raw[limits.max_columns:]):
            raise SpreadsheetRejected(f"表格列数过多（超过 {limits.max_columns} 列），请使用模板")
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        _check_cells(line, cells, table.headers if table else [], limits)
        if table is None:
            table = Table(headers=cells)
            continue
        if len(table.rows) >= limits.max_rows:
            raise SpreadsheetRejected(f"文件超过 {limits.max_rows} 行的上限，请拆分后分批导入")
        table.rows.append((line, cells))
    if table is None:
        raise SpreadsheetRejected("文件中没有内容，请使用模板填写后上传")
    return table


def _read_xlsx(data: bytes, limits: Limits) -> Table:
    import openpyxl

    _check_zip(data, limits)
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for broken files
        raise SpreadsheetRejected("文件已损坏，无法作为 Excel 表格打开，请重新保存为 .xlsx 后上传") from None
    try:
        ws = wb.worksheets[0] if wb.worksheets else None
        if ws is None:
            raise SpreadsheetRejected("文件中没有工作表")
        rows = ((n, list(r)) for n, r in enumerate(ws.iter_rows(values_only=True), start=1))
        try:
            return _collect(rows, limits)
        except SpreadsheetRejected:
            raise
        except Exception:
            raise SpreadsheetRejected("文件内容无法读取，请使用模板重新填写后上传") from None
    finally:
        wb.close()


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):  # GB18030 is a superset of GBK (Excel's Chinese CSV)
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SpreadsheetRejected("无法识别文件编码，请将 CSV 保存为 UTF-8 或 GBK 编码")


def _read_csv(data: bytes, limits: Limits) -> Table:
    if b"\x00" in data[:8192]:
        raise SpreadsheetRejected("文件不是表格文件，请上传 .xlsx 或 .csv 格式的文件")
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _collect(((reader.line_num, row) for row in reader), limits)
    except csv.Error:
        raise SpreadsheetRejected(
            f"文件中有内容过长（超过 {limits.max_cell_chars} 个字符）或格式错误的单元格，请检查文件"
        ) from None


def read_table(data: bytes, filename: str = "", limits: Limits | None = None) -> Table:
    """Parse an uploaded spreadsheet or raise SpreadsheetRejected."""
    limits = limits or Limits()
    if not data:
        raise SpreadsheetRejected("文件是空的，请使用模板填写后上传")
    if len(data) > limits.max_bytes:
        raise SpreadsheetRejected(f"文件过大，请上传不超过 {limits.max_bytes // (1024 * 1024)} MB 的文件")
    if data.startswith(XLSX_MAGIC):
        return _read_xlsx(data, limits)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise SpreadsheetRejected("不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 后上传")
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise SpreadsheetRejected("文件不是有效的 Excel 表格（.xlsx），请使用模板填写后上传")
    return _read_csv(data, limits)


def write_xlsx(headers: list[str], rows: list[list[str]] = ()) -> bytes:
    """A small XLSX (templates): all cells as text so ID numbers keep their digits."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Sheet1")
    ws.append(headers)
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(ws, value=value)
            cell.number_format = "@"
            cells.append(cell)
        ws.append(cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def write_csv(headers: list[str], rows: list[list[str]] = ()) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")
