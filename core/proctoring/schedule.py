"""When the server asks for snapshots: a pure function of the tenant's interval, the lesson's
length and a random source, property-tested in tests/test_snapshots.py.

Times are seconds of study credited in the session (not wall-clock time: a paused player is not
studying and is not asked for pictures; a bot that waits in real time is). Gaps are drawn
uniformly from the tenant's ``[minimum, maximum]``, so the page cannot predict them; none is longer
than the maximum, the last capture is less than the maximum before the lesson's end, and every
lesson with anything left to study gets at least one capture, however short it is.
"""

from __future__ import annotations

import random


def plan(rng: random.Random, span: float, minimum: float, maximum: float) -> list[float]:
    """Capture times in ``(0, span)`` seconds of study, for a lesson with ``span`` seconds left.

    Each gap (from 0, between captures, and from the last capture to ``span``) is at most
    ``maximum``; each gap between captures is at least ``minimum``; a lesson shorter than the first
    gap gets one capture in the middle half of it."""
    if span <= 0:
        return []
    if not 0 < minimum <= maximum:
        raise ValueError("0 < minimum <= maximum is required")
    times: list[float] = []
    t = 0.0
    while True:
        t += rng.uniform(minimum, maximum)
        if t >= span:
            break
        times.append(t)
    if not times:
        times.append(rng.uniform(0.25, 0.75) * span)
    return times
