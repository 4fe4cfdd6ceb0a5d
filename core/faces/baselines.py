"""The session's baselines: exact medians of every frame's eye openness and face aspect.

The blink is judged against the median eye openness of every frame with a face, and eye and mouth
openness are compensated by the median face aspect (core.faces.detectors). Both medians are kept
exactly without keeping every frame in the judge's state: a band of the values around each
median (core.faces.medians), and every frame's (eye openness, face aspect) pair in ``_history``,
of which the web layer keeps all but the last few apart in chunks (``spill_history``,
``drop_history``); when a median leaves its band, the judge rebuilds the band from the whole
history, asking for the chunks it does not hold with :class:`HistoryNeeded`.
"""

from __future__ import annotations

import math
import statistics
from array import array
from typing import TYPE_CHECKING, Sequence

from core.faces.medians import MedianBand

if TYPE_CHECKING:  # pragma: no cover
    from core.faces.values import FaceObservation

NAN = float("nan")
HISTORY_CHUNK = 8  # (eye openness, face aspect) pairs per chunk of history kept apart
TILTED, PLAIN = 1, 2  # eye openness with a face aspect (tilt-compensated), or without


class HistoryNeeded(LookupError):
    """The judge needs its first ``chunks`` chunks of (eye openness, face aspect) pairs
    (``HISTORY_CHUNK`` frames each), which it does not hold: a median left its band."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        super().__init__(f"the first {chunks} chunks of the history are needed")


class EyeBand(MedianBand):
    """Rows (eye openness, face aspect or NaN), in the order of the tilt-compensated openness:
    eye / aspect when the frame has an aspect (the compensation multiplies it by the aspect
    base, the same for every frame), else the openness itself."""

    __slots__ = ()

    @staticmethod
    def key(row: tuple[float, ...]) -> float:
        eye, aspect = row
        return eye / aspect if aspect and not math.isnan(aspect) else eye


def _num(v: float) -> float | None:
    return None if math.isnan(v) else v


def _packed(v: float | None) -> float:
    return NAN if v is None else float(v)


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _middle(values: Sequence[float | None]) -> float | None:
    """The median from the values at its ranks (``MedianBand.middle``), as statistics.median."""
    if not values:
        return None
    return values[0] if len(values) == 1 else (values[0] + values[1]) / 2


class Baselines:
    """The judge's medians; the judge provides the state read here."""

    # The medians over every frame with a face, exactly, without keeping every frame: bands of
    # the values around each median (core.faces.medians), and the (eye openness, face aspect)
    # pairs of all frames (``_history``, from pair ``_history_base`` on: the earlier ones are
    # kept apart in chunks) to rebuild a band from when its median leaves it.
    _aspect_band: MedianBand
    _eye_band: EyeBand
    _eye_modes: int  # TILTED | PLAIN: which kinds of eye values the band holds
    _aspect_cache: tuple[int, float | None]  # (aspect values seen, their median)
    _history: array
    _history_base: int
    _history_spilled: int

    def _remember(self, f: FaceObservation) -> None:
        """A frame with a face: its eye openness and face aspect, for the medians."""
        eye, aspect = _packed(f.eye_openness), _packed(f.face_aspect)
        self._history.extend((eye, aspect))
        if aspect and not math.isnan(aspect):
            self._aspect_band.add((aspect,))
        if not math.isnan(eye):
            tilted = bool(aspect) and not math.isnan(aspect)
            self._eye_modes |= TILTED if tilted else PLAIN
            self._eye_band.add((eye, aspect))

    def _all_pairs(self) -> list[tuple[float, float]]:
        if self._history_base:
            raise HistoryNeeded(self._history_base // HISTORY_CHUNK)
        h = self._history
        return [(h[i], h[i + 1]) for i in range(0, len(h), 2)]

    def _aspect_rows(self) -> list[tuple[float, ...]]:
        mid = self._aspect_band.middle()
        if mid is None:
            self._aspect_band.rebuild([(a,) for _, a in self._all_pairs() if a and not math.isnan(a)])
            mid = self._aspect_band.middle()
        return mid or []

    def baseline_eye_openness(self) -> float | None:
        if self._eye_modes == TILTED | PLAIN:  # their order depends on the aspect base: all of them
            return _median([e for eye, asp in self._all_pairs()
                            if (e := self._corrected(_num(eye), _num(asp))) is not None])
        mid = self._eye_band.middle()
        if mid is None:
            self._eye_band.rebuild([(eye, asp) for eye, asp in self._all_pairs() if not math.isnan(eye)])
            mid = self._eye_band.middle()
        values = [self._corrected(eye, _num(asp)) for _, eye, asp in mid or []]
        return _middle(values)

    def _aspect_base(self) -> float | None:
        n = self._aspect_band.n
        if self._aspect_cache[0] != n:  # recomputed once per new frame
            self._aspect_cache = (n, _middle([a for _, a in self._aspect_rows()]))
        return self._aspect_cache[1]

    def spill_history(self) -> list[tuple[int, bytes]]:
        """(chunk number, packed pairs) of each full chunk of history not handed over yet."""
        out = []
        while self._history_base + len(self._history) // 2 - self._history_spilled >= HISTORY_CHUNK:
            at = 2 * (self._history_spilled - self._history_base)
            out.append((self._history_spilled // HISTORY_CHUNK,
                        self._history[at : at + 2 * HISTORY_CHUNK].tobytes()))
            self._history_spilled += HISTORY_CHUNK
        return out

    def drop_history(self) -> None:
        """Forget the history handed over (``spill_history``); a median that needs it again
        raises :class:`HistoryNeeded`."""
        del self._history[: 2 * (self._history_spilled - self._history_base)]
        self._history_base = self._history_spilled

    def attach_history(self, chunks: list[bytes]) -> None:
        """Hand back the first chunks of history (``HistoryNeeded.chunks`` of them)."""
        earlier = array("d")
        for c in chunks:
            earlier.frombytes(c)
        if len(earlier) != 2 * self._history_base:
            raise ValueError("the history's chunks do not match")
        self._history = earlier + self._history
        self._history_base = 0

    def _tilt_factor(self, aspect: float | None) -> float:
        """Undo the foreshortening of a tilted face (or photo): base aspect / this aspect."""
        base = self._aspect_base()
        if base and aspect:
            return base / aspect
        return 1.0

    def _corrected(self, value: float | None, aspect: float | None) -> float | None:
        return None if value is None else value * self._tilt_factor(aspect)

    # --- the window ---------------------------------------------------------------------------
