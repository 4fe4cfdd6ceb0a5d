"""Serving a private file with HTTP Range (206): Litestar's ``File`` response has none, and
Safari will not play an MP4 without it. One range per request (``bytes=a-b``, ``bytes=a-``,
``bytes=-n``); an unsatisfiable or malformed range gets 416; several ranges are answered with the
whole file (allowed by RFC 9110). The body is streamed in chunks from the storage: a file read in
a worker thread, or a ranged GET on a bucket."""

from __future__ import annotations

import re

from litestar import Request, Response
from litestar.response import Stream

from core.files.storage import Storage
from core.files.tables import StoredFile

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class BadRange(ValueError):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` inclusive for a single satisfiable range, None for "whole file"; raises
    BadRange (→ 416) for a malformed or unsatisfiable one."""
    if not header:
        return None
    header = header.strip().replace(" ", "")
    if "," in header:
        return None
    m = _RANGE.match(header)
    if m is None:
        raise BadRange(header)
    start, end = m.groups()
    if start == "" and end == "":
        raise BadRange(header)
    if start == "":  # the last n bytes
        n = int(end)
        if n == 0 or size == 0:
            raise BadRange(header)
        return max(0, size - n), size - 1
    first = int(start)
    last = size - 1 if end == "" else min(int(end), size - 1)
    if first >= size or (end != "" and int(end) < first):
        raise BadRange(header)
    return first, last


def serve_range(request: Request, storage: Storage, row: StoredFile, headers: dict[str, str] | None = None
                ) -> Response:
    size, media_type = row.size, row.media_type
    common = {"Accept-Ranges": "bytes", "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
              **(headers or {})}
    try:
        wanted = parse_range(request.headers.get("range"), size)
    except BadRange:
        return Response(content=b"", status_code=416, headers={**common, "Content-Range": f"bytes */{size}"})
    if request.method == "HEAD" or size == 0:
        return Response(content=b"", status_code=200, media_type=media_type,
                        headers={**common, "Content-Length": str(size)})
    if wanted is None:
        first, last, status = 0, size - 1, 200
    else:
        (first, last), status = wanted, 206
        common["Content-Range"] = f"bytes {first}-{last}/{size}"
    common["Content-Length"] = str(max(0, last - first + 1))
    return Stream(storage.chunks(row.key, first, last), status_code=status, media_type=media_type, headers=common)
