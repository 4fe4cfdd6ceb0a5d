"""An attempt's life on the learner's side: starting one (paced, its paper drawn), autosaved
answers, the count of the page being left. Submission and scoring: ``core.exams.scoring``.

* **One open attempt** per learner and course: ``ExamAttempt.open_key`` is unique and set only
  while the attempt is open, so of many simultaneous starts one inserts and the others find it.
* **Limits are decided where the attempt is written**: the start locks the learner (their
  account row; on SQLite the write transaction holds the only write lock), reads their attempts
  on the position again and applies ``retake_limit`` (passed, attempt limit, cool-down, today's
  number) before inserting, so simultaneous or slow starts cannot each see room for one more.
* **Writes to one attempt are serialised**: an autosave runs in a transaction that locks the
  attempt row and checks it is still open and in time.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core import tenant_time
from core.accounts.tables import Account
from core.courses.tables import Enrollment
from core.db import for_update, write_transaction
from core.db.scoped import scoped
from core.exams import writes
from core.exams.eligibility import eligibility, position_history, retake_limit
from core.exams.paper import draw, question_ids, to_original, to_shown
from core.exams.scoring import finish
from core.exams.tables import ExamAnswer, ExamAttempt, Question, QuestionBank
from core.exams.writes import GRACE, ExamError, locked, overdue, retrying
from core.hookcalls import Hooks
from core.tenancy import Tenant


async def start_attempt(hooks: Hooks | None, tenant: Tenant, account_id: int, enrollment_id: int,
                        rng: random.Random | None = None) -> ExamAttempt:
    """The learner's open attempt on the enrolment's course, or a new one (a paper drawn now,
    avoiding the previous paper's questions). Raises ExamError when no attempt may start;
    LookupError when the enrolment is not theirs."""
    enrollment = await scoped(Enrollment, tenant).get(enrollment_id, Enrollment.account == account_id)
    if enrollment is None:
        raise LookupError(enrollment_id)
    e = await eligibility(hooks, tenant, enrollment)
    if e.open_attempt is not None:
        return e.open_attempt
    if e.code:
        raise ExamError(e.code)
    bank = await scoped(QuestionBank, tenant).objects(QuestionBank.position == e.course.position).first()
    questions = await scoped(Question, tenant).objects((Question.bank == bank.id) & (Question.active == True))  # noqa: E712
    key = f"{tenant.id}:{account_id}:{e.course.id}"

    async def write() -> ExamAttempt:
        async with write_transaction(ExamAttempt):
            await for_update(scoped(Account, tenant).objects(Account.id == account_id)).first()
            history = await position_history(tenant, account_id, e.course.position)
            current = next((a for a in history if a.open_key == key), None)
            if current is not None:
                return current
            now = writes.server_now()
            code, _ = retake_limit(e.policy, history, e.course.id, now.astimezone(tenant_time.zone(tenant)))
            if code:
                raise ExamError(code)
            paper = draw(questions, e.policy, rng, await question_ids(tenant, history[-1] if history else None))
            attempt = scoped(ExamAttempt, tenant).new(
                account=account_id, enrollment=enrollment.id, course=e.course.id, position=e.course.position,
                year=e.course.year, number=sum(1 for a in history if a.course == e.course.id) + 1, status="open",
                open_key=key, started_at=now, deadline=now + dt.timedelta(minutes=e.policy.time_limit_minutes),
                total_centi=e.policy.total_points * 100, pass_centi=e.policy.pass_points * 100)
            await attempt.save()
            await ExamAnswer.insert(*[scoped(ExamAnswer, tenant).new(
                attempt=attempt.id, seq=i, question=item.question.id, order=item.order,
                points_centi=item.points_centi) for i, item in enumerate(paper, start=1)])
        return attempt

    try:
        return await retrying(write)
    except ExamError:
        raise
    except Exception:
        # Another request opened one first (the unique open_key): that one is the attempt.
        existing = await scoped(ExamAttempt, tenant).objects(ExamAttempt.open_key == key).first()
        if existing is None:
            raise
        return existing


async def attempt_of(tenant: Tenant, account_id: int, attempt_id: int) -> ExamAttempt | None:
    return await scoped(ExamAttempt, tenant).get(attempt_id, ExamAttempt.account == account_id)


@dataclass(frozen=True)
class Saved:
    seq: int
    chosen: str  # display letters, as the page shows them
    answered: int  # questions answered so far
    total: int  # questions on the paper


async def save_answer(hooks: Hooks | None, tenant: Tenant, attempt: ExamAttempt, seq: Any,
                      shown: Sequence[str]) -> Saved:
    """Autosave one question's choice (display letters; an empty list clears it). Refused with
    ExamError when the attempt is finished or overdue (then settled), the question is not on the
    paper or an option id is not one of the question's."""
    if attempt.status != "open":
        raise ExamError("submitted" if attempt.status == "submitted" else "expired", attempt)
    if overdue(attempt):
        await finish(hooks, tenant, attempt.id, by="server")
        raise ExamError("expired", attempt)
    try:
        seq = int(seq)
    except (TypeError, ValueError):
        raise ExamError("not_in_paper", attempt) from None
    now = writes.server_now()
    return await retrying(lambda: _save(tenant, attempt, seq, shown, now))


async def _save(tenant: Tenant, attempt: ExamAttempt, seq: int, shown: Sequence[str], now: dt.datetime) -> Saved:
    # One transaction (on SQLite one connection) for the checks and the write.
    async with write_transaction(ExamAttempt):
        row_lock = await locked(tenant, attempt.id)
        if row_lock.status != "open":
            raise ExamError("submitted" if row_lock.status == "submitted" else "expired", row_lock)
        if now > row_lock.deadline + GRACE:
            raise ExamError("expired", row_lock)
        row = await scoped(ExamAnswer, tenant).select(
            ExamAnswer.id, ExamAnswer.order, ExamAnswer.question.kind.as_alias("kind"),
            ExamAnswer.question.options.as_alias("options")).where(
            (ExamAnswer.attempt == attempt.id) & (ExamAnswer.seq == seq)).first()
        if row is None:
            raise ExamError("not_in_paper", attempt)
        count = 2 if row["kind"] == "judge" else len((row["options"] or "").split("\n"))
        chosen = to_original(row["order"], row["kind"], shown, count)
        await scoped(ExamAnswer, tenant).update({ExamAnswer.chosen: chosen, ExamAnswer.answered_at: now}).where(
            ExamAnswer.id == row["id"])
        marks = await scoped(ExamAnswer, tenant).select(ExamAnswer.chosen).where(ExamAnswer.attempt == attempt.id)
    return Saved(seq, to_shown(row["order"], chosen), sum(1 for m in marks if m["chosen"]), len(marks))


async def record_hidden(tenant: Tenant, attempt: ExamAttempt) -> int:
    """The learner left the page (tab hidden) during an open attempt: counted for reviewers."""
    if attempt.status != "open":
        return attempt.hidden_count
    await scoped(ExamAttempt, tenant).update({ExamAttempt.hidden_count: ExamAttempt.hidden_count + 1}).where(
        (ExamAttempt.id == attempt.id) & (ExamAttempt.status == "open"))
    return (await scoped(ExamAttempt, tenant).get(attempt.id)).hidden_count
