"""Who may start an attempt, and when: the exam policy (the ``exam_policy`` hook, by default
the tenant's ``[exam]`` rules), the hours, the attempt limit, the pacing of retakes and the bank;
``exam_cleared`` for the certificate flow."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from core import tenant_time
from core.courses.tables import Course, Enrollment, Position
from core.db.scoped import scoped
from core.exams import pacing, writes
from core.exams.scoring import settle_overdue
from core.exams.tables import ExamAttempt, Question, QuestionBank
from core.exams.values import ExamPolicy
from core.exams.writes import MESSAGES
from core.hookcalls import Hooks
from core.study.services import required_seconds
from core.tenancy import Tenant


def rules_policy(tenant: Tenant, position: str) -> ExamPolicy:
    """The tenant's ``[exam]`` rules for a position (the core default of ``exam_policy``)."""
    e = tenant.rules.exam
    return ExamPolicy(required=position in e.positions, questions=e.questions, total_points=e.total_points,
                      pass_points=e.pass_points, max_attempts=e.max_attempts, time_limit_minutes=e.time_limit_minutes,
                      cooldown_minutes=e.cooldown_minutes, daily_attempts=e.daily_attempts)


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


def retake_limit(policy: ExamPolicy, history: Sequence[ExamAttempt], course_id: int,
                 now: dt.datetime) -> tuple[str, pacing.Pause | None]:
    """What refuses another attempt on the course now, from the learner's attempts on its
    position: passed already, the attempt limit, or a pause (cool-down, today's number);
    ("", None) when nothing does. The one rule for the page and for the start."""
    mine = [a for a in history if a.course == course_id]
    if any(a.passed for a in mine):
        return "passed", None
    if policy.max_attempts and sum(1 for a in mine if a.status != "open") >= policy.max_attempts:
        return "attempts", None
    wait = pacing.pause(policy, history, now)
    return (wait.code, wait) if wait else ("", None)


@dataclass
class Eligibility:
    enrollment: Enrollment
    course: Course
    position: str
    policy: ExamPolicy
    hours_done: bool
    attempts: list[ExamAttempt] = field(default_factory=list)  # on this course
    code: str = ""  # why no attempt may start (a key of MESSAGES; "" = it may)
    pause: pacing.Pause | None = None  # for "cooldown" and "daily": when the next may start

    @property
    def reason(self) -> str:
        return MESSAGES[self.code] if self.code else ""

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
        return not self.code


async def _position_name(tenant: Tenant, position_id: int) -> str:
    row = await scoped(Position, tenant).get(position_id)
    return row.name if row else ""


async def active_question_count(tenant: Tenant, position_id: int) -> int:
    bank = await scoped(QuestionBank, tenant).objects(QuestionBank.position == position_id).first()
    if bank is None:
        return 0
    return await scoped(Question, tenant).count((Question.bank == bank.id) & (Question.active == True))  # noqa: E712


async def position_history(tenant: Tenant, account_id: int, position_id: int) -> list[ExamAttempt]:
    """The learner's attempts on a position (every course of it), oldest first."""
    return list(await scoped(ExamAttempt, tenant).objects(
        (ExamAttempt.account == account_id) & (ExamAttempt.position == position_id)).order_by(ExamAttempt.id))


async def eligibility(hooks: Hooks | None, tenant: Tenant, enrollment: Enrollment) -> Eligibility:
    """Whether the enrolment's learner may start an attempt now, and their attempts so far
    (overdue open attempts are settled first)."""
    course = await scoped(Course, tenant).get(enrollment.course)
    position = await _position_name(tenant, course.position)
    policy = await policy_for(hooks, tenant, course, position)
    await settle_overdue(hooks, tenant, account_id=enrollment.account)
    history = await position_history(tenant, enrollment.account, course.position)
    e = Eligibility(enrollment, course, position, policy, hours_done(tenant, enrollment, course),
                    [a for a in history if a.course == course.id])
    limit, wait = retake_limit(policy, history, course.id, writes.server_now().astimezone(tenant_time.zone(tenant)))
    if not policy.required:
        e.code = "not_required"
    elif e.open_attempt is not None:
        e.code = ""
    elif e.passed:
        e.code = "passed"
    elif not e.hours_done:
        e.code = "hours"
    elif limit:
        e.code, e.pause = limit, wait
    elif await active_question_count(tenant, course.position) < policy.questions:
        e.code = "bank"
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
