"""Exact medians of a growing series in bounded memory: the values around the median.

``MedianBand`` keeps, sorted by a key, at most ``CAPACITY`` rows around the median and only the
counts of the rows below and above them. Each new row is either counted (beyond the band's edge
on a side that already has rows left out) or inserted, and the band is trimmed on the side
farther from the median. The median is exact while its rank is inside the band; a series that
drifts to one side for longer than the band can take is told by ``middle`` returning None, and
the band is then rebuilt from the whole series (``rebuild``), which the caller keeps elsewhere.
"""

from __future__ import annotations

import bisect
from array import array

CAPACITY = 16


class MedianBand:
    """Rows (tuples of floats) around the median of all rows added, ordered by ``key(row)``
    (the first value here; subclasses choose theirs). Kept as ``(key, *row)``."""

    __slots__ = ("below", "above", "rows")

    @staticmethod
    def key(row: tuple[float, ...]) -> float:
        return row[0]

    def __init__(self) -> None:
        self.below = 0
        self.above = 0
        self.rows: list[tuple[float, ...]] = []

    @property
    def n(self) -> int:
        return self.below + len(self.rows) + self.above

    def add(self, row: tuple[float, ...]) -> None:
        rows = self.rows
        row = (self.key(row), *row)
        if rows and self.below and row[0] < rows[0][0]:
            self.below += 1
            return
        if rows and self.above and row[0] > rows[-1][0]:
            self.above += 1
            return
        bisect.insort(rows, row)
        while len(rows) > CAPACITY:
            if (self.n - 1) / 2 - self.below > (len(rows) - 1) / 2:  # the median is in the upper half
                rows.pop(0)
                self.below += 1
            else:
                rows.pop()
                self.above += 1

    def middle(self) -> list[tuple[float, ...]] | None:
        """The rows at the median's ranks (one for an odd count, two for an even one, none when
        empty), or None when they are not in the band. Each as ``(key, *row)``."""
        n = self.n
        if n == 0:
            return []
        ranks = sorted({(n - 1) // 2, n // 2})
        if ranks[0] < self.below or ranks[-1] >= self.below + len(self.rows):
            return None
        return [self.rows[r - self.below] for r in ranks]

    def rebuild(self, rows: list[tuple[float, ...]]) -> None:
        """The band of the whole series ``rows``: the ``CAPACITY`` rows centred on its median."""
        ordered = sorted((self.key(r), *r) for r in rows)
        start = max(0, min(len(ordered) - CAPACITY, (len(ordered) - CAPACITY) // 2))
        self.rows = ordered[start : start + CAPACITY]
        self.below, self.above = start, len(ordered) - start - len(self.rows)

    def __getstate__(self) -> tuple[int, int, int, bytes]:
        """The counts and the rows without their keys (made again from the rows)."""
        width = len(self.rows[0]) - 1 if self.rows else 0
        return self.below, self.above, width, array("d", (v for r in self.rows for v in r[1:])).tobytes()

    def __setstate__(self, state: tuple[int, int, int, bytes]) -> None:
        self.below, self.above, width, data = state
        values = array("d", data)
        rows = [tuple(values[i : i + width]) for i in range(0, len(values), width)] if width else []
        self.rows = [(self.key(r), *r) for r in rows]
