"""Reading uploaded spreadsheets safely: XLSX (python-calamine, ``core.roster.xlsx``) and CSV (UTF-8 or GBK).

The type is decided by the content, never by the file name. Every way a file can be wrong ends in
``SpreadsheetRejected`` with a message for the user (Chinese); nothing is half-read.

Parsing is bounded before it starts and while it runs: the XLSX zip is inspected first (sizes of
the parts once uncompressed, compression ratios, the sheet's declared dimension and where its
cells actually lie), rows wider than the column limit are refused, blank rows count towards a line limit, and a deadline stops a
parse that still takes too long. Handlers call ``read_table_async``, which parses in the bounded
``spreadsheet`` worker processes (``core.offload``).

Exports (``write_xlsx``, ``write_csv``) neutralise cells a spreadsheet program would run as a
formula (leading ``=``, ``+``, ``-``, ``@``, tab or carriage return; OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import time
import zipfile
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from core.offload import run_cpu
from core.roster import xlsx


class SpreadsheetRejected(ValueError):
    """The message is shown to the user above the upload field."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 10 * 1024 * 1024  # the uploaded file
    max_rows: int = 10_000  # data rows, header excluded
    max_cell_chars: int = 500
    max_columns: int = 50
    max_unzipped_bytes: int = 200 * 1024 * 1024  # XLSX: all members together
    max_zip_ratio: int = 150  # XLSX: uncompressed / compressed, per member over 1 MB
    max_sheet_bytes: int = 64 * 1024 * 1024  # XLSX: one worksheet's XML, uncompressed
    max_shared_strings_bytes: int = 16 * 1024 * 1024  # XLSX: xl/sharedStrings.xml, uncompressed
    max_blank_rows: int = 1_000  # blank lines read beyond the data rows
    max_seconds: float = 20.0  # wall time of one parse


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)  # (line number, cells)
    name: str = ""  # the worksheet's name (XLSX; "" for CSV)
    pictures: list[tuple[int, int, str]] = field(default_factory=list)  # XLSX: (row, column, media member)
    images: dict[str, str] = field(default_factory=dict)  # a cell's picture reference → digest, or "!" and why not


XLSX_MAGIC = b"PK\x03\x04"
EMPTY = "文件中没有内容，请使用模板填写后上传"


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


_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]{1,3})?(\d+)?(?::([A-Z]{1,3})(\d+))?\"")
# A cell with a value (an empty one is written self-closing and calamine leaves it out), with and
# without its reference; a row element.
_CELL_REF = re.compile(rb"<(?:\w+:)?c\b[^>]*?\sr=\"([A-Z]{1,3})(\d{1,9})\"[^>]*(?<!/)>")
_VALUED_CELL = re.compile(rb"<(?:\w+:)?c\b[^>]*(?<!/)>")
_ROW = re.compile(rb"<(?:\w+:)?row\b.*?</(?:\w+:)?row>", re.S)


def _column_number(letters: bytes) -> int:
    n = 0
    for code in letters:  # bytes: each item is the letter's code
        n = n * 26 + code - 64
    return n


def _check_dimension(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: Limits) -> None:
    """Refuse a sheet whose header declares more rows or columns than the limits allow, then one
    whose valued cells lie further (calamine builds the grid up to the farthest one: a single cell
    at XFD1048576 would ask for hundreds of gigabytes)."""
    with archive.open(member) as stream:
        head = stream.read(4096)
        match = _DIMENSION.search(head)
        if match and match.group(4):
            _check_extent(int(match.group(4)), _column_number(match.group(3)), limits, "表格范围过大（声明了 {} {}），")
        xml = head + stream.read()
    refs = _CELL_REF.findall(xml)
    rows = max((int(digits) for _, digits in refs), default=0)
    columns = max((_column_number(letters) for letters in {letters for letters, _ in refs}), default=0)
    if len(refs) < len(_VALUED_CELL.findall(xml)):  # cells placed one after another
        lines = _ROW.findall(xml)
        rows = max(rows, len(lines))
        columns = max([columns, *(len(_VALUED_CELL.findall(line)) for line in lines[:_rows_limit(limits) + 1])])
    _check_extent(rows, columns, limits, "")


def _rows_limit(limits: Limits) -> int:
    return limits.max_rows + 1 + limits.max_blank_rows


def _check_extent(rows: int, columns: int, limits: Limits, declared: str) -> None:
    if rows > _rows_limit(limits):
        raise SpreadsheetRejected(
            declared.format(rows, "行") + f"超过 {limits.max_rows} 行的上限；请删除多余的行后另存为 .xlsx，或拆分后分批导入"
            if declared else f"文件超过 {limits.max_rows} 行的上限（含空行共超过 {_rows_limit(limits)} 行），"
            "请删除多余的行或拆分后分批导入")
    if columns > limits.max_columns:
        raise SpreadsheetRejected(declared.format(columns, "列") + f"超过 {limits.max_columns} 列的上限；请使用模板"
                                  if declared else f"表格列数过多（超过 {limits.max_columns} 列），请使用模板")


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
        name = m.filename.lower()
        if name == "xl/sharedstrings.xml" and m.file_size > limits.max_shared_strings_bytes:
            raise SpreadsheetRejected(
                f"表格中的文字内容解压后超过 {limits.max_shared_strings_bytes // (1024 * 1024)} MB，"
                "已拒绝导入；请删除多余内容或拆分后分批上传")
        if name.startswith("xl/worksheets/") and name.endswith(".xml"):
            if m.file_size > limits.max_sheet_bytes:
                raise SpreadsheetRejected(
                    f"工作表解压后超过 {limits.max_sheet_bytes // (1024 * 1024)} MB，已拒绝导入；请拆分后分批上传")
    if total > limits.max_unzipped_bytes:
        raise SpreadsheetRejected("文件解压后体积过大，已拒绝导入，请拆分后分批上传")
    names = {m.filename for m in members}
    if "xl/workbook.xml" not in names:
        raise SpreadsheetRejected("文件不是有效的 Excel 表格（.xlsx），请使用模板填写后上传")
    try:
        for m in members:
            name = m.filename.lower()
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                _check_dimension(archive, m, limits)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError):  # broken or encrypted member
        raise SpreadsheetRejected("文件已损坏，无法作为 Excel 表格打开，请重新保存为 .xlsx 后上传") from None


def _check_cells(line: int, cells: list[str], headers: list[str], limits: Limits) -> None:
    for i, text in enumerate(cells):
        if len(text) > limits.max_cell_chars:
            name = headers[i] if i < len(headers) and headers[i] else f"第 {i + 1} 列"
            raise SpreadsheetRejected(
                f"第 {line} 行「{name}」内容过长（超过 {limits.max_cell_chars} 个字符），请检查文件"
            )


def _collect(lines, limits: Limits, already: int = 0) -> Table:
    """Header = the first non-blank row; blank rows are skipped; limits enforced while reading
    (``already``: data rows of the workbook's earlier sheets, which count towards the row limit)."""
    table: Table | None = None
    deadline = time.monotonic() + limits.max_seconds
    max_line = _rows_limit(limits)
    for line, raw in lines:
        if line > max_line:
            raise SpreadsheetRejected(
                f"文件超过 {limits.max_rows} 行的上限（含空行共超过 {max_line} 行），请删除多余的行或拆分后分批导入")
        if line % 256 == 0 and time.monotonic() > deadline:
            raise SpreadsheetRejected("文件处理超时，请删除多余内容或拆分后分批导入")
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
        if already + len(table.rows) >= limits.max_rows:
            raise SpreadsheetRejected(f"文件超过 {limits.max_rows} 行的上限，请拆分后分批导入")
        table.rows.append((line, cells))
    if table is None:
        raise SpreadsheetRejected(EMPTY)
    return table


def _read_xlsx(data: bytes, limits: Limits, every_sheet: bool = False) -> list[Table]:
    _check_zip(data, limits)
    try:
        book, found = xlsx.sheets(data)
    except Exception:  # a missing or malformed part, whatever the library raises for it
        raise SpreadsheetRejected("文件已损坏，无法作为 Excel 表格打开，请重新保存为 .xlsx 后上传") from None
    if not found:
        raise SpreadsheetRejected("文件中没有工作表")
    tables: list[Table] = []
    rows_read = 0
    for sheet in found if every_sheet else found[:1]:
        try:
            rows = xlsx.grid(book, sheet)
        except Exception:  # calamine's error for a malformed sheet or an entity it does not expand
            raise SpreadsheetRejected("文件已损坏，无法作为 Excel 表格打开，请重新保存为 .xlsx 后上传") from None
        try:
            table = _collect(rows, limits, rows_read)
        except SpreadsheetRejected as exc:
            if every_sheet and str(exc) == EMPTY:
                continue  # an empty sheet of a workbook is no error
            raise
        except Exception:
            raise SpreadsheetRejected("文件内容无法读取，请使用模板重新填写后上传") from None
        table.name = sheet.name
        table.pictures = sheet.pictures
        rows_read += len(table.rows)
        tables.append(table)
    if not tables:
        raise SpreadsheetRejected(EMPTY)
    return tables


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
    """Parse an uploaded spreadsheet (an XLSX's first sheet) or raise SpreadsheetRejected."""
    return _read(data, filename, limits or Limits(), False)[0]


def read_sheets(data: bytes, filename: str = "", limits: Limits | None = None) -> list[Table]:
    """Every non-empty sheet of an uploaded XLSX (a CSV is one sheet), each with its name; the
    row limit counts the rows of all sheets together."""
    return _read(data, filename, limits or Limits(), True)


def _read(data: bytes, filename: str, limits: Limits, every_sheet: bool) -> list[Table]:
    if not data:
        raise SpreadsheetRejected("文件是空的，请使用模板填写后上传")
    if len(data) > limits.max_bytes:
        raise SpreadsheetRejected(f"文件过大，请上传不超过 {limits.max_bytes // (1024 * 1024)} MB 的文件")
    if data.startswith(XLSX_MAGIC):
        return _read_xlsx(data, limits, every_sheet)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise SpreadsheetRejected("不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 后上传")
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise SpreadsheetRejected("文件不是有效的 Excel 表格（.xlsx），请使用模板填写后上传")
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix and suffix != "csv":
        raise SpreadsheetRejected(f"不支持 .{suffix[:10]} 文件，请上传 Excel 表格（.xlsx）或 CSV 文件（.csv），可下载模板填写")
    return [_read_csv(data, limits)]


async def read_table_async(data: bytes, filename: str = "", limits: Limits | None = None) -> Table:
    """``read_table`` in the bounded spreadsheet worker processes (off the event loop, and off
    its GIL; ``core.offload``)."""
    try:
        return await run_cpu("spreadsheet", read_table, data, filename, limits)
    except (MemoryError, BrokenProcessPool):  # past the worker's memory limit despite the checks
        raise SpreadsheetRejected("文件内容过多，超出处理能力，已拒绝导入；请删除多余内容或拆分后分批上传") from None


# A parsed table as it is kept in private storage between an import's preview and its commit: the
# upload is parsed once, and every later step (preview pages, confirm, the import job) reads this.
PARSED_MEDIA_TYPE = "application/vnd.xueshi.table+json"


def table_to_json(table: Table) -> bytes:
    return json.dumps({"headers": table.headers, "rows": table.rows}, ensure_ascii=False,
                      separators=(",", ":")).encode()


SHEETS_MEDIA_TYPE = "application/vnd.xueshi.sheets+json"  # every sheet of a workbook (question banks)


def sheets_to_json(tables: list[Table]) -> bytes:
    return json.dumps([{"name": t.name, "headers": t.headers, "rows": t.rows, "images": t.images} for t in tables],
                      ensure_ascii=False, separators=(",", ":")).encode()


def sheets_from_json(data: bytes) -> list[Table]:
    return [Table(headers=[str(h) for h in raw["headers"]], name=str(raw["name"]),
                  rows=[(int(line), [str(c) for c in cells]) for line, cells in raw["rows"]],
                  images={str(k): str(v) for k, v in (raw.get("images") or {}).items()}) for raw in json.loads(data)]


def table_from_json(data: bytes) -> Table:
    raw = json.loads(data)
    return Table(headers=[str(h) for h in raw["headers"]],
                 rows=[(int(line), [str(c) for c in cells]) for line, cells in raw["rows"]])


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _looks_like_formula(value: object) -> bool:
    return isinstance(value, str) and value.startswith(_FORMULA_START)


def safe_csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet program shows as text, never runs: a string starting like a
    formula gets a leading apostrophe (CSV has no other way to say "text")."""
    return "'" + value if _looks_like_formula(value) else value


def write_xlsx(headers: list[str], rows: list[list[str]] = ()) -> bytes:
    """A small XLSX: all cells as text so ID numbers keep their digits; a value starting like a
    formula is stored as a string with Excel's quote prefix (shown verbatim, never evaluated)."""
    return write_workbook([("Sheet1", headers, rows)])


def write_workbook(sheets: list[tuple[str, list[str], list[list[str]]]]) -> bytes:
    """An XLSX of several sheets (name, headers, rows), cells written like ``write_xlsx``'s. Written
    by XlsxWriter: three to five times faster than openpyxl's write-only mode on the exports
    (``benchmarks/bench_dashboards.py``'s XLSX export). Strings are always written as strings
    (``write_string``), so nothing becomes a formula."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    formats = {(text, quoted): book.add_format({**({"num_format": "@"} if text else {}),
                                                **({"quote_prefix": True} if quoted else {})})
               for text in (False, True) for quoted in (False, True)}
    for name, headers, rows in sheets:
        sheet = book.add_worksheet(name)
        for r, row in enumerate([headers, *rows]):
            text = r > 0  # the rows' cells as text, so ID numbers keep their digits
            for c, value in enumerate(row):
                style = formats[text, _looks_like_formula(value)]
                if isinstance(value, str):
                    sheet.write_string(r, c, value, style)
                elif value is None:
                    sheet.write_blank(r, c, None, style)
                else:
                    sheet.write_number(r, c, value, style)
    book.close()
    return out.getvalue()


def write_csv(headers: list[str], rows: list[list[str]] = ()) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_csv_cell(h) for h in headers])
    writer.writerows([safe_csv_cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")
