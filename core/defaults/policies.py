"""Policy value types returned by resolver hooks, with the core's default rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StudyPolicy:
    allow_seek: bool = False
    snapshot_interval: tuple[int, int] = (300, 900)  # random snapshot every low..high seconds


@dataclass(frozen=True)
class ExamPolicy:
    questions: int = 50
    total_points: int = 100
    pass_points: int = 60
    max_attempts: int = 0  # 0 = unlimited


@dataclass(frozen=True)
class ExamScore:
    points: float
    correct: int
    passed: bool

    @classmethod
    def equal_points(cls, policy: ExamPolicy, questions: list[Any], answers: dict[str, Any]) -> ExamScore:
        """Each question is worth total/len(questions); an answer counts when it equals the key
        (multiple choice compared as sets)."""
        if not questions:
            return cls(0, 0, False)
        correct = 0
        for q in questions:
            given, key = answers.get(str(q["id"])), q["answer"]
            if isinstance(key, list | set | tuple):
                correct += set(given or ()) == set(key)
            else:
                correct += given == key
        points = round(policy.total_points * correct / len(questions), 2)
        return cls(points, correct, points >= policy.pass_points)
