"""How exam writes run: the server's clock, refusals (``ExamError`` with the learner's message),
SQLite's busy write lock retried, an attempt's row lock and its deadline with the network grace.

Every check that protects an attempt runs inside the transaction that writes it, under a row
lock (``SELECT … FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random

from core.db import for_update
from core.db.scoped import scoped
from core.exams.tables import ExamAttempt
from core.tenancy import Tenant

log = logging.getLogger("xueshi.exams")
GRACE = dt.timedelta(seconds=5)  # network slack for an answer clicked in the attempt's last second
BUSY_RETRIES = 6

MESSAGES = {
    "not_required": "您的岗位无需在线考核",
    "not_enrolled": "您未报名该课程",
    "hours": "全部学时学习完成后，方可进入在线考核",
    "bank": "本岗位题库题目不足，暂不能考核，请联系培训机构",
    "attempts": "已达到考核次数上限",
    "cooldown": "距上次交卷时间过短，请稍后再考",
    "daily": "今日考核次数已用完，请明天再考",
    "passed": "您已通过本岗位考核，无需再考",
    "expired": "考试时间已到，系统已自动交卷，超时提交的答案不计分",
    "submitted": "本次考核已交卷，不能再修改答案或重复交卷",
    "not_in_paper": "该题不在本次试卷中，答案未保存",
    "bad_option": "选项无效，答案未保存，请重新选择",
    "busy": "系统繁忙，本次操作未完成，请稍后再试",
}


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


def overdue(attempt: ExamAttempt, now: dt.datetime | None = None) -> bool:
    return attempt.status == "open" and (now or server_now()) > attempt.deadline + GRACE


async def locked(tenant: Tenant, attempt_id: int) -> ExamAttempt | None:
    """The attempt, its row locked until the surrounding transaction ends."""
    return await for_update(scoped(ExamAttempt, tenant).objects(ExamAttempt.id == attempt_id)).first()


def _busy(exc: BaseException) -> bool:
    """SQLite gave up waiting for its write lock (many writers at once)."""
    return "database is locked" in str(exc) or "database is busy" in str(exc)


async def retrying(write):
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
