"""What the server asks for in a liveness check: the actions, their order, and when each prompt
appears.

The server chooses all of it, so a recording cannot be lined up with the prompts in advance:

* every challenge has at least one non-rigid action (a blink or an open mouth: a photo, however
  it is warped, cannot do them) and, when the pool has any, at least one head movement (a turn or
  a nod, which must show 3-D motion; a talking, blinking clip has no deliberate one);
* prompt 0 appears at a jittered onset after the first frame, and each next prompt a random gap
  after the previous action was recognised (``due``); the page shows a prompt when the server's
  answer to a frame says so, and the judge times the action from that frame.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Iterable

from core.faces.values import Action, ChallengeError

TURNS = (Action.TURN_LEFT, Action.TURN_RIGHT)
HEAD_MOVES = (*TURNS, Action.NOD)
NON_RIGID = (Action.BLINK, Action.OPEN_MOUTH)

ONSET_MS = (1200, 3200)  # prompt 0: uniformly within this range after the page's clock starts
GAP_MS = (400, 1600)  # each next prompt: uniformly this long after the previous action was done


@dataclass(frozen=True, slots=True)
class Challenge:
    """The actions in order, the nonce binding the frames, and the prompt schedule.

    Prompt ``i`` is due at ``prompt_at[i]`` (ms on the page's clock) and, for ``i > 0``, no
    sooner than ``gaps_ms[i - 1]`` after action ``i - 1`` was recognised. Empty schedules mean
    "as soon as possible" (a prompt at 0 ms, the next one right after the previous action)."""

    nonce: str
    actions: tuple[Action, ...]
    timeout_ms: int = 3000
    prompt_at: tuple[int, ...] = ()
    gaps_ms: tuple[int, ...] = ()

    @property
    def prompts(self) -> tuple[str, ...]:
        return tuple(a.prompt for a in self.actions)

    def due(self, index: int, previous_done_ms: int | None) -> int:
        """When prompt ``index`` may be shown, given when the previous action was recognised."""
        at = self.prompt_at[index] if index < len(self.prompt_at) else 0
        if index == 0:
            return at
        gap = self.gaps_ms[index - 1] if index - 1 < len(self.gaps_ms) else 1
        return max(at, (previous_done_ms or 0) + gap)

    def as_dict(self) -> dict:
        """What the page is told up front (the schedule stays on the server)."""
        return {
            "nonce": self.nonce,
            "actions": [str(a) for a in self.actions],
            "prompts": list(self.prompts),
            "timeout_ms": self.timeout_ms,
        }


def draw_challenge(
    available: Iterable[Action | str] = tuple(Action),
    *,
    rng: secrets.SystemRandom | None = None,
    min_actions: int = 2,
    max_actions: int = 3,
    timeout_ms: int = 3000,
) -> Challenge:
    """Draw 2–3 distinct actions (from those the liveness provider can measure and the tenant
    allows) with at least one non-rigid action and, when available, one head movement; a fresh
    144-bit nonce; a jittered onset and random gaps."""
    pool = list(dict.fromkeys(Action(a) for a in available))
    if len(pool) < min_actions:
        raise ChallengeError(f"need at least {min_actions} actions to draw from, got {pool}")
    non_rigid = [a for a in pool if a in NON_RIGID]
    if not non_rigid:
        raise ChallengeError(f"a challenge needs a blink or an open mouth, the pool has {pool}")
    rng = rng or secrets.SystemRandom()
    n = rng.randint(min_actions, min(max_actions, len(pool)))
    chosen = [rng.choice(non_rigid)]
    moves = [a for a in pool if a in HEAD_MOVES]
    if moves and n > 1:
        chosen.append(rng.choice(moves))
    chosen += rng.sample([a for a in pool if a not in chosen], n - len(chosen))
    rng.shuffle(chosen)
    onset = rng.randint(*ONSET_MS)
    gaps = tuple(rng.randint(*GAP_MS) for _ in range(n - 1))
    return Challenge(secrets.token_urlsafe(18), tuple(chosen), timeout_ms, (onset,), gaps)


__all__ = ["Challenge", "GAP_MS", "HEAD_MOVES", "NON_RIGID", "ONSET_MS", "TURNS", "draw_challenge"]
