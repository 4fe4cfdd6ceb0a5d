"""Shared by the exam tests: a construction learner whose hours are done, starting an attempt
over HTTP, the paper's rows, display letters, a server clock to step, a bank of one's own size."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from pathlib import Path

from core.courses import services as courses
from core.courses.tables import Enrollment
from core.exams import bank as banks
from core.exams import writes
from core.exams.bank import seed_bank
from core.exams.eligibility import active_question_count
from core.exams.tables import ExamAnswer, Question
from core.exams.values import LETTERS

T = "/t/construction"
CONFIRM = {"confirm": "1"}  # hand in although questions are unanswered (the page asks first)
DEMO = Path(__file__).resolve().parents[1] / "plugins" / "construction_group" / "demo"


class Clock:
    """``writes.server_now`` replaced: real time plus ``offset``, or ``at`` plus ``offset``."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()
        self.at: dt.datetime | None = None

    def __call__(self) -> dt.datetime:
        return (self.at or dt.datetime.now(dt.UTC)) + self.offset


def stepped_clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(writes, "server_now", clock)
    return clock


async def demo_bank(tenant) -> None:
    position = (await courses.ensure_positions(tenant, ["施工员"]))["施工员"]
    if await active_question_count(tenant, position.id) < 60:
        await seed_bank(tenant, "施工员", DEMO / "exam_bank_shigongyuan.csv")


async def exam_learner(client, platform, make_account, position_name: str = "施工员") -> dict:
    """A signed-in construction learner on a new course of the position, all hours credited."""
    tenant = platform.tenants.get("construction")
    await demo_bank(tenant)
    position = (await courses.ensure_positions(tenant, [position_name]))[position_name]
    course = await courses.create_course(tenant, position.id, 2026, f"考核测试课程{secrets.token_hex(3)}", 1.0)
    account, password = await make_account("construction")
    enrollment = Enrollment(tenant=tenant.id, account=account.id, course=course.id, status="review",
                            credited_seconds=2700.0, created_at=dt.datetime.now(dt.UTC))
    await enrollment.save()
    r = await client.signin("construction", "id", password, id_number=account.id_number)
    assert r.status_code == 303
    return {"tenant": tenant, "account": account, "course": course, "enrollment": enrollment,
            "position": position, "hooks": platform.hooks(tenant)}


async def own_bank(tenant, size: int) -> str:
    """A position of its own whose bank has exactly ``size`` single-choice questions."""
    name = f"题库岗位{secrets.token_hex(3)}"
    position = (await courses.ensure_positions(tenant, [name]))[name]
    bank = await banks.bank_for(tenant, position)
    await banks.commit(tenant, bank, [{"kind": "single", "stem": f"{name} 第 {i} 题", "options": "甲\n乙\n丙\n丁",
                                       "answer": "A", "points": "1"} for i in range(size)])
    return name


async def start(client, enrollment_id: int) -> int:
    r = await client.post(f"{T}/exams/{enrollment_id}/start")
    assert r.status_code == 303, r.text
    match = re.search(r"/exams/attempts/(\d+)$", r.headers["location"])
    assert match, r.headers["location"]
    return int(match.group(1))


async def paper(attempt_id: int) -> list[tuple[ExamAnswer, Question]]:
    answers = await ExamAnswer.objects().where(ExamAnswer.attempt == attempt_id).order_by(ExamAnswer.seq)
    questions = {q.id: q for q in await Question.objects().where(Question.id.is_in([a.question for a in answers]))}
    return [(a, questions[a.question]) for a in answers]


def shown(answer: ExamAnswer, letters: str) -> list[str]:
    """The display letters the page shows for a question's original ``letters``."""
    return [LETTERS[answer.order.index(c)] for c in letters]


def wrong(answer: ExamAnswer, question: Question) -> list[str]:
    """A wrong choice: an option outside the answer (a 多选 whose every option is correct: one alone)."""
    other = next((c for c in answer.order if c not in question.answer), question.answer[0])
    return shown(answer, other)


async def save(client, attempt_id: int, seq, choices: list[str]):
    return await client.hx_post(f"{T}/exams/attempts/{attempt_id}/answer",
                                data={"seq": str(seq), "choice": choices})
