"""Question pictures in a bank upload, read in the spreadsheet worker process.

Two ways a bank brings pictures: pictures placed in an XLSX (anchored at a cell of the question's
row; the reader of ``core.roster.xlsx`` finds them in the sheet's drawing), or a ZIP holding the
workbook and picture files that an image column names (``q12.png``, ``图片/q12.png``). Either way
the sheet's image column ends up holding a reference per row, and ``Table.images`` says what each
reference is: the digest of its picture, cleaned (``core.files.images.clean_image``: decoded for
real, type allow-list, size and pixel caps, re-encoded without metadata), or "!" and why it was
refused. The rows' checks turn a refused or unknown reference into an error at the 图片 cell.

A ZIP is refused as a whole, with a Chinese message, when it is broken or encrypted, holds unsafe
paths (absolute, ``..``, drive letters), too many members, members that unpack far beyond their
compressed size or beyond the limits, or not exactly one workbook. Members are read with a bound
on the bytes actually read, never trusting the sizes the archive declares.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import time
import zipfile
from dataclasses import dataclass, field

import openpyxl
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.utils import get_column_letter

from core.exams.mapping import plain
from core.files.images import ImageRejected, clean_image
from core.roster.spreadsheets import XLSX_MAGIC, Limits, SpreadsheetRejected, Table, read_sheets, write_workbook

MAX_ZIP_BYTES = 50 * 1024 * 1024  # the uploaded ZIP (workbook and pictures)
MAX_ZIP_MEMBERS = 3000
MAX_ZIP_UNZIPPED = 200 * 1024 * 1024  # all members together, as declared and as read
MAX_ZIP_RATIO = 100  # unpacked / packed, per member over 1 MB (pictures hardly compress)
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # one picture file
MAX_IMAGE_PIXELS = 16_000_000  # one picture, declared in its header (4,000 × 4,000)
MAX_IMAGES = 2000  # distinct pictures of one upload
MAX_IMAGE_SECONDS = 120.0  # decoding every picture of one upload
IMAGE_HEADER = "图片"
EXPORT_PICTURE_HEIGHT = 120  # pixels a picture is shown at in an exported sheet (its file keeps its size)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".emf", ".wmf")
_IMAGE_NAMES = {"图片", "题目图片", "试题图片", "图片文件", "图片名称", "图片文件名", "图片地址", "插图", "配图", "image",
                "picture"}
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass
class BankUpload:
    tables: list[Table]
    images: dict[str, bytes] = field(default_factory=dict)  # digest → cleaned JPEG


def is_zip_upload(data: bytes, filename: str) -> bool:
    """A ZIP of a workbook and pictures (an XLSX is a zip too: it has xl/workbook.xml)."""
    if not data.startswith(XLSX_MAGIC):
        return False
    if filename.lower().endswith(".zip"):
        return True
    try:
        return "xl/workbook.xml" not in zipfile.ZipFile(io.BytesIO(data)).NameToInfo
    except (zipfile.BadZipFile, ValueError, OSError):
        return False


def _name(info: zipfile.ZipInfo) -> str:
    """The member's name as its author wrote it: Windows tools store GBK names without the UTF-8 flag."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("gbk")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name.replace("\\", "/")


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, what: str) -> bytes:
    with archive.open(info) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise SpreadsheetRejected(f"压缩包中的{what}超过 {limit // (1024 * 1024)} MB，已拒绝导入")
    return data


def _members(archive: zipfile.ZipFile) -> list[tuple[str, zipfile.ZipInfo]]:
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise SpreadsheetRejected(f"压缩包中的文件过多（超过 {MAX_ZIP_MEMBERS} 个），请只放题库表格和题目图片")
    out, total = [], 0
    for info in infos:
        name = _name(info)
        parts = name.split("/")
        if name.startswith("/") or _DRIVE.match(name) or ".." in parts or "\x00" in name:
            raise SpreadsheetRejected(f"压缩包中有不安全的文件路径“{name[:80]}”，已拒绝导入")
        if info.flag_bits & 0x1:
            raise SpreadsheetRejected("压缩包已加密，请去掉密码后重新压缩上传")
        total += info.file_size
        if info.file_size > 1024 * 1024 and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
            raise SpreadsheetRejected("压缩包解压后体积异常（疑似压缩炸弹），已拒绝导入")
        if info.is_dir() or parts[0] == "__MACOSX" or parts[-1].startswith("._"):
            continue
        out.append((name, info))
    if total > MAX_ZIP_UNZIPPED:
        raise SpreadsheetRejected(f"压缩包解压后超过 {MAX_ZIP_UNZIPPED // (1024 * 1024)} MB，已拒绝导入，请拆分后分批上传")
    return out


def _image_column(table: Table) -> int:
    """The sheet's image column; one headed 图片 is added when the sheet has none."""
    for i, header in enumerate(table.headers):
        if plain(header) in _IMAGE_NAMES:
            return i
    table.headers.append(IMAGE_HEADER)
    return len(table.headers) - 1


def _put(cells: list[str], index: int, value: str) -> None:
    cells.extend([""] * (index + 1 - len(cells)))
    cells[index] = value


class _Cleaner:
    """Pictures cleaned once each, within the upload's count and time bounds."""

    def __init__(self) -> None:
        self.images: dict[str, bytes] = {}
        self.deadline = time.monotonic() + MAX_IMAGE_SECONDS
        self.count = 0

    def __call__(self, ref: str, raw: bytes) -> str:
        self.count += 1
        if self.count > MAX_IMAGES:
            raise SpreadsheetRejected(f"图片过多（超过 {MAX_IMAGES} 张），请拆分后分批导入")
        if time.monotonic() > self.deadline:
            raise SpreadsheetRejected("图片处理超时，请压缩图片或拆分后分批导入")
        try:
            clean = clean_image(raw, max_bytes=MAX_IMAGE_BYTES, max_pixels=MAX_IMAGE_PIXELS)
        except ImageRejected as exc:
            return f"!图片“{ref[:60]}”：{exc}"
        digest = hashlib.sha256(clean.data).hexdigest()
        self.images[digest] = clean.data
        return digest


def _embedded(tables: list[Table], workbook: bytes, clean: _Cleaner) -> None:
    """Pictures placed in the XLSX: each at the image column of the row it is anchored at."""
    archive = zipfile.ZipFile(io.BytesIO(workbook))
    for table in tables:
        if not table.pictures:
            continue
        rows = {line: cells for line, cells in table.rows}
        column = _image_column(table)
        seen: dict[str, str] = {}
        for line, _col, member in table.pictures:
            cells = rows.get(line)
            if cells is None:
                continue  # on the header or a blank row: no question to attach it to
            ref = posixpath.basename(member)
            if ref not in seen:
                with archive.open(member) as stream:
                    raw = stream.read(MAX_IMAGE_BYTES + 1)
                seen[ref] = (clean(ref, raw) if len(raw) <= MAX_IMAGE_BYTES else
                             f"!图片“{ref}”超过 {MAX_IMAGE_BYTES // (1024 * 1024)} MB，请压缩后再放入表格")
            current = cells[column] if column < len(cells) else ""
            if current and current in table.images:
                both = f"{current}；{ref}"
                table.images[both] = f"!第 {line} 行有不止一张图片，每道题只能有一张"
                _put(cells, column, both)
            elif not current:
                table.images[ref] = seen[ref]
                _put(cells, column, ref)
        table.pictures = []


def _named(tables: list[Table], archive: zipfile.ZipFile, members: list[tuple[str, zipfile.ZipInfo]], base: str,
           clean: _Cleaner) -> None:
    """Cells naming a picture file of the ZIP (by its path, its path beside the workbook, or its
    file name when that is unique); a picture-like name the ZIP lacks is refused at its cell."""
    by_path: dict[str, zipfile.ZipInfo] = {}
    by_base: dict[str, zipfile.ZipInfo | None] = {}
    for name, info in members:
        if name.lower().endswith(IMAGE_SUFFIXES):
            by_path[name.lower()] = info
            key = posixpath.basename(name).lower()
            by_base[key] = None if key in by_base else info
    done: dict[str, str] = {}
    for table in tables:
        for _line, cells in table.rows:
            for cell in cells:
                ref = cell.strip()
                if not ref.lower().endswith(IMAGE_SUFFIXES) or len(ref) > 300:
                    continue
                if ref not in done:
                    key = ref.replace("\\", "/").removeprefix("./").lower()
                    info = by_path.get(key) or by_path.get(posixpath.join(base, key).lower()) or by_base.get(
                        posixpath.basename(key))
                    if info is None:
                        many = by_base.get(posixpath.basename(key), False) is None
                        done[ref] = (f"!压缩包中有多个名为“{posixpath.basename(key)[:60]}”的图片，请写出所在文件夹"
                                     if many else f"!压缩包中没有图片“{ref[:60]}”")
                    else:
                        done[ref] = clean(ref, _read(archive, info, MAX_IMAGE_BYTES, "图片"))
                table.images[ref] = done[ref]


def read_bank_upload(data: bytes, filename: str, limits: Limits) -> BankUpload:
    """Every sheet of an uploaded bank (XLSX, CSV, or a ZIP of one of them and its pictures) with
    its pictures resolved. Raises ``SpreadsheetRejected`` with the reason for the user."""
    clean = _Cleaner()
    if not is_zip_upload(data, filename):
        tables = read_sheets(data, filename, limits)
        if data.startswith(XLSX_MAGIC):
            _embedded(tables, data, clean)
        return BankUpload(tables, clean.images)
    if len(data) > MAX_ZIP_BYTES:
        raise SpreadsheetRejected(f"压缩包过大，请上传不超过 {MAX_ZIP_BYTES // (1024 * 1024)} MB 的文件")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = _members(archive)
        books = [(n, i) for n, i in members if n.lower().endswith((".xlsx", ".csv"))]
        if not books:
            raise SpreadsheetRejected("压缩包中没有题库表格（.xlsx 或 .csv），请把表格和图片一起压缩后上传")
        if len(books) > 1:
            raise SpreadsheetRejected("压缩包中有多个表格文件，请只放一个题库表格")
        name, info = books[0]
        workbook = _read(archive, info, limits.max_bytes, "表格")
        tables = read_sheets(workbook, posixpath.basename(name), limits)
        if workbook.startswith(XLSX_MAGIC):
            _embedded(tables, workbook, clean)
        _named(tables, archive, members, posixpath.dirname(name), clean)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError, ValueError) as exc:
        if isinstance(exc, SpreadsheetRejected):
            raise
        raise SpreadsheetRejected("压缩包已损坏，无法打开，请重新压缩后上传") from None
    return BankUpload(tables, clean.images)


def write_bank_workbook(sheet: str, headers: list[str], rows: list[list[str]], pictures: dict[int, bytes]) -> bytes:
    """A bank's sheet (cells as ``write_workbook`` writes them) with each question's picture
    placed in its row's 图片 cell (``pictures``: row index → JPEG), so it imports again with them."""
    data = write_workbook([(sheet, headers, rows)])
    if not pictures:
        return data
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb[sheet]
    column = get_column_letter(headers.index(IMAGE_HEADER) + 1)
    for index, jpeg in pictures.items():
        picture = SheetImage(io.BytesIO(jpeg))
        scale = min(1.0, EXPORT_PICTURE_HEIGHT / max(picture.height, 1))
        picture.width, picture.height = int(picture.width * scale), int(picture.height * scale)
        ws.add_image(picture, f"{column}{index + 2}")
        ws.row_dimensions[index + 2].height = picture.height * 0.75  # points
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
