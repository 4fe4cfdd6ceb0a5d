"""Pacing of retakes: a cool-down after each attempt and a number of attempts per day, both from
the exam policy (``cooldown_minutes``, ``daily_attempts``; 0 = none, the core's default).

Retakes stay unlimited where the tenant says so, but a learner who tries to learn the bank from
the result page (one question per attempt) gets only as many scores a day as the policy allows.
Both limits count the learner's attempts on the position (its question bank), over all its
courses; the cool-down runs from an attempt's end (for one still open: its deadline). "Today" is
the tenant's calendar day: callers pass ``now`` in the tenant's zone (``core.tenant_time``).

The decision is made by ``pause`` on the attempts read inside the transaction that inserts the
new attempt, under the learner's lock (``core.exams.attempts.start_attempt``); pages call it on
the same rows to say when the next attempt may start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from core import tenant_time
from core.exams.tables import ExamAttempt
from core.exams.values import ExamPolicy

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Pause:
    """Why no attempt may start now, and from when one may."""

    code: str  # "cooldown" | "daily"
    until: dt.datetime


def pause(policy: ExamPolicy, history: Sequence[ExamAttempt], now: dt.datetime) -> Pause | None:
    """The pause ``history`` (the learner's attempts on the position) imposes at ``now``, or
    None. With both limits reached the one that ends later is given."""
    pauses = []
    if policy.daily_attempts:
        today = tenant_time.day_start(now, now.tzinfo)
        if sum(1 for a in history if a.started_at >= today) >= policy.daily_attempts:
            pauses.append(Pause("daily", today + DAY))
    # An attempt still open (on another course of the position) ends at the latest at its deadline.
    ends = [a.deadline if a.status == "open" else a.submitted_at for a in history]
    ends = [end for end in ends if end is not None]
    if policy.cooldown_minutes and ends:
        until = max(ends) + dt.timedelta(minutes=policy.cooldown_minutes)
        if now < until:
            pauses.append(Pause("cooldown", until))
    return max(pauses, key=lambda p: p.until, default=None)
