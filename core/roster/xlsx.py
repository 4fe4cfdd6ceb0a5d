"""Reading an uploaded XLSX: cell values by python-calamine, pictures by openpyxl's drawing model.

calamine (Rust) reads a sheet's values much faster than openpyxl's read-only mode (docs/exams.md):
numbers as floats, dates and times by the cell's number format (the workbook's 1900 or 1904
epoch), shared and inline strings without phonetic runs, booleans; an empty cell is "". It lays
a sheet out as one grid from A1 to its farthest valued cell, so ``spreadsheets._check_zip`` bounds
the parts' sizes and the cells' positions before calamine sees the bytes. calamine does not
expand entities: a sheet using one is refused as broken.

Pictures: openpyxl's ``SpreadsheetDrawing`` reads each drawing with the cell each picture is
anchored at. Its ``find_images`` is not used: it opens every picture with Pillow and silently
drops one it cannot read, where the caller wants the media member, to read it within its own
limits and refuse a bad picture at its row.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.packaging.relationship import get_dependents, get_rels_path
from openpyxl.reader.workbook import WorkbookParser
from openpyxl.xml.constants import IMAGE_NS
from openpyxl.xml.functions import fromstring
from python_calamine import CalamineWorkbook, SheetTypeEnum


@dataclass
class Sheet:
    name: str
    pictures: list[tuple[int, int, str]] = field(default_factory=list)  # (row, column, media member), 1-based


def sheets(data: bytes) -> tuple[CalamineWorkbook, list[Sheet]]:
    """The workbook and its worksheets in order (chart sheets left out), each with its pictures."""
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    placed = pictures(zipfile.ZipFile(io.BytesIO(data)))
    return book, [Sheet(m.name, placed.get(m.name, [])) for m in book.sheets_metadata
                  if m.typ == SheetTypeEnum.WorkSheet]


def grid(book: CalamineWorkbook, sheet: Sheet) -> list[tuple[int, list]]:
    """A sheet's rows from its first line, as (line number, values)."""
    values = book.get_sheet_by_name(sheet.name).to_python(skip_empty_area=False)
    return list(enumerate(values, start=1))


def pictures(archive: zipfile.ZipFile) -> dict[str, list[tuple[int, int, str]]]:
    """Per sheet name, the pictures of its drawings: the cell each is anchored at (its top-left
    corner, 1-based) and the media member holding its bytes."""
    if not any(name.startswith("xl/drawings/") for name in archive.NameToInfo):
        return {}
    book = WorkbookParser(archive, "xl/workbook.xml")
    book.parse()
    out: dict[str, list[tuple[int, int, str]]] = {}
    for sheet, rel in book.find_sheets():
        for drawing in _related(archive, rel.target).values():
            if drawing.Type == SpreadsheetDrawing._rel_type and drawing.TargetMode != "External":
                out.setdefault(sheet.name, []).extend(_anchored(archive, drawing.target))
    return out


def _related(archive: zipfile.ZipFile, part: str) -> dict:
    """A part's relationships by id (their targets resolved to member names)."""
    rels = get_rels_path(part)
    if rels not in archive.NameToInfo:
        return {}
    return get_dependents(archive, rels).to_dict()


def _anchored(archive: zipfile.ZipFile, member: str) -> list[tuple[int, int, str]]:
    if member not in archive.NameToInfo:
        return []
    try:
        drawing = SpreadsheetDrawing.from_tree(fromstring(archive.read(member)))
    except TypeError:  # DrawingML openpyxl does not model (shapes): no pictures from it
        return []
    media = _related(archive, member)
    out = []
    for blip in drawing._blip_rels:
        rel, start = media.get(blip.embed), getattr(blip.anchor, "_from", None)
        if (rel is not None and rel.Type == IMAGE_NS and rel.TargetMode != "External"
                and rel.target in archive.NameToInfo and start is not None):
            out.append((start.row + 1, start.col + 1, rel.target))
    return out
