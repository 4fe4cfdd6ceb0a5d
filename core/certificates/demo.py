"""The demo's certificates: demo learners taken through review, the exam and issuing, as the
reviewer, the learner and the platform would have done it (the real services, not rows written
by hand)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from core import tenant_time
from core.accounts.tables import Account
from core.certificates import registry, services
from core.certificates.jobs import registry_report
from core.certificates.tables import RegistryBatch, RegistryRow
from core.courses.tables import Course, Enrollment
from core.db.scoped import scoped
from core.exams import attempts, paper, scoring
from core.exams.eligibility import exam_cleared
from core.exams.tables import ExamAnswer, Question
from core.hookcalls import Hooks
from core.review import services as review
from core.review.demo import credit_demo_enrolments
from core.roster.spreadsheets import write_csv
from core.tenancy import Tenant


async def seed_demo_certificates(platform: Any, hooks: Hooks, tenant: Tenant, account_ids: list[int],
                                 base_url: str) -> list[str]:
    """Each of these learners' demo enrolments: credited in full, approved by the tenant's first
    reviewer, the exam passed where the position needs one, the certificate issued. Idempotent;
    says what is there on every run (with the verification page at ``base_url``, the demo's
    address, where the certificate's QR code names the tenant's production host)."""
    await credit_demo_enrolments(tenant, account_ids)
    reviewer = await scoped(Account, tenant).objects(Account.role == "reviewer").order_by(Account.id).first()
    lines = []
    for account_id in account_ids:
        for e in await scoped(Enrollment, tenant).objects(Enrollment.account == account_id).order_by(Enrollment.id):
            if e.status == "review" and reviewer is not None:
                await review.approve(hooks, tenant, reviewer, e.id, note="示范数据")
                e = await scoped(Enrollment, tenant).get(e.id)
            if e.status != "approved":
                continue
            if not await exam_cleared(tenant, e, hooks):
                await _pass_exam(hooks, tenant, e)
            certificate = await services.issue(platform, hooks, tenant, e)
            course = await scoped(Course, tenant).get(e.course)
            lines.append(f"电子证书：{certificate.holder_name} {course.title}，证书编号 {certificate.number}，"
                         f"验证码 {services.display_code(certificate.code)}"
                         f"（{base_url}/t/{tenant.slug}{services.verify_path(certificate.code)}）")
    if lines:
        lines.append(await _report_to_registry(platform, tenant, account_ids))
    return lines


async def _report_to_registry(platform: Any, tenant: Tenant, account_ids: list[int]) -> str:
    """A 学时上报 batch when these learners have no uploaded row yet: exported by the report job,
    and the registry's result file, every row 成功 today, reconciled (as an operator would import it)."""
    row = await scoped(RegistryRow, tenant).objects(RegistryRow.account.is_in(account_ids)
                                                    & (RegistryRow.status == "uploaded")).first()
    if row is None:
        batch = scoped(RegistryBatch, tenant).new(exporter="xlsx", status="exporting", created_at=dt.datetime.now(dt.UTC))
        await batch.save()
        await registry_report({"platform": platform}, tenant=tenant.slug, batch_id=batch.id)
        records = await registry.records_of(tenant, batch.id)
        today = tenant_time.today(tenant).isoformat()
        result = write_csv(registry.RESULT_HEADERS, [[r.row_ref, r.id_number, "成功", "", today] for r in records])
        await registry.reconcile(tenant, batch, result, "result.csv")
        batch_id = batch.id
    else:
        batch_id = row.batch
    uploaded = await scoped(RegistryRow, tenant).count((RegistryRow.batch == batch_id)
                                                       & (RegistryRow.status == "uploaded"))
    return f"学时上报：第 {batch_id} 批，已上传 {uploaded} 条（证书管理 → 学时上报）"


async def _pass_exam(hooks: Hooks, tenant: Tenant, enrollment: Enrollment) -> None:
    """An attempt answered correctly throughout and handed in."""
    attempt = await attempts.start_attempt(hooks, tenant, enrollment.account, enrollment.id)
    answers = await scoped(ExamAnswer, tenant).objects(ExamAnswer.attempt == attempt.id).order_by(ExamAnswer.seq)
    questions = {q.id: q for q in await scoped(Question, tenant).objects(
        Question.id.is_in([a.question for a in answers] or [0]))}
    for a in answers:
        await attempts.save_answer(hooks, tenant, attempt.account, attempt.id, a.seq, list(paper.to_shown(a.order, questions[a.question].answer)))
    await scoring.submit(hooks, tenant, attempt)
