"""A fast reader of an XLSX's cell values and of the pictures anchored to its cells.

openpyxl's read-only mode builds an object per shared string and per cell (its descriptors and
rich-text classes) and does not read pictures at all; reading a 10,000-row bank that way took
longer than everything else of the import together. This reader streams the same parts with
expat and returns what openpyxl's ``iter_rows(values_only=True)`` returns (numbers cast the same
way, dates by the cell's number format, shared and inline strings without phonetic runs) plus,
per sheet, the pictures of its drawing with the cell they are anchored at.

It runs after ``spreadsheets._check_zip`` (member sizes, ratios, dimensions): every part it
opens is bounded. A document type declaration or entity is refused (no expansion at all).
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from xml.parsers import expat

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel, from_ISO8601

REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CHUNK = 64 * 1024


class BrokenWorkbook(ValueError):
    """A part is missing, malformed or declares entities."""


@dataclass
class Sheet:
    name: str
    member: str
    pictures: list[tuple[int, int, str]] = field(default_factory=list)  # (row, column, media member), 1-based


def _refuse(*_args) -> None:
    raise BrokenWorkbook("document type declarations are not accepted")


def _parse(archive: zipfile.ZipFile, member: str, start: Callable, end: Callable | None = None,
           text: Callable | None = None, after_chunk: Callable | None = None) -> Iterator[None]:
    """Feed one part to expat in chunks (names as "namespace local"); yields after each chunk."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.StartElementHandler = start
    if end:
        parser.EndElementHandler = end
    if text:
        parser.CharacterDataHandler = text
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(CHUNK):
                parser.Parse(chunk, False)
                yield
            parser.Parse(b"", True)
            yield
    except expat.ExpatError as exc:
        raise BrokenWorkbook(str(exc)) from None


def _run(parts: Iterator[None]) -> None:
    for _ in parts:
        pass


def _local(name: str) -> str:
    return name[name.rfind(" ") + 1:]


def _rels(archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """A part's relationships: id → (type, member path)."""
    folder, base = posixpath.split(part)
    member = posixpath.join(folder, "_rels", base + ".rels")
    out: dict[str, tuple[str, str]] = {}
    if member not in archive.NameToInfo:
        return out

    def start(name, attrs):
        if _local(name) == "Relationship" and attrs.get("TargetMode") != "External":
            target = attrs.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            out[attrs.get("Id", "")] = (attrs.get("Type", ""), path)

    _run(_parse(archive, member, start))
    return out


def sheets(archive: zipfile.ZipFile) -> tuple[list[Sheet], bool]:
    """The worksheets in the workbook's order and whether its dates count from 1904."""
    found: list[tuple[str, str]] = []
    flags = {"1904": False}

    def start(name, attrs):
        local = _local(name)
        if local == "sheet":
            found.append((attrs.get("name", ""), attrs.get(f"{REL_NS} id", "")))
        elif local == "workbookPr":
            flags["1904"] = attrs.get("date1904", "0").lower() in ("1", "true")

    _run(_parse(archive, "xl/workbook.xml", start))
    rels = _rels(archive, "xl/workbook.xml")
    out = []
    for title, rid in found:
        kind, member = rels.get(rid, ("", ""))
        if kind.endswith("/worksheet") and member in archive.NameToInfo:
            out.append(Sheet(title, member, pictures(archive, member)))
    return out, flags["1904"]


def shared_strings(archive: zipfile.ZipFile) -> list[str]:
    member = next((n for n in archive.NameToInfo if n.lower() == "xl/sharedstrings.xml"), None)
    strings: list[str] = []
    if member is None:
        return strings
    parts: list[str] = []
    state = {"text": False, "phonetic": 0}

    def start(name, attrs):
        local = _local(name)
        if local == "t":
            state["text"] = not state["phonetic"]
        elif local == "rPh":
            state["phonetic"] += 1
        elif local == "si":
            parts.clear()

    def end(name):
        local = _local(name)
        if local == "t":
            state["text"] = False
        elif local == "rPh":
            state["phonetic"] -= 1
        elif local == "si":
            strings.append("".join(parts).replace("x005F_", ""))

    def text(data):
        if state["text"]:
            parts.append(data)

    _run(_parse(archive, member, start, end, text))
    return strings


def date_styles(archive: zipfile.ZipFile) -> tuple[set[int], set[int]]:
    """The cell styles (indices into cellXfs) whose number format is a date, and those of them
    that are durations."""
    if "xl/styles.xml" not in archive.NameToInfo:
        return set(), set()
    custom: dict[int, str] = {}
    xfs: list[int] = []
    state = {"cell_xfs": False}

    def start(name, attrs):
        local = _local(name)
        if local == "numFmt":
            custom[int(attrs.get("numFmtId", "0"))] = attrs.get("formatCode", "")
        elif local == "cellXfs":
            state["cell_xfs"] = True
        elif local == "xf" and state["cell_xfs"]:
            xfs.append(int(attrs.get("numFmtId", "0")))

    def end(name):
        if _local(name) == "cellXfs":
            state["cell_xfs"] = False

    _run(_parse(archive, "xl/styles.xml", start, end))
    dates, durations = set(), set()
    for index, fmt_id in enumerate(xfs):
        code = custom.get(fmt_id) or BUILTIN_FORMATS.get(fmt_id, "")
        if code and is_date_format(code):
            dates.add(index)
            if is_timedelta_format(code):
                durations.add(index)
    return dates, durations


def pictures(archive: zipfile.ZipFile, sheet_member: str) -> list[tuple[int, int, str]]:
    """The pictures of a sheet's drawing: (row, column) of the cell each is anchored at (its
    top-left corner, 1-based) and the media member holding its bytes."""
    out: list[tuple[int, int, str]] = []
    for kind, drawing in _rels(archive, sheet_member).values():
        if not kind.endswith("/drawing") or drawing not in archive.NameToInfo:
            continue
        media = _rels(archive, drawing)
        anchor: dict = {}
        state = {"in": "", "text": []}

        def start(name, attrs, anchor=anchor, state=state):
            local = _local(name)
            if local in ("twoCellAnchor", "oneCellAnchor"):
                anchor.clear()
                anchor["depth"] = 1
            elif local == "from" and "depth" in anchor:
                anchor["from"] = True
            elif local in ("row", "col") and anchor.get("from") and local not in anchor:
                state["in"], state["text"] = local, []
            elif local == "blip" and "depth" in anchor:
                anchor.setdefault("embed", attrs.get(f"{REL_NS} embed", ""))

        def end(name, anchor=anchor, state=state, media=media):
            local = _local(name)
            if local == state["in"]:
                anchor[local] = "".join(state["text"]).strip()
                state["in"] = ""
            elif local == "from":
                anchor.pop("from", None)
            elif local in ("twoCellAnchor", "oneCellAnchor") and anchor.get("embed"):
                kind_, path = media.get(anchor["embed"], ("", ""))
                if kind_.endswith("/image") and path in archive.NameToInfo:
                    try:
                        out.append((int(anchor.get("row", "")) + 1, int(anchor.get("col", "")) + 1, path))
                    except ValueError:
                        pass
                anchor.clear()

        def text(data, state=state):
            if state["in"]:
                state["text"].append(data)

        _run(_parse(archive, drawing, start, end, text))
    return out


def _column(ref: str) -> int:
    n = 0
    for ch in ref.rstrip("0123456789"):
        n = n * 26 + ord(ch) - 64
    return n


def _number(text: str) -> int | float:
    if "." in text or "E" in text or "e" in text:
        return float(text)
    return int(text)


def rows(archive: zipfile.ZipFile, sheet: Sheet, strings: list[str], dates: tuple[set[int], set[int]],
         epoch_1904: bool, max_columns: int) -> Iterator[tuple[int, list]]:
    """A sheet's non-empty rows as (row number, values), each no wider than ``max_columns`` + 1
    (a value further right lands in that last place, so the caller sees the sheet is too wide)."""
    date_ids, duration_ids = dates
    epoch = CALENDAR_MAC_1904 if epoch_1904 else CALENDAR_WINDOWS_1900
    done: list[tuple[int, list]] = []
    cells: list = []
    text: list[str] = []
    state = {"row": 0, "col": 0, "t": "n", "s": 0, "collect": False, "phonetic": 0, "inline": False}
    names: dict[str, str] = {}  # "namespace local" → local, computed once per tag

    def local_of(name: str) -> str:
        local = names[name] = name[name.rfind(" ") + 1:]
        return local

    def start(name, attrs):
        local = names.get(name) or local_of(name)
        if local == "c":
            ref = attrs.get("r")
            state["col"] = _column(ref) if ref else state["col"] + 1
            state["t"] = attrs.get("t", "n")
            state["s"] = int(attrs.get("s", 0) or 0)
            text.clear()
        elif local == "v":
            state["collect"] = state["t"] != "inlineStr"
        elif local == "t":
            state["collect"] = state["inline"] and not state["phonetic"]
        elif local == "is":
            state["inline"] = True
        elif local == "rPh":
            state["phonetic"] += 1
        elif local == "row":
            ref = attrs.get("r")
            state["row"] = int(ref) if ref else state["row"] + 1
            state["col"] = 0
            cells.clear()

    def end(name):
        local = names.get(name) or local_of(name)
        if local in ("v", "t"):
            state["collect"] = False
        elif local == "rPh":
            state["phonetic"] -= 1
        elif local == "is":
            state["inline"] = False
        elif local == "c":
            value = _value("".join(text), state["t"], state["s"])
            if value is None or value == "":
                return
            col = state["col"]
            if col > max_columns + 1:
                col = max_columns + 1
                if len(cells) >= col and cells[col - 1] not in (None, ""):
                    return
            if len(cells) < col:
                cells.extend([None] * (col - len(cells)))
            cells[col - 1] = value
        elif local == "row":
            if cells:
                done.append((state["row"], list(cells)))

    def chars(data):
        if state["collect"]:
            text.append(data)

    def _value(raw: str, kind: str, style: int):
        if kind == "inlineStr":
            return raw
        if not raw:
            return None
        if kind == "n":
            number = _number(raw)
            if style in date_ids:
                try:
                    return from_excel(number, epoch, timedelta=style in duration_ids)
                except (OverflowError, ValueError):
                    return "#VALUE!"
            return number
        if kind == "s":
            return strings[int(raw)]
        if kind == "b":
            return bool(int(raw))
        if kind == "d":
            return from_ISO8601(raw)
        return raw  # str (a formula's text), e (an error)

    for _ in _parse(archive, sheet.member, start, end, chars):
        if done:
            yield from done
            done.clear()
