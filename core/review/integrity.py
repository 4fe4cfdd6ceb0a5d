"""What the reviewer must see first on a case: study sessions whose snapshots are missing, refused
or late (seconds withdrawn, or no verified snapshot at all), and a portrait or ID-card photo
replaced after study had started, with the images' history."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from core.courses.tables import Enrollment, Lesson
from core.db.scoped import scoped
from core.files.tables import StoredFile
from core.proctoring.study_tables import ProctorSession
from core.proctoring.verdicts import OUTCOMES
from core.study.tables import StudyEvent, StudySession

REFUSED = {kind: reason for outcome, (kind, reason) in OUTCOMES.items() if outcome not in ("ok", "missing")}
MISSING = OUTCOMES["missing"][0]
IDENTITY_KINDS = ("portrait", "id_front")


@dataclass
class SessionFlag:
    """One proctored study session with a problem, in words for the reviewer."""

    started_at: Any
    lesson: str
    studied: float
    verified: int
    problems: list[tuple[str, dict]] = field(default_factory=list)


def _detail(value: Any) -> dict:
    return (json.loads(value) if isinstance(value, str) else value) or {}


async def session_flags(tenant, enrollment: Enrollment) -> list[SessionFlag]:
    """The enrolment's proctored sessions with a missing, refused or late snapshot, uncovered
    seconds, or study without any verified snapshot, oldest first."""
    sessions = await scoped(ProctorSession, tenant).objects(
        (ProctorSession.enrollment == enrollment.id) & (ProctorSession.alternative == False)  # noqa: E712
    ).order_by(ProctorSession.id)
    if not sessions:
        return []
    tokens = [s.session for s in sessions]
    events: dict[str, list[StudyEvent]] = {}
    for e in await scoped(StudyEvent, tenant).objects(StudyEvent.session.is_in(tokens)).order_by(StudyEvent.id):
        events.setdefault(e.session, []).append(e)
    studies = {s.token: s for s in await scoped(StudySession, tenant).objects(StudySession.token.is_in(tokens))}
    lessons = {x.id: x.title for x in await scoped(Lesson, tenant).objects(Lesson.course == enrollment.course)}
    out = []
    for ps in sessions:
        mine = events.get(ps.session, [])
        kinds = [e.kind for e in mine]
        problems: list[tuple[str, dict]] = []  # (message id, figures): the template translates them
        if kinds.count(MISSING):
            problems.append(("抓拍超时未上传 %(n)s 次", {"n": kinds.count(MISSING)}))
        refused = [kind for kind in kinds if kind in REFUSED]
        if refused:
            problems.append(("抓拍未通过 %(n)s 次：%(reasons)s", {
                "n": len(refused), "reasons": "、".join(REFUSED[k] for k in dict.fromkeys(refused))}))
        withdrawn = sum(_detail(e.detail).get("withdrawn_seconds", 0.0) for e in mine if e.kind in ("paused", "uncovered"))
        if "uncovered" in kinds:
            problems.append(("学习结束时没有抓拍覆盖", {}))
        if withdrawn > 0:
            problems.append(("已撤销未核验学时 %(n)s 秒", {"n": f"{withdrawn:.0f}"}))
        verified = kinds.count(OUTCOMES["ok"][0])
        if ps.studied > 0 and verified == 0:
            problems.append(("本次学习没有通过核验的抓拍", {}))
        if ps.provisional > 1e-6:
            problems.append(("%(n)s 秒学时等待抓拍核验", {"n": f"{ps.provisional:.0f}"}))
        if problems:
            study = studies.get(ps.session)
            out.append(SessionFlag(started_at=study.started_at if study else ps.created_at,
                                   lesson=lessons.get(study.lesson, "") if study else "", studied=ps.studied,
                                   verified=verified, problems=problems))
    return out


@dataclass
class IdentityHistory:
    """The learner's portraits and ID-card photos (oldest first) and when they were replaced
    after study had started (``portrait_changed`` events)."""

    images: list[StoredFile]
    changes: list[StudyEvent]


async def identity_history(tenant, enrollment: Enrollment) -> IdentityHistory:
    changes = await scoped(StudyEvent, tenant).objects(
        (StudyEvent.enrollment == enrollment.id) & (StudyEvent.kind == "portrait_changed")).order_by(StudyEvent.id)
    for c in changes:
        c.detail = _detail(c.detail)
    images = await scoped(StoredFile, tenant).objects(
        (StoredFile.owner == enrollment.account) & StoredFile.kind.is_in(list(IDENTITY_KINDS))).order_by(StoredFile.id)
    return IdentityHistory(images=images if changes else [], changes=changes)


async def identity_file(tenant, learner_id: int, file_id: int) -> StoredFile | None:
    """One of the learner's portraits or ID-card photos, current or replaced (else None)."""
    return await scoped(StoredFile, tenant).objects(
        (StoredFile.id == file_id) & (StoredFile.owner == learner_id)
        & StoredFile.kind.is_in(list(IDENTITY_KINDS))).first()
