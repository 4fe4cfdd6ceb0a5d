"""What the webcam page sends when each round trip takes a while, played against a session.

``drive_requests`` plays a recorded clip as core/static/js/facecheck.js sends it when every
request's answer comes back after ``1 / request_fps`` seconds (one request in flight, sent as
soon as the previous answer is in): one frame a request (the latest camera frame) while no
action is asked; while one is, with ``bursts``, the frames the page captured at camera rate
since the previous request (at most ``MAX_BURST``, the latest), capture starting when the
answer carrying the prompt came in. The session takes each request's frames under the server's
rules (core.faces.bursts: times checked, a frame that issues a prompt ends its burst), as
core.proctoring.services.add_frames does, so the figures and tests of quick blinks at slow links
(benchmarks/bench_faces.py, tests/faces) see what the server would judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.faces.bursts import MAX_BURST, check_times, ends_burst
from core.testing import face_media as media

CAMERA_FPS = 30.0  # the page captures at most this often while an action is asked (CAMERA_GAP_MS)


def drive_requests(session: Any, items: Sequence[tuple[int, Any]], schedule: Sequence[int] | None = None, *,
                   request_fps: float = media.PAGE_FPS, phase_ms: float = 0.0, bursts: bool = True,
                   camera_fps: float = CAMERA_FPS, max_burst: int = MAX_BURST) -> tuple[Any, list[list[int]]]:
    """Play ``items`` ((t_ms, frame or FrameSignals) at the clip's own rate) to ``session`` as
    the page's requests, the first at ``phase_ms`` and one every ``1000 / request_fps`` ms.
    ``schedule``: prompt times, as ``media.drive`` takes them; ``max_burst``: the frames a
    request carries at most (the page's own limit, at most the server's). Returns (verdict, the
    frame times of each request as sent)."""
    if schedule is not None:
        session.challenge = session.judge.challenge = media.fixed_challenge(
            session.challenge.actions, session.challenge.nonce, schedule)
    period, capture = 1000.0 / request_fps, 1000.0 / camera_fps
    end = items[-1][0] + (items[-1][0] - items[-2][0] if len(items) > 1 else 0)
    sent: list[list[int]] = []
    shown, capture_from, last = -1, None, None
    k = 0
    while (tick := phase_ms + k * period) < end:
        k += 1
        if bursts and capture_from is not None:  # an action is asked: the captures since the last request
            n = int((tick - capture_from) // capture)
            times = [round(capture_from + j * capture) for j in range(n + 1)]
            times = [t for t in times if last is None or t > last][-max_burst:]
        else:
            times = [round(tick)]
        check_times(times, last)
        sent.append(times)
        last = times[-1]
        for t in times:
            g = media.feed(session, t, _latest(items, t))
            if ends_burst(g):
                break
        if g.done:
            break
        if g.next_prompt and g.action_index > shown:  # shown when the answer arrives: the next tick
            shown, capture_from = g.action_index, tick + period
        elif g.action_index > shown:
            capture_from = None
    return session.finish(), sent


def _latest(items: Sequence[tuple[int, Any]], t: float) -> Any:
    """The camera's frame at ``t``: the latest one recorded at or before it."""
    found = items[0][1]
    for at, x in items:
        if at > t:
            break
        found = x
    return found


__all__ = ["CAMERA_FPS", "drive_requests"]
