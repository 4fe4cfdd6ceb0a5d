"""Plain values of the exams flow (no database or web imports): what hooks receive and return."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = {"single": "单选", "multiple": "多选", "judge": "判断"}
KIND_BY_LABEL = {label: kind for kind, label in KINDS.items()} | {
    "单选题": "single", "多选题": "multiple", "判断题": "judge"}
LETTERS = "ABCDEFGH"
JUDGE_OPTIONS = ("对", "错")


@dataclass(frozen=True)
class ExamPolicy:
    """Whether a course's position needs an exam, and the paper's shape.

    ``questions`` distinct questions are drawn per attempt; their points sum to ``total_points``;
    ``pass_points`` or more passes; ``max_attempts`` 0 = unlimited retakes;
    ``time_limit_minutes``: the server submits the attempt when the time is up;
    ``cooldown_minutes``: the wait after an attempt ends before the next may start;
    ``daily_attempts``: attempts a learner may start per day on the position (0 = no limit)."""

    required: bool
    questions: int = 50
    total_points: int = 100
    pass_points: int = 60
    max_attempts: int = 0
    time_limit_minutes: int = 60
    cooldown_minutes: int = 0
    daily_attempts: int = 0


@dataclass(frozen=True)
class ScoredQuestion:
    """What ``exam_score`` judges: one question of a paper and the learner's choice, both in the
    question's original option letters (sorted; "" = not answered)."""

    kind: str  # single | multiple | judge
    answer: str
    chosen: str
    points_centi: int  # the question's points on this paper, in hundredths
