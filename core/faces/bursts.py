"""Frames sent in bursts, and the rules the server holds them to.

While a prompt is showing, the webcam page (core/static/js/facecheck.js) captures the camera at
its own rate (~30 frames a second) and each request carries the frames captured since the
previous one, so a slow round trip no longer lets a quick blink (eyes closed for one camera
frame) fall between two requests. The server judges the frames one by one, in order, each as a
request of one frame would be (core.proctoring.services.add_frames), under these rules:

* at most ``MAX_BURST`` frames a request (each within the per-frame size limit), so one request
  costs at most that many model calls;
* every frame's time later than the frame before it (in this request or the previous one) by at
  least ``MIN_GAP_MS``: a client cannot claim more frames a second than a camera gives, and with
  the session's clock checks (a frame may not claim time the server has not seen) the frames
  judged in any stretch of time are bounded too;
* a frame that issues a prompt (or ends the session) ends its burst: the frames after it were
  captured before the page could show that prompt, so they are not judged. An action counts only
  on frames the page sent after the server's answer carried its prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.faces import messages as M
from core.faces.values import ChallengeError, FrameGuidance

# Frames a request: one second of camera frames. With one request in flight, a request carries
# what the camera gave during the previous round trip, the network's time and the server's judging
# of the frames before together (at 250 ms and 20 ms a frame, about 19).
MAX_BURST = 30
MIN_GAP_MS = 25  # between consecutive frames' times: at most 40 frames a second


class BurstError(ChallengeError):
    """The frames of a request broke the rules; ``message`` says which (Chinese)."""

    def __init__(self, detail: str, message: str) -> None:
        super().__init__(detail)
        self.message = message


def check_times(times: Sequence[int], last_t: int | None) -> None:
    """Refuse a request's frame times unless there are 1 to ``MAX_BURST`` of them, each later
    than the one before (``last_t``: the previous request's last frame, None for the first) by
    at least ``MIN_GAP_MS``."""
    if not 1 <= len(times) <= MAX_BURST:
        raise BurstError(f"{len(times)} frames in one request (1 to {MAX_BURST})", M.B_TOO_MANY)
    before = last_t
    for t in times:
        if before is not None and t <= before:
            raise BurstError(f"frame time {t} ms is not after {before} ms", M.B_OUT_OF_ORDER)
        if before is not None and t - before < MIN_GAP_MS:
            raise BurstError(f"frame times {before} and {t} ms are closer than {MIN_GAP_MS} ms", M.B_TOO_CLOSE)
        before = t


def ends_burst(guidance: FrameGuidance) -> bool:
    """Whether the frames after this one in the same request are left unjudged: it issued a
    prompt (the page has not shown it yet) or ended the session."""
    return guidance.done or guidance.next_prompt is not None


__all__ = ["BurstError", "MAX_BURST", "MIN_GAP_MS", "check_times", "ends_burst"]
