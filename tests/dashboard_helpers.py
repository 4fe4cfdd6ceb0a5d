"""Shared by the dashboard tests: one course's worth of known records in a tenant (enrolments in
every status, exam attempts, certificates, a registry upload, credited hours, face checks,
snapshot events, review decisions and an appeal), written as plain rows so the figures are known, then counted as the dashboards' job does."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

from core.certificates.tables import Certificate, RegistryBatch, RegistryRow
from core.courses.tables import Course, Enrollment, Position
from core.dashboards import counts
from core.exams.tables import ExamAttempt
from core.proctoring.tables import FaceVerification
from core.review.tables import Appeal, ReviewDecision
from core.roster.tables import LearnerProfile
from core.study.services import seconds_per_hour
from core.study.tables import HoursEntry, StudyEvent

NOW = dt.datetime.now(dt.UTC)


@dataclass
class World:
    tenant: object
    position: Position
    course: Course
    company: str
    enrolments: dict[str, Enrollment] = field(default_factory=dict)
    reviewer: object = None


async def _attempt(w: World, e: Enrollment, number: int, score: int, passed: bool, status: str = "submitted") -> None:
    await ExamAttempt(tenant=w.tenant.id, account=e.account, enrollment=e.id, course=w.course.id,
                      position=w.position.id, year=w.course.year, number=number, status=status, started_at=NOW,
                      deadline=NOW, submitted_at=NOW, total_centi=10000, pass_centi=6000, score_centi=score * 100,
                      passed=passed).save()


async def build(platform, make_account, slug: str = "construction", year: int = 2026,
                completed_days_ago: int = 10) -> World:
    """Five learners on a new course of a new position: two studying (one flagged, one of them in
    ``company``), one awaiting review (completed ``completed_days_ago`` days ago), one approved
    (passed on the second attempt, certified, reported), one cleared (appealed)."""
    tenant = platform.tenants.get(slug)
    tag = secrets.token_hex(3)
    position = Position(tenant=tenant.id, name=f"看板岗位{tag}", created_at=NOW)
    await position.save()
    course = Course(tenant=tenant.id, position=position.id, year=year, title=f"看板课程{tag}", created_at=NOW)
    await course.save()
    w = World(tenant, position, course, company=f"看板单位{tag}")
    w.reviewer, _ = await make_account(slug, role="reviewer", real_name=f"审核{tag}")
    plan = {"studying": "studying", "flagged": "studying", "review": "review", "approved": "approved",
            "cleared": "cleared"}
    for key, status in plan.items():
        account, _ = await make_account(slug, real_name=f"看板{key}")
        completed = NOW - dt.timedelta(days=completed_days_ago) if status == "review" else None
        e = Enrollment(tenant=tenant.id, account=account.id, course=course.id, status=status, created_at=NOW,
                       completed_at=completed, flagged=key == "flagged")
        await e.save()
        w.enrolments[key] = e
    for key in ("studying", "approved"):
        await LearnerProfile(tenant=tenant.id, account=w.enrolments[key].account, company=w.company,
                             created_at=NOW, updated_at=NOW).save()
    approved, review = w.enrolments["approved"], w.enrolments["review"]
    await _attempt(w, approved, 1, 40, False)
    await _attempt(w, approved, 2, 85, True)
    await _attempt(w, review, 1, 10, False, status="expired")
    for status, e in (("valid", approved), ("void", review)):
        await Certificate(tenant=tenant.id, enrollment=e.id, account=e.account, number=f"N{tag}{status}",
                          code=secrets.token_hex(8), status=status, holder_name="看板", id_masked="1****1",
                          position=position.name, year=year, hours=32.0, institution="看板", issued_at=NOW).save()
    batch = RegistryBatch(tenant=tenant.id, status="exported", created_at=NOW)
    await batch.save()
    for status, e in (("uploaded", approved), ("rejected", review)):
        await RegistryRow(tenant=tenant.id, batch=batch.id, enrollment=e.id, account=e.account, row_ref="1",
                          institution="看板", position=position.name, status=status, updated_at=NOW).save()
    per_hour = seconds_per_hour(tenant)
    studying = w.enrolments["studying"]
    for seconds in (per_hour, per_hour, 0.0):  # 2 学时 today; a refused claim (0 s) adds nothing
        await HoursEntry(tenant=tenant.id, account=studying.account, enrollment=studying.id, seconds=seconds,
                         claimed=60.0, created_at=NOW).save()
    for purpose, status, e in (("study", "passed", studying), ("study", "failed", studying),
                               ("study", "passed", approved), ("snapshot", "failed", w.enrolments["flagged"]),
                               ("snapshot", "open", approved)):
        await FaceVerification(tenant=tenant.id, account=e.account, purpose=purpose, status=status,
                               nonce=secrets.token_hex(16), created_at=NOW).save()
    flagged = w.enrolments["flagged"]
    for kind in ("snapshot_mismatch", "snapshot_mismatch", "flagged", "snapshot_ok"):
        await StudyEvent(tenant=tenant.id, account=flagged.account, enrollment=flagged.id, kind=kind,
                         created_at=NOW).save()
    reviewer = w.reviewer.id
    await ReviewDecision(tenant=tenant.id, enrollment=approved.id, learner=approved.account, reviewer=reviewer,
                         kind="approve", created_at=NOW).save()
    cleared = w.enrolments["cleared"]
    clearing = ReviewDecision(tenant=tenant.id, enrollment=cleared.id, learner=cleared.account, reviewer=reviewer,
                              kind="clear", status="done", created_at=NOW)
    await clearing.save()
    await ReviewDecision(tenant=tenant.id, enrollment=cleared.id, learner=cleared.account, reviewer=reviewer,
                         kind="clear", status="withdrawn", created_at=NOW).save()
    await Appeal(tenant=tenant.id, enrollment=cleared.id, learner=cleared.account, clearing=clearing.id,
                 statement="不是我", created_at=NOW).save()
    await counts.recount(tenant)  # what the minutely job does (a run may also have happened at startup)
    return w
