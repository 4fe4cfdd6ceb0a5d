"""Exams: eligibility, the paper draw, autosaved answers, submission, scoring and expiry.

* **One open attempt** per learner and course: ``ExamAttempt.open_key`` is unique and set only
  while the attempt is open, so of many simultaneous starts one inserts and the others find it.
* **Expiry is settled by the server, lazily on read**: every read of a learner's attempts (the
  exam page, the attempt page, an autosave, a submit, ``exam_cleared``) first submits the
  learner's overdue open attempts as ``expired`` with the answers saved before the deadline; the
  cron job ``expire_exam_attempts`` does the same for every tenant each minute, so an abandoned
  attempt is scored (and ``exam_submitted`` is called) even if the learner never comes back.
* **Writes to one attempt are serialised**: an autosave and the submission run in a transaction
  that locks the attempt row (``SELECT … FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
  SQLite) and check it is still open, so no answer lands after the score was computed and a
  second submit finds the attempt finished and changes nothing.
* **The page never holds the answer key**: the paper shows options in a shuffled order under
  display letters; the mapping and the answers stay on the server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any


from core.courses.tables import Course, Enrollment, Position
from core.db import for_update, write_transaction
from core.db.scoped import scoped
from core.exams.tables import ExamAnswer, ExamAttempt, Question, QuestionBank
from core.exams.values import JUDGE_OPTIONS, KINDS, LETTERS, ExamPolicy, ScoredQuestion
from core.hookcalls import Hooks, notify
from core.study.services import required_seconds
from core.tenancy import Tenant

log = logging.getLogger("xueshi.exams")
GRACE = dt.timedelta(seconds=5)  # network slack for an answer clicked in the attempt's last second
CHINA = dt.timezone(dt.timedelta(hours=8))

MESSAGES = {
    "not_required": "您的岗位无需在线考核",
    "not_enrolled": "您未报名该课程",
    "hours": "全部学时学习完成后，方可进入在线考核",
    "bank": "本岗位题库题目不足，暂不能考核，请联系培训机构",
    "attempts": "已达到考核次数上限",
    "passed": "您已通过本岗位考核，无需再考",
    "expired": "考试时间已到，系统已自动交卷，超时提交的答案不计分",
    "submitted": "本次考核已交卷，不能再修改答案或重复交卷",
    "not_in_paper": "该题不在本次试卷中，答案未保存",
    "bad_option": "选项无效，答案未保存，请重新选择",
    "busy": "系统繁忙，本次操作未完成，请稍后再试",
}
BUSY_RETRIES = 6


def server_now() -> dt.datetime:
    """The server's clock (tests replace it to step through an attempt's time)."""
    return dt.datetime.now(dt.UTC)


class ExamError(Exception):
    """A refused exam action; ``message`` is shown to the learner (Chinese)."""

    def __init__(self, code: str, attempt: ExamAttempt | None = None) -> None:
        super().__init__(MESSAGES[code])
        self.code = code
        self.message = MESSAGES[code]
        self.attempt = attempt


# --- policy and eligibility --------------------------------------------------------------------


def rules_policy(tenant: Tenant, position: str) -> ExamPolicy:
    """The tenant's ``[exam]`` rules for a position (the core default of ``exam_policy``)."""
    e = tenant.rules.exam
    return ExamPolicy(required=position in e.positions, questions=e.questions, total_points=e.total_points,
                      pass_points=e.pass_points, max_attempts=e.max_attempts, time_limit_minutes=e.time_limit_minutes)


async def policy_for(hooks: Hooks | None, tenant: Tenant, course: Course, position: str) -> ExamPolicy:
    if hooks is not None:
        answer = hooks.exam_policy(tenant=tenant, position=position, course=course)
        if answer is not None:
            return answer
    return rules_policy(tenant, position)


def hours_done(tenant: Tenant, enrollment: Enrollment, course: Course) -> bool:
    """All required hours studied: sent to review (or approved), or credited in full (the review
    itself is not required)."""
    return enrollment.status in ("review", "approved") or (
        float(enrollment.credited_seconds) >= required_seconds(tenant, course) - 1e-6)


@dataclass
class Eligibility:
    enrollment: Enrollment
    course: Course
    position: str
    policy: ExamPolicy
    hours_done: bool
    attempts: list[ExamAttempt] = field(default_factory=list)
    reason: str = ""  # why no attempt may start ("" = it may)

    @property
    def open_attempt(self) -> ExamAttempt | None:
        return next((a for a in self.attempts if a.status == "open"), None)

    @property
    def finished(self) -> list[ExamAttempt]:
        return [a for a in self.attempts if a.status != "open"]

    @property
    def best(self) -> ExamAttempt | None:
        done = self.finished
        return max(done, key=lambda a: (a.score_centi or 0, -a.id)) if done else None

    @property
    def passed(self) -> bool:
        return any(a.passed for a in self.attempts)

    @property
    def can_start(self) -> bool:
        return not self.reason


async def _position_name(tenant: Tenant, position_id: int) -> str:
    row = await scoped(Position, tenant).get(position_id)
    return row.name if row else ""


async def active_question_count(tenant: Tenant, position_id: int) -> int:
    bank = await scoped(QuestionBank, tenant).objects(QuestionBank.position == position_id).first()
    if bank is None:
        return 0
    return await scoped(Question, tenant).count((Question.bank == bank.id) & (Question.active == True))  # noqa: E712


async def eligibility(hooks: Hooks | None, tenant: Tenant, enrollment: Enrollment) -> Eligibility:
    """Whether the enrolment's learner may start an attempt now, and their attempts so far
    (overdue open attempts are settled first)."""
    course = await scoped(Course, tenant).get(enrollment.course)
    position = await _position_name(tenant, course.position)
    policy = await policy_for(hooks, tenant, course, position)
    await settle_overdue(hooks, tenant, account_id=enrollment.account)
    attempts = await scoped(ExamAttempt, tenant).objects(
        (ExamAttempt.account == enrollment.account) & (ExamAttempt.course == course.id)).order_by(ExamAttempt.id)
    e = Eligibility(enrollment, course, position, policy, hours_done(tenant, enrollment, course), list(attempts))
    if not policy.required:
        e.reason = MESSAGES["not_required"]
    elif e.open_attempt is not None:
        e.reason = ""
    elif e.passed:
        e.reason = MESSAGES["passed"]
    elif not e.hours_done:
        e.reason = MESSAGES["hours"]
    elif policy.max_attempts and len(e.finished) >= policy.max_attempts:
        e.reason = MESSAGES["attempts"]
    elif await active_question_count(tenant, course.position) < policy.questions:
        e.reason = MESSAGES["bank"]
    return e


async def exam_cleared(tenant: Tenant, enrollment: Enrollment, hooks: Hooks | None = None) -> bool:
    """For the certificate flow: True when the enrolment's position needs no exam, or a passing
    attempt exists for the course's position and year (any course of them; a later clearing of
    the hours does not undo it). Pass ``hooks`` (``platform.hooks(tenant)``) so a plugin's
    ``exam_policy`` decides; without it the tenant's ``[exam]`` rules do."""
    course = await scoped(Course, tenant).get(enrollment.course)
    if course is None:
        return False
    policy = await policy_for(hooks, tenant, course, await _position_name(tenant, course.position))
    if not policy.required:
        return True
    await settle_overdue(hooks, tenant, account_id=enrollment.account)
    return await scoped(ExamAttempt, tenant).exists(
        (ExamAttempt.account == enrollment.account) & (ExamAttempt.position == course.position)
        & (ExamAttempt.year == course.year) & (ExamAttempt.passed == True))  # noqa: E712


# --- the draw ----------------------------------------------------------------------------------


def allocate_points(weights: Sequence[float], total_centi: int) -> list[int]:
    """Points in hundredths proportional to ``weights`` (the bank's 分值), summing exactly to
    ``total_centi``: each gets the floor of its share, the hundredths left go one each to the
    largest remainders (ties: the earlier question). Equal weights → equal points."""
    exact = [Fraction(str(w)) for w in weights]
    whole = sum(exact)
    shares = [total_centi * w / whole for w in exact]
    floors = [int(s) for s in shares]
    left = total_centi - sum(floors)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in by_remainder[:left]:
        floors[i] += 1
    return floors


def option_texts(question: Question) -> list[str]:
    if question.kind == "judge":
        return list(JUDGE_OPTIONS)
    return [line for line in (question.options or "").split("\n")]


def shuffled_order(question: Question, rng: random.Random) -> str:
    """The original letters in display order; 判断 keeps 对 before 错."""
    letters = list(LETTERS[: len(option_texts(question))])
    if question.kind != "judge":
        rng.shuffle(letters)
    return "".join(letters)


@dataclass(frozen=True)
class PaperItem:
    question: Question
    order: str
    points_centi: int


def draw(questions: Sequence[Question], policy: ExamPolicy, rng: random.Random | None = None) -> list[PaperItem]:
    """``policy.questions`` distinct questions at random, options shuffled, points scaled from the
    bank's 分值 to sum exactly to ``policy.total_points``."""
    rng = rng or random.SystemRandom()
    if len(questions) < policy.questions:
        raise ExamError("bank")
    chosen = rng.sample(list(questions), policy.questions)
    points = allocate_points([max(float(q.points), 0.01) for q in chosen], policy.total_points * 100)
    return [PaperItem(q, shuffled_order(q, rng), p) for q, p in zip(chosen, points, strict=True)]


# --- transactions ------------------------------------------------------------------------------




async def _locked(tenant: Tenant, attempt_id: int) -> ExamAttempt | None:
    return await for_update(scoped(ExamAttempt, tenant).objects(ExamAttempt.id == attempt_id)).first()


def _busy(exc: BaseException) -> bool:
    """SQLite gave up waiting for its write lock (many writers at once)."""
    return "database is locked" in str(exc) or "database is busy" in str(exc)


async def _retrying(write):
    """Run ``write()`` (a coroutine function holding one transaction) again when SQLite's write
    lock stayed busy; after ``BUSY_RETRIES`` tries the learner is told (ExamError "busy", 503),
    never a server error. Other errors pass through."""
    for i in range(BUSY_RETRIES):
        try:
            return await write()
        except ExamError:
            raise
        except Exception as exc:
            if not _busy(exc):
                raise
            if i == BUSY_RETRIES - 1:
                log.warning("exam write gave up: database busy")
                raise ExamError("busy") from None
            await asyncio.sleep(0.05 * (i + 1) * (1 + random.random()))


# --- attempts ----------------------------------------------------------------------------------


async def start_attempt(hooks: Hooks | None, tenant: Tenant, account_id: int, enrollment_id: int,
                        rng: random.Random | None = None) -> ExamAttempt:
    """The learner's open attempt on the enrolment's course, or a new one (a paper drawn now).
    Raises ExamError when no attempt may start; LookupError when the enrolment is not theirs."""
    enrollment = await scoped(Enrollment, tenant).get(enrollment_id, Enrollment.account == account_id)
    if enrollment is None:
        raise LookupError(enrollment_id)
    e = await eligibility(hooks, tenant, enrollment)
    if e.open_attempt is not None:
        return e.open_attempt
    if e.reason:
        raise ExamError(next(k for k, v in MESSAGES.items() if v == e.reason))
    bank = await scoped(QuestionBank, tenant).objects(QuestionBank.position == e.course.position).first()
    questions = await scoped(Question, tenant).objects((Question.bank == bank.id) & (Question.active == True))  # noqa: E712
    paper = draw(questions, e.policy, rng)
    now = server_now()
    key = f"{tenant.id}:{account_id}:{e.course.id}"
    async def write() -> ExamAttempt:
        async with write_transaction(ExamAttempt):
            attempt = scoped(ExamAttempt, tenant).new(
                account=account_id, enrollment=enrollment.id, course=e.course.id, position=e.course.position,
                year=e.course.year, number=len(e.attempts) + 1, status="open", open_key=key, started_at=now,
                deadline=now + dt.timedelta(minutes=e.policy.time_limit_minutes),
                total_centi=e.policy.total_points * 100, pass_centi=e.policy.pass_points * 100)
            await attempt.save()
            await ExamAnswer.insert(*[scoped(ExamAnswer, tenant).new(
                attempt=attempt.id, seq=i, question=item.question.id, order=item.order,
                points_centi=item.points_centi) for i, item in enumerate(paper, start=1)])
        return attempt

    try:
        return await _retrying(write)
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


def overdue(attempt: ExamAttempt, now: dt.datetime | None = None) -> bool:
    return attempt.status == "open" and (now or server_now()) > attempt.deadline + GRACE


async def settle_overdue(hooks: Hooks | None, tenant: Tenant, account_id: int | None = None) -> int:
    """Submit every overdue open attempt (of one learner, or of the whole tenant) as ``expired``."""
    query = scoped(ExamAttempt, tenant).objects((ExamAttempt.status == "open")
                                                & (ExamAttempt.deadline < server_now() - GRACE))
    if account_id is not None:
        query = query.where(ExamAttempt.account == account_id)
    done = 0
    for attempt in await query:
        if await _finish(hooks, tenant, attempt.id, by="server") is not None:
            done += 1
    return done


@dataclass(frozen=True)
class Saved:
    seq: int
    chosen: str  # display letters, as the page shows them
    answered: int  # questions answered so far
    total: int  # questions on the paper


def to_original(order: str, kind: str, shown: Sequence[str], options: int | None = None) -> str:
    """Display letters → the question's original letters (sorted); ExamError for tampered ids
    (and for options the question no longer has: ``options`` is its count now)."""
    picked = set()
    for letter in shown:
        if not isinstance(letter, str) or len(letter) != 1 or letter not in LETTERS[: len(order)]:
            raise ExamError("bad_option")
        original = order[LETTERS.index(letter)]
        if options is not None and LETTERS.index(original) >= options:
            raise ExamError("bad_option")
        picked.add(original)
    if kind in ("single", "judge") and len(picked) > 1:
        raise ExamError("bad_option")
    return "".join(sorted(picked))


def to_shown(order: str, original: str) -> str:
    return "".join(sorted(LETTERS[order.index(c)] for c in original if c in order))


async def save_answer(hooks: Hooks | None, tenant: Tenant, attempt: ExamAttempt, seq: Any,
                      shown: Sequence[str]) -> Saved:
    """Autosave one question's choice (display letters; an empty list clears it). Refused with
    ExamError when the attempt is finished or overdue (then settled), the question is not on the
    paper or an option id is not one of the question's."""
    if attempt.status != "open":
        raise ExamError("submitted" if attempt.status == "submitted" else "expired", attempt)
    if overdue(attempt):
        await _finish(hooks, tenant, attempt.id, by="server")
        raise ExamError("expired", attempt)
    try:
        seq = int(seq)
    except (TypeError, ValueError):
        raise ExamError("not_in_paper", attempt) from None
    now = server_now()
    return await _retrying(lambda: _save(tenant, attempt, seq, shown, now))


async def _save(tenant: Tenant, attempt: ExamAttempt, seq: int, shown: Sequence[str], now: dt.datetime) -> Saved:
    # One transaction (on SQLite one connection) for the checks and the write.
    async with write_transaction(ExamAttempt):
        locked = await _locked(tenant, attempt.id)
        if locked.status != "open":
            raise ExamError("submitted" if locked.status == "submitted" else "expired", locked)
        if now > locked.deadline + GRACE:
            raise ExamError("expired", locked)
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
        done = await _finish(hooks, tenant, attempt.id, by="server")
        raise ExamError("expired", done or await scoped(ExamAttempt, tenant).get(attempt.id))
    done = await _finish(hooks, tenant, attempt.id, by="learner")
    if done is None:  # a concurrent submit (or the server) finished it first
        fresh = await scoped(ExamAttempt, tenant).get(attempt.id)
        raise ExamError("submitted" if fresh.status == "submitted" else "expired", fresh)
    return done


async def _finish(hooks: Hooks | None, tenant: Tenant, attempt_id: int, by: str) -> ExamAttempt | None:
    """Score and close an open attempt under its lock; None when it was no longer open."""
    if not await _retrying(lambda: _close(hooks, tenant, attempt_id, by)):
        return None
    attempt = await scoped(ExamAttempt, tenant).get(attempt_id)
    log.info("exam attempt %s %s by %s: %s/%s", attempt.id, attempt.status, by, attempt.score_centi,
             attempt.total_centi)
    if hooks is not None:
        from core.accounts.tables import Account

        account = await scoped(Account, tenant).get(attempt.account)
        await notify(hooks.exam_submitted, tenant=tenant, account=account, attempt=attempt)
    return attempt


async def _close(hooks: Hooks | None, tenant: Tenant, attempt_id: int, by: str) -> bool:
    async with write_transaction(ExamAttempt):
        attempt = await _locked(tenant, attempt_id)
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
        now = server_now()
        values = {ExamAttempt.status: status, ExamAttempt.open_key: None, ExamAttempt.score_centi: score,
                  ExamAttempt.passed: score >= attempt.pass_centi, ExamAttempt.submitted_by: by,
                  ExamAttempt.submitted_at: min(now, attempt.deadline) if by == "server" else now}
        await scoped(ExamAttempt, tenant).update(values).where(ExamAttempt.id == attempt.id)
    return True


async def record_hidden(tenant: Tenant, attempt: ExamAttempt) -> int:
    """The learner left the page (tab hidden) during an open attempt: counted for reviewers."""
    if attempt.status != "open":
        return attempt.hidden_count
    await scoped(ExamAttempt, tenant).update({ExamAttempt.hidden_count: ExamAttempt.hidden_count + 1}).where(
        (ExamAttempt.id == attempt.id) & (ExamAttempt.status == "open"))
    return (await scoped(ExamAttempt, tenant).get(attempt.id)).hidden_count


# --- what pages show ---------------------------------------------------------------------------


@dataclass
class PaperQuestion:
    seq: int
    kind: str
    kind_label: str
    stem: str
    options: list[tuple[str, str]]  # (display letter, text)
    chosen: str  # display letters
    points: float


async def paper_of(tenant: Tenant, attempt: ExamAttempt) -> list[PaperQuestion]:
    """The paper as the page shows it: display letters and texts, the learner's choices; never
    the answers."""
    answers = await scoped(ExamAnswer, tenant).objects(ExamAnswer.attempt == attempt.id).order_by(ExamAnswer.seq)
    questions = {q.id: q for q in await scoped(Question, tenant).objects(
        Question.id.is_in([a.question for a in answers] or [0]))}
    out = []
    for a in answers:
        q = questions[a.question]
        texts = option_texts(q)
        # A question edited since the draw may have fewer options than the paper's order holds.
        options = [(LETTERS[i], texts[LETTERS.index(original)]) for i, original in enumerate(a.order)
                   if LETTERS.index(original) < len(texts)]
        out.append(PaperQuestion(a.seq, q.kind, KINDS[q.kind], q.stem, options, to_shown(a.order, a.chosen),
                                 a.points_centi / 100))
    return out


async def correct_count(tenant: Tenant, attempt: ExamAttempt) -> tuple[int, int]:
    """(questions with full points, questions) of a finished attempt."""
    answers = await scoped(ExamAnswer, tenant).objects(ExamAnswer.attempt == attempt.id)
    return sum(1 for a in answers if a.awarded_centi and a.awarded_centi == a.points_centi), len(answers)


def points(centi: int | None) -> str:
    """Hundredths as the pages show points: 86, 86.5, 86.25."""
    if centi is None:
        return "—"
    text = f"{centi / 100:.2f}".rstrip("0").rstrip(".")
    return text


def china_time(value: dt.datetime | None) -> str:
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if value else ""


# --- the cron job ------------------------------------------------------------------------------


async def expire_exam_attempts(ctx: dict[str, Any]) -> dict[str, int]:
    """Cron job (every minute): submit every tenant's overdue open attempts as ``expired``."""
    from core.jobs.specs import platform_of

    platform = platform_of(ctx)
    return {t.slug: await settle_overdue(platform.hooks(t), t) for t in platform.tenants if t.id is not None}


def exam_jobs() -> list[Any]:
    from core.jobs.specs import JobSpec

    return [JobSpec(expire_exam_attempts, timeout=120, retries=1, label="考核超时自动交卷", cron="* * * * *",
                    record=False)]
