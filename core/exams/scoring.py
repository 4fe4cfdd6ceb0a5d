"""Scoring and closing attempts: the learner's submission, the server's submission of overdue
attempts (lazily on read and by the cron job ``expire_exam_attempts``), and ``exam_score``.

* **Expiry is settled by the server, lazily on read**: every read of a learner's attempts (the
  exam page, the attempt page, an autosave, a submit, ``exam_cleared``) first submits the
  learner's overdue open attempts as ``expired`` with the answers saved before the deadline; the
  cron job does the same for every tenant each minute, so an abandoned attempt is scored (and
  ``exam_submitted`` is called) even if the learner never comes back.
* **Closing is serialised with the autosave**: scoring and closing run in one transaction that
  locks the attempt row and checks it is still open, so no answer lands after the score was
  computed and a second submit finds the attempt finished and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from core.accounts.tables import Account
from core.db import write_transaction
from core.db.scoped import scoped
from core.exams import writes
from core.exams.tables import ExamAnswer, ExamAttempt, Question
from core.exams.values import ScoredQuestion
from core.exams.writes import GRACE, ExamError, locked, overdue, retrying
from core.hookcalls import Hooks, notify
from core.jobs.specs import JobSpec, platform_of, tenants_of
from core.tenancy import Tenant

log = logging.getLogger("xueshi.exams")


def default_fraction(question: ScoredQuestion) -> float:
    """The core's scoring (``exam_score`` default): all of the points for exactly the correct
    options (单选, 判断: the one correct option; 多选: every correct one and nothing else), else none."""
    return 1.0 if question.chosen and question.chosen == question.answer else 0.0


def score_answers(hooks: Hooks | None, tenant: Tenant, items: Sequence[ScoredQuestion]) -> list[int]:
    """Hundredths awarded per question: the ``exam_score`` fraction (clamped to 0…1) of its points."""
    out = []
    for item in items:
        fraction = hooks.exam_score(tenant=tenant, question=item) if hooks is not None else None
        if fraction is None:
            fraction = default_fraction(item)
        fraction = min(max(float(fraction), 0.0), 1.0)
        out.append(round(item.points_centi * fraction))
    return out


async def submit(hooks: Hooks | None, tenant: Tenant, attempt: ExamAttempt) -> ExamAttempt:
    """The learner hands in. A finished attempt is refused (ExamError "submitted"/"expired",
    score unchanged); an overdue one is submitted by the server with the answers saved in time
    and refused as "expired"."""
    if attempt.status != "open":
        raise ExamError("submitted" if attempt.status == "submitted" else "expired", attempt)
    if overdue(attempt):
        done = await finish(hooks, tenant, attempt.id, by="server")
        raise ExamError("expired", done or await scoped(ExamAttempt, tenant).get(attempt.id))
    done = await finish(hooks, tenant, attempt.id, by="learner")
    if done is None:  # a concurrent submit (or the server) finished it first
        fresh = await scoped(ExamAttempt, tenant).get(attempt.id)
        raise ExamError("submitted" if fresh.status == "submitted" else "expired", fresh)
    return done


async def settle_overdue(hooks: Hooks | None, tenant: Tenant, account_id: int | None = None) -> int:
    """Submit every overdue open attempt (of one learner, or of the whole tenant) as ``expired``."""
    query = scoped(ExamAttempt, tenant).objects((ExamAttempt.status == "open")
                                                & (ExamAttempt.deadline < writes.server_now() - GRACE))
    if account_id is not None:
        query = query.where(ExamAttempt.account == account_id)
    done = 0
    for attempt in await query:
        if await finish(hooks, tenant, attempt.id, by="server") is not None:
            done += 1
    return done


async def finish(hooks: Hooks | None, tenant: Tenant, attempt_id: int, by: str) -> ExamAttempt | None:
    """Score and close an open attempt under its lock; None when it was no longer open."""
    if not await retrying(lambda: _close(hooks, tenant, attempt_id, by)):
        return None
    attempt = await scoped(ExamAttempt, tenant).get(attempt_id)
    log.info("exam attempt %s %s by %s: %s/%s", attempt.id, attempt.status, by, attempt.score_centi,
             attempt.total_centi)
    if hooks is not None:
        account = await scoped(Account, tenant).get(attempt.account)
        await notify(hooks.exam_submitted, tenant=tenant, account=account, attempt=attempt)
    return attempt


async def _close(hooks: Hooks | None, tenant: Tenant, attempt_id: int, by: str) -> bool:
    async with write_transaction(ExamAttempt):
        attempt = await locked(tenant, attempt_id)
        if attempt is None or attempt.status != "open":
            return False
        answers = await scoped(ExamAnswer, tenant).objects(ExamAnswer.attempt == attempt.id).order_by(ExamAnswer.seq)
        keys = {q.id: q for q in await scoped(Question, tenant).objects(
            Question.id.is_in([a.question for a in answers] or [0]))}
        items = [ScoredQuestion(keys[a.question].kind, keys[a.question].answer, a.chosen, a.points_centi)
                 for a in answers]
        awarded = score_answers(hooks, tenant, items)
        for answer, points in zip(answers, awarded, strict=True):
            await scoped(ExamAnswer, tenant).update({ExamAnswer.awarded_centi: points}).where(ExamAnswer.id == answer.id)
        score = sum(awarded)
        status = "submitted" if by == "learner" else "expired"
        now = writes.server_now()
        values = {ExamAttempt.status: status, ExamAttempt.open_key: None, ExamAttempt.score_centi: score,
                  ExamAttempt.passed: score >= attempt.pass_centi, ExamAttempt.submitted_by: by,
                  ExamAttempt.submitted_at: min(now, attempt.deadline) if by == "server" else now}
        await scoped(ExamAttempt, tenant).update(values).where(ExamAttempt.id == attempt.id)
    return True


# --- the cron job ------------------------------------------------------------------------------


async def expire_exam_attempts(ctx: dict[str, Any]) -> dict[str, int]:
    """Cron job (every minute): submit the overdue open attempts of every tenant that offers exams as ``expired``."""
    platform = platform_of(ctx)
    return {t.slug: await settle_overdue(platform.hooks(t), t) for t in tenants_of(ctx) if t.id is not None}


def exam_jobs() -> list[Any]:
    return [JobSpec(expire_exam_attempts, timeout=120, retries=1, label="考核超时自动交卷", cron="* * * * *",
                    record=False, flow="exams")]
