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
from core.db import for_update, is_postgres, write_transaction
from core.db.scoped import scoped
from core.exams import writes
from core.exams.eligibility import eligibility, position_history, retake_limit
from core.exams.paper import draw, question_ids, to_original, to_shown
from core.exams.scoring import settle_overdue
from core.exams.tables import ExamAnswer, ExamAttempt, Question, QuestionBank
from core.exams.writes import GRACE, ExamError, retrying
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


# The autosave runs on every click of every learner in an exam: its statements are written once
# (building them through Piccolo's query objects cost more than the database's answers). The
# attempt is read with its row lock, and the question asked for with it, in one statement.
LOCK_WITH_QUESTION = (
    'SELECT t."status", t."deadline", a."id" AS "answer", a."order", q."kind", q."options" '
    'FROM "exam_attempt" t '
    'LEFT JOIN "exam_answer" a ON a."attempt" = t."id" AND a."seq" = {} AND a."tenant" = {tenant} '
    'LEFT JOIN "exam_question" q ON q."id" = a."question" AND q."tenant" = {tenant} '
    'WHERE t."id" = {} AND t."account" = {} AND t."tenant" = {tenant}')
ROW_LOCK = ' FOR UPDATE OF t'
WRITE_CHOICE = 'UPDATE "exam_answer" SET "chosen" = {}, "answered_at" = {} WHERE "id" = {} AND "tenant" = {tenant}'
COUNT_ANSWERED = ('SELECT count(*) AS "total", count(CASE WHEN "chosen" <> \'\' THEN 1 END) AS "answered" '
                  'FROM "exam_answer" WHERE "attempt" = {} AND "tenant" = {tenant}')


async def save_answer(hooks: Hooks | None, tenant: Tenant, account_id: int, attempt_id: int, seq: Any,
                      shown: Sequence[str]) -> Saved:
    """Autosave one question's choice (display letters; an empty list clears it) on the
    learner's attempt. LookupError when the attempt is not theirs; ExamError when it is finished
    or overdue (then the learner's overdue attempts are settled), the question is not on the
    paper or an option id is not one of the question's."""
    try:
        seq = int(seq)
    except (TypeError, ValueError):
        seq = 0  # on no paper: refused as not on it once the attempt is known to be open
    now = writes.server_now()
    try:
        return await retrying(lambda: _save(tenant, account_id, attempt_id, seq, shown, now))
    except _Overdue:  # still open past its time: the server hands it in
        await settle_overdue(hooks, tenant, account_id=account_id)
        raise ExamError("expired", await attempt_of(tenant, account_id, attempt_id)) from None


class _Overdue(Exception):
    """The attempt is open but its time (with the grace) is up."""


async def _save(tenant: Tenant, account_id: int, attempt_id: int, seq: int, shown: Sequence[str],
                now: dt.datetime) -> Saved:
    # One transaction (on SQLite one connection) for the checks and the write, under the
    # attempt's row lock (on SQLite the write lock the transaction took at BEGIN).
    rows = scoped(ExamAttempt, tenant)
    async with write_transaction(ExamAttempt):
        found = await rows.run(LOCK_WITH_QUESTION + (ROW_LOCK if is_postgres() else ""), seq, attempt_id, account_id)
        if not found:
            raise LookupError(attempt_id)
        row = found[0]
        if row["status"] != "open":
            attempt = await rows.get(attempt_id)
            raise ExamError("submitted" if row["status"] == "submitted" else "expired", attempt)
        if now > row["deadline"] + GRACE:
            raise _Overdue()
        if row["answer"] is None:
            raise ExamError("not_in_paper")
        count = 2 if row["kind"] == "judge" else len((row["options"] or "").split("\n"))
        chosen = to_original(row["order"], row["kind"], shown, count)
        await rows.run(WRITE_CHOICE, chosen, now, row["answer"])
        marks = (await rows.run(COUNT_ANSWERED, attempt_id))[0]
    return Saved(seq, to_shown(row["order"], chosen), marks["answered"], marks["total"])


async def record_hidden(tenant: Tenant, attempt: ExamAttempt) -> int:
    """The learner left the page (tab hidden) during an open attempt: counted for reviewers."""
    if attempt.status != "open":
        return attempt.hidden_count
    await scoped(ExamAttempt, tenant).update({ExamAttempt.hidden_count: ExamAttempt.hidden_count + 1}).where(
        (ExamAttempt.id == attempt.id) & (ExamAttempt.status == "open"))
    return (await scoped(ExamAttempt, tenant).get(attempt.id)).hidden_count
