"""Probes for tests/test_isolation.py: how to make an object behind each route that takes an id.

Every route whose path has a parameter other than ``tenant_slug`` needs an entry in ``PROBES``,
keyed by its tenant-relative path exactly as Litestar spells it (``/inbox/{notification_id:int}/read``).
A probe creates the object in tenant ``slug`` and returns the path parameters that point at it;
``role`` is who may reach the route in their own tenant. The isolation test then asks for that
object from another tenant (path prefix and host name) and expects 404.

With ``ctx.owner`` set (a signed-in account of ``role`` in ``slug``), the probe makes the object
that account's own (its company's, its enrolment, its profile's image) and returns ``_content``:
text (or bytes) the owner's GET of the route shows (a dict when one probe serves several routes:
by the path's last segment, "" for the others). The positive control asks as the owner and
expects the route to answer with that content, so a 404 above is about the tenant, not a probe
that makes objects nobody can reach.

Parameters that are not object ids (a sign-in method key, a static file path) go in
``NOT_OBJECT_IDS`` with the reason. Plugins' own tests may add entries with ``register()``.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from core.accounts.tables import Enterprise
from core.content.tables import Article
from core.files.tables import StoredFile
from core.notify.tables import Notification
from core.roster.tables import ImportJob, RosterEntry
from plugins.survey_association.tables import CertificateHolder, CompanyCertification
from core.testing.ids import fake_id_number


@dataclass
class Ctx:
    platform: Any
    make_account: Callable[..., Awaitable[Any]]
    owner: Any = None  # the account the object is made for (positive control), else nobody's

    def tenant_id(self, slug: str) -> int:
        return self.platform.tenants.get(slug).id


Make = Callable[[Ctx, str], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Probe:
    make: Make
    role: str  # the role that reaches the route in its own tenant


PROBES: dict[str, Probe] = {}

NOT_OBJECT_IDS: dict[str, str] = {
    "/signin/{method_key:str}": "a sign-in method key from the tenant's own list, not an object",
    "/static/core/{file_path:path}": "public static files",
    "/static/themes/{file_path:path}": "public static files",
    "/me/archive/image/{kind:str}": "the signed-in learner's own image by kind (id_front|id_back|portrait), never an id",
    "/sms/receipts/{provider:str}": "an SMS provider's name (aliyun|tencent); the receipt's texts are looked up in the "
                                    "tenant the credentials name (plugins/sms_tencent/tests/test_receipt_callback.py)",
}


def register(path: str, role: str) -> Callable[[Make], Make]:
    def deco(make: Make) -> Make:
        PROBES[path] = Probe(make, role)
        return make

    return deco


# --- core --------------------------------------------------------------------------------------


@register("/inbox/{notification_id:int}/read", "learner")
async def _notification(ctx: Ctx, slug: str) -> dict[str, Any]:
    account = ctx.owner or (await ctx.make_account(slug))[0]
    row = Notification(tenant=ctx.tenant_id(slug), account=account.id, channel="inbox", template="welcome",
                       subject="隔离测试", body="隔离测试消息")
    await row.save()
    return {"notification_id": row.id, "_content": "隔离测试消息"}


# --- shared factories ------------------------------------------------------------------------


async def _enterprise(ctx: Ctx, slug: str) -> Enterprise:
    if ctx.owner is not None and ctx.owner.enterprise:
        return await Enterprise.objects().where(Enterprise.id == ctx.owner.enterprise).first()
    row = Enterprise(tenant=ctx.tenant_id(slug), name=f"隔离测试企业{secrets.token_hex(3)}")
    await row.save()
    return row


async def _file(ctx: Ctx, slug: str, kind: str = "id_front") -> StoredFile:
    """A stored file with bytes on disk (``FILE_BYTES``)."""
    return await ctx.platform.storage.save(FILE_BYTES, tenant_id=ctx.tenant_id(slug), kind=kind,
                                           media_type="image/jpeg")


FILE_BYTES = b"\xff\xd8isolation-probe-file"


async def _entry(ctx: Ctx, slug: str) -> RosterEntry:
    enterprise = await _enterprise(ctx, slug)
    image = await _file(ctx, slug)
    row = RosterEntry(tenant=ctx.tenant_id(slug), enterprise=enterprise.id, real_name="隔离名册学员",
                      id_number=fake_id_number(), id_front=image.id, id_back=image.id, photo=image.id)
    await row.save()
    return row


async def _article(ctx: Ctx, slug: str) -> Article:
    import datetime as dt

    attachment = await _file(ctx, slug, "attachment")
    row = Article(tenant=ctx.tenant_id(slug), category="news", title="隔离测试公告", body="正文",
                  published_on=dt.date.today(), attachment=attachment.id)
    await row.save()
    return row


# --- survey_association ------------------------------------------------------------------------


async def _enterprise_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    row = Enterprise(tenant=ctx.tenant_id(slug), name=f"隔离测试企业{secrets.token_hex(3)}")
    await row.save()
    licence = await _file(ctx, slug, "licence")
    await CompanyCertification(tenant=row.tenant, enterprise=row.id, status="pending", licence=licence.id).save()
    return {"enterprise_id": row.id, "_content": FILE_BYTES}


for _suffix in ("licence", "approve", "reject"):
    register(f"/staff/enterprises/{{enterprise_id:int}}/{_suffix}", "tenant_admin")(_enterprise_id)


async def _holder_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    row = CertificateHolder(tenant=ctx.tenant_id(slug), real_name="隔离持证人", id_number=fake_id_number(),
                            cert_number=f"ISO-{secrets.token_hex(3)}",
                            enterprise=ctx.owner.enterprise if ctx.owner is not None else None)
    await row.save()
    return {"holder_id": row.id, "_content": "隔离持证人"}


for _path in ("/company/certificates/{holder_id:int}/edit", "/company/certificates/{holder_id:int}"):
    register(_path, "enterprise_admin")(_holder_id)


async def _job_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    enterprise = ctx.owner.enterprise if ctx.owner is not None else None
    kept = await _kept_rows(ctx, slug, ["姓名", "身份证号", "手机号", "岗位"], ["隔离导入学员", fake_id_number(), "", "勘察员"])
    row = ImportJob(tenant=ctx.tenant_id(slug), kind="roster", filename="隔离名单.xlsx", total_rows=1,
                    enterprise=enterprise, file=kept.id)
    await row.save()
    return {"job_id": row.id, "_content": {"": "隔离名单.xlsx", "progress": 'data-status="previewed"'}}


async def _kept_rows(ctx: Ctx, slug: str, headers: list[str], row: list[str]) -> StoredFile:
    """An import's kept rows, as an upload leaves them (``core.roster.imports.keep_table``)."""
    from core.roster.imports import keep_table
    from core.roster.spreadsheets import Table

    return await keep_table(ctx.platform.storage, ctx.platform.tenants.get(slug), Table(headers, [(2, row)]))


for _path in ("/company/learners/import/{job_id:int}", "/company/learners/import/{job_id:int}/progress",
              "/company/learners/import/{job_id:int}/confirm"):
    register(_path, "enterprise_admin")(_job_id)


@register("/company/learners/{entry_id:int}", "enterprise_admin")
async def _entry_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    return {"entry_id": (await _entry(ctx, slug)).id, "_content": "隔离名册学员"}


@register("/company/learners/{entry_id:int}/files/{kind:str}", "enterprise_admin")
async def _entry_file(ctx: Ctx, slug: str) -> dict[str, Any]:
    return {"entry_id": (await _entry(ctx, slug)).id, "kind": "id_front", "_content": FILE_BYTES}


@register("/profile/files/{file_id:int}", "learner")
async def _file_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    from core.roster.tables import LearnerProfile

    file = await _file(ctx, slug)
    if ctx.owner is not None:  # the learner's own ID-card image
        await LearnerProfile(tenant=ctx.tenant_id(slug), account=ctx.owner.id, real_name=ctx.owner.real_name,
                             id_front=file.id).save()
    return {"file_id": file.id, "_content": FILE_BYTES}


async def _article_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    return {"article_id": (await _article(ctx, slug)).id, "_content": {"": "隔离测试公告", "attachment": FILE_BYTES}}


for _path in ("/news/{article_id:int}", "/news/{article_id:int}/attachment"):
    register(_path, "learner")(_article_id)
for _path in ("/staff/articles/{article_id:int}", "/staff/articles/{article_id:int}/delete",
              "/staff/articles/{article_id:int}/attachment"):
    register(_path, "tenant_admin")(_article_id)


# --- jobs ----------------------------------------------------------------------------------------


@register("/admin/jobs/{run_id:int}", "tenant_admin")
async def _run_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    from core.jobs.tables import JobRun

    row = JobRun(tenant=ctx.tenant_id(slug), key=f"isolation-{secrets.token_hex(4)}", function="run_roster_import",
                 label="隔离测试任务")
    await row.save()
    return {"run_id": row.id, "_content": "隔离测试任务"}


async def _certificate_import_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    row = ImportJob(tenant=ctx.tenant_id(slug), kind="certificates", filename="证书.xlsx", total_rows=7,
                    processed_rows=7, status="done", summary={"rows": 7, "created": 7})
    await row.save()
    return {"import_id": row.id, "_content": "共 7 行"}


for _path in ("/staff/certificates/import/{import_id:int}", "/staff/certificates/import/{import_id:int}/progress"):
    register(_path, "tenant_admin")(_certificate_import_id)


# --- courses and study ---------------------------------------------------------------------------

VIDEO_BYTES = b"\x1a\x45\xdf\xa3isolation-probe-video"
POSTER_BYTES = b"\xff\xd8\xff\xe0isolation-probe-poster"


async def _course(ctx: Ctx, slug: str):
    import datetime as dt

    from core.courses.tables import Course, Lesson, Position

    now = dt.datetime.now(dt.UTC)
    tenant_id = ctx.tenant_id(slug)
    position = Position(tenant=tenant_id, name=f"隔离岗位{secrets.token_hex(3)}", created_at=now)
    await position.save()
    course = Course(tenant=tenant_id, position=position.id, year=2026, title="隔离测试课程", required_hours=1.0,
                    created_at=now)
    await course.save()
    video = await ctx.platform.storage.save(VIDEO_BYTES, tenant_id=tenant_id, kind="lesson_video",
                                            media_type="video/webm")
    poster = await ctx.platform.storage.save(POSTER_BYTES, tenant_id=tenant_id, kind="lesson_poster",
                                             media_type="image/jpeg")
    lesson = Lesson(tenant=tenant_id, course=course.id, title="隔离测试课件", kind="video", file=video.id,
                    poster_file=poster.id, duration_seconds=60.0, created_at=now)
    await lesson.save()
    return course, lesson


async def _enrolled(ctx: Ctx, slug: str):
    import datetime as dt

    from core.courses.tables import Enrollment

    course, lesson = await _course(ctx, slug)
    account = ctx.owner or (await ctx.make_account(slug))[0]
    if ctx.owner is not None:  # the profile study needs (ID card both sides, a portrait)
        from core.roster.tables import LearnerProfile

        image = await _file(ctx, slug)
        await LearnerProfile(tenant=ctx.tenant_id(slug), account=account.id, real_name=account.real_name,
                             id_front=image.id, id_back=image.id, portrait=image.id).save()
    enrollment = Enrollment(tenant=ctx.tenant_id(slug), account=account.id, course=course.id,
                            created_at=dt.datetime.now(dt.UTC))
    await enrollment.save()
    return course, lesson, enrollment


async def _course_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    course, _ = await _course(ctx, slug)
    return {"course_id": course.id, "_content": "隔离测试课程"}


register("/admin/courses/{course_id:int}/edit", "tenant_admin")(_course_id)


@register("/admin/courses/{course_id:int}/lessons/{lesson_id:int}/move", "tenant_admin")
async def _course_lesson(ctx: Ctx, slug: str) -> dict[str, Any]:
    course, lesson = await _course(ctx, slug)
    return {"course_id": course.id, "lesson_id": lesson.id, "_content": "隔离测试课程"}


register("/admin/courses/{course_id:int}/lessons/{lesson_id:int}/delete", "tenant_admin")(_course_lesson)


@register("/admin/courses/{course_id:int}/lessons/{lesson_id:int}/retry", "tenant_admin")
async def _failed_video_lesson(ctx: Ctx, slug: str) -> dict[str, Any]:
    from core.courses.tables import Lesson

    course, lesson = await _course(ctx, slug)
    source = await ctx.platform.storage.save(VIDEO_BYTES, tenant_id=ctx.tenant_id(slug), kind="lesson_source",
                                             media_type="video/webm")
    await Lesson.update({Lesson.video_status: "failed", Lesson.video_error: "隔离测试", Lesson.file: None,
                         Lesson.source_file: source.id}).where(Lesson.id == lesson.id)
    return {"course_id": course.id, "lesson_id": lesson.id, "_content": "隔离测试课程"}


for _path in ("/admin/courses/{course_id:int}", "/admin/courses/{course_id:int}/lessons",
              "/admin/courses/{course_id:int}/enrol"):
    register(_path, "tenant_admin")(_course_id)


async def _lesson_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    _, lesson, _ = await _enrolled(ctx, slug)
    if ctx.owner is not None:  # the face gate the player asks for: consent and a passed check
        import datetime as dt

        from core.proctoring import consent
        from core.proctoring.tables import FaceVerification

        tenant = ctx.platform.tenants.get(slug)
        await consent.ensure(tenant, ctx.owner.id)
        now = dt.datetime.now(dt.UTC)
        await FaceVerification(tenant=tenant.id, account=ctx.owner.id, purpose="study", nonce=secrets.token_hex(16),
                               status="passed", created_at=now, finished_at=now).save()
    return {"lesson_id": lesson.id, "_content": {"": "隔离测试课件", "media": VIDEO_BYTES, "poster": POSTER_BYTES}}


for _path in ("/study/lessons/{lesson_id:int}", "/study/lessons/{lesson_id:int}/session",
              "/study/lessons/{lesson_id:int}/media", "/study/lessons/{lesson_id:int}/poster"):
    register(_path, "learner")(_lesson_id)


@register("/study/{enrollment_id:int}", "learner")
async def _enrollment_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    _, _, enrollment = await _enrolled(ctx, slug)
    return {"enrollment_id": enrollment.id, "_content": "隔离测试课程"}


async def _learner_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    account, _ = await ctx.make_account(slug, real_name="隔离学员甲")
    return {"account_id": account.id, "_content": "隔离学员甲"}


for _path in ("/admin/learners/{account_id:int}", "/admin/learners/{account_id:int}/mobile",
              "/admin/staff/learners/{account_id:int}", "/admin/staff/learners/{account_id:int}/password"):
    register(_path, "tenant_admin")(_learner_id)


@register("/admin/staff/{account_id:int}", "tenant_admin")
async def _staff_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    account, _ = await ctx.make_account(slug, role="reviewer", real_name="隔离审核员")
    return {"account_id": account.id, "_content": "隔离审核员"}


register("/admin/staff/{account_id:int}/active", "tenant_admin")(_staff_id)


@register("/admin/learners/{account_id:int}/registry/{enrollment_id:int}/resend", "tenant_admin")
async def _learner_enrollment(ctx: Ctx, slug: str) -> dict[str, Any]:
    import datetime as dt

    from core.courses.tables import Enrollment

    course, _ = await _course(ctx, slug)
    learner, _ = await ctx.make_account(slug, real_name="隔离学员乙")
    enrollment = Enrollment(tenant=ctx.tenant_id(slug), account=learner.id, course=course.id,
                            created_at=dt.datetime.now(dt.UTC))
    await enrollment.save()
    return {"account_id": learner.id, "enrollment_id": enrollment.id}


@register("/admin/learners/import/{job_id:int}", "tenant_admin")
async def _learner_import_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    import datetime as dt

    kept = await _kept_rows(ctx, slug, ["姓名", "身份证号", "手机号", "岗位"],
                            ["隔离导入学员", fake_id_number(), "", "标准员"])
    row = ImportJob(tenant=ctx.tenant_id(slug), kind="learners", filename="learners.csv", file=kept.id,
                    total_rows=1, created_at=dt.datetime.now(dt.UTC))
    await row.save()
    return {"job_id": row.id}


# --- review ------------------------------------------------------------------------------------


async def _review_case(ctx: Ctx, slug: str) -> dict[str, Any]:
    """A case in tenant ``slug`` with every object a review route can name: a pending clearing,
    an appeal with its photo, a face check's frame and the learner's portrait."""
    import datetime as dt

    from core.proctoring.tables import FaceVerification
    from core.review.tables import Appeal, ReviewDecision
    from core.roster.tables import LearnerProfile

    now = dt.datetime.now(dt.UTC)
    tenant_id = ctx.tenant_id(slug)
    _, _, enrollment = await _enrolled(Ctx(ctx.platform, ctx.make_account), slug)  # a learner's, not the reviewer's
    enrollment.status, enrollment.completed_at = "review", now
    await enrollment.save()
    reviewer, _ = await ctx.make_account(slug, role="reviewer")
    decision = ReviewDecision(tenant=tenant_id, enrollment=enrollment.id, learner=enrollment.account,
                              reviewer=reviewer.id, kind="clear", reason="idle", status="pending", created_at=now)
    await decision.save()
    photo = await _file(ctx, slug, "appeal")
    appeal = Appeal(tenant=tenant_id, enrollment=enrollment.id, learner=enrollment.account, clearing=decision.id,
                    statement="隔离测试申诉", photo=photo.id, created_at=now)
    await appeal.save()
    frame = await _file(ctx, slug, "evidence")
    await FaceVerification(tenant=tenant_id, account=enrollment.account, purpose="snapshot",
                           nonce=secrets.token_hex(8), evidence=[frame.id]).save()
    portrait = await _file(ctx, slug, "portrait")
    await LearnerProfile(tenant=tenant_id, account=enrollment.account, real_name="隔离学员",
                         portrait=portrait.id).save()
    return {"enrollment_id": enrollment.id, "decision_id": decision.id, "appeal_id": appeal.id,
            "file_id": frame.id, "kind": "portrait",
            "_content": {"": "隔离测试课程", "photo": FILE_BYTES, "{file_id:int}": FILE_BYTES,
                         "{kind:str}": FILE_BYTES}}


for _path in ("/review/{enrollment_id:int}", "/review/{enrollment_id:int}/approve", "/review/{enrollment_id:int}/clear",
              "/review/{enrollment_id:int}/reverify", "/review/{enrollment_id:int}/clearings/{decision_id:int}",
              "/review/{enrollment_id:int}/appeals/{appeal_id:int}",
              "/review/{enrollment_id:int}/appeals/{appeal_id:int}/photo",
              "/review/{enrollment_id:int}/evidence/{file_id:int}", "/review/{enrollment_id:int}/image/{kind:str}"):
    register(_path, "reviewer")(_review_case)


register("/review/{enrollment_id:int}/clearings/{decision_id:int}/withdraw", "reviewer")(_review_case)


@register("/review/{enrollment_id:int}/identity/{file_id:int}", "reviewer")
async def _review_identity(ctx: Ctx, slug: str) -> dict[str, Any]:
    """The case's learner's portrait, served from the identity history."""
    from core.courses.tables import Enrollment
    from core.files.tables import StoredFile
    from core.roster.tables import LearnerProfile

    values = await _review_case(ctx, slug)
    enrollment = await Enrollment.objects().where(Enrollment.id == values["enrollment_id"]).first()
    profile = await LearnerProfile.objects().where(LearnerProfile.account == enrollment.account).first()
    await StoredFile.update({StoredFile.owner: enrollment.account}).where(StoredFile.id == profile.portrait)
    return {"enrollment_id": enrollment.id, "file_id": profile.portrait, "_content": FILE_BYTES}


@register("/study/{enrollment_id:int}/appeal", "learner")
async def _appeal_enrollment(ctx: Ctx, slug: str) -> dict[str, Any]:
    _, _, enrollment = await _enrolled(ctx, slug)
    enrollment.status = "cleared"
    await enrollment.save()
    return {"enrollment_id": enrollment.id, "_content": "隔离测试课程"}


# --- certificates ----------------------------------------------------------------------------


async def _certified(ctx: Ctx, slug: str):
    """An approved enrolment with a (stored row of a) certificate: reachable by its learner."""
    import datetime as dt

    from core.certificates.services import new_code
    from core.certificates.tables import Certificate
    from core.courses.tables import Enrollment

    _, _, enrollment = await _enrolled(ctx, slug)
    await Enrollment.update({Enrollment.status: "approved"}).where(Enrollment.id == enrollment.id)
    import hashlib

    pdf = await ctx.platform.storage.save(PDF_BYTES, tenant_id=ctx.tenant_id(slug), kind="certificate",
                                          media_type="application/pdf")
    cert = Certificate(tenant=ctx.tenant_id(slug), enrollment=enrollment.id, account=enrollment.account, revision=1,
                       number=f"PROBE-{secrets.token_hex(4)}", code=new_code(), holder_name="隔离测试",
                       id_masked="110105********1234", position="资料员", year=2026, hours=1.0,
                       institution="隔离测试机构", issued_at=dt.datetime.now(dt.UTC), file=pdf.id,
                       sha256=hashlib.sha256(PDF_BYTES).hexdigest())
    await cert.save()
    return enrollment, cert


PDF_BYTES = b"%PDF-1.4 isolation-probe-certificate"


async def _certificate_enrollment(ctx: Ctx, slug: str) -> dict[str, Any]:
    enrollment, cert = await _certified(ctx, slug)
    return {"enrollment_id": enrollment.id, "_content": {"": cert.number, "pdf": PDF_BYTES}}


for _path in ("/certificates/{enrollment_id:int}", "/certificates/{enrollment_id:int}/renew",
              "/certificates/{enrollment_id:int}/pdf"):
    register(_path, "learner")(_certificate_enrollment)


@register("/verify/{code:str}", "learner")
async def _certificate_code(ctx: Ctx, slug: str) -> dict[str, Any]:
    _, cert = await _certified(ctx, slug)
    return {"code": cert.code, "_content": "隔离测试机构"}


async def _registry_batch(ctx: Ctx, slug: str) -> dict[str, Any]:
    import datetime as dt

    from core.certificates.tables import RegistryBatch

    export = await ctx.platform.storage.save(REGISTRY_BYTES, tenant_id=ctx.tenant_id(slug), kind="registry_export",
                                             media_type="text/csv")
    batch = RegistryBatch(tenant=ctx.tenant_id(slug), status="exported", file=export.id, filename="probe.csv",
                          created_at=dt.datetime.now(dt.UTC))
    await batch.save()
    return {"batch_id": batch.id, "_content": {"": f"学时上报 #{batch.id}", "file": REGISTRY_BYTES}}


REGISTRY_BYTES = "机构,岗位\n隔离测试机构,资料员\n".encode()


for _path in ("/admin/registry/{batch_id:int}", "/admin/registry/{batch_id:int}/file",
              "/admin/registry/{batch_id:int}/result"):
    register(_path, "tenant_admin")(_registry_batch)


# --- exams -------------------------------------------------------------------------------------


async def _question(ctx: Ctx, slug: str):
    import datetime as dt

    from core.exams.tables import Question, QuestionBank

    course, _ = await _course(ctx, slug)
    now = dt.datetime.now(dt.UTC)
    bank = QuestionBank(tenant=ctx.tenant_id(slug), position=course.position, name="隔离题库", created_at=now)
    await bank.save()
    question = Question(tenant=ctx.tenant_id(slug), bank=bank.id, kind="judge", stem="隔离测试题", answer="A",
                        created_at=now, updated_at=now)
    await question.save()
    return course, question


async def _exam_position_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    from core.courses.tables import Position

    course, _ = await _course(ctx, slug)
    position = await Position.objects().where(Position.id == course.position).first()
    return {"position_id": course.position, "_content": {"": position.name, "export.xlsx": b"PK\x03\x04"}}


for _path in ("/admin/exams/positions/{position_id:int}", "/admin/exams/positions/{position_id:int}/import",
              "/admin/exams/positions/{position_id:int}/questions",
              "/admin/exams/positions/{position_id:int}/questions/bulk",
              "/admin/exams/positions/{position_id:int}/export.xlsx"):
    register(_path, "tenant_admin")(_exam_position_id)


async def _exam_question_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    _, question = await _question(ctx, slug)
    return {"question_id": question.id, "_content": "隔离测试题"}


for _path in ("/admin/exams/questions/{question_id:int}", "/admin/exams/questions/{question_id:int}/active"):
    register(_path, "tenant_admin")(_exam_question_id)


async def _exam_import_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    import datetime as dt

    from core.exams.mapping import propose
    from core.roster.spreadsheets import SHEETS_MEDIA_TYPE, Table, sheets_to_json

    course, _ = await _course(ctx, slug)
    sheet = Table(headers=["题型", "题干", "答案"], rows=[(2, ["判断", "隔离导入题", "对"])])
    bank = await ctx.platform.storage.save(sheets_to_json([sheet]), tenant_id=ctx.tenant_id(slug), kind="import",
                                           media_type=SHEETS_MEDIA_TYPE)
    row = ImportJob(tenant=ctx.tenant_id(slug), kind="exam_bank", filename="bank.csv", file=bank.id,
                    summary={"position": course.position, "plans": [propose(sheet.headers).to_json()]},
                    created_at=dt.datetime.now(dt.UTC))
    await row.save()
    return {"job_id": row.id, "_content": {"": "bank.csv", "progress": "import-progress"}}


for _path in ("/admin/exams/import/{job_id:int}", "/admin/exams/import/{job_id:int}/mapping",
              "/admin/exams/import/{job_id:int}/progress"):
    register(_path, "tenant_admin")(_exam_import_id)


@register("/exams/{enrollment_id:int}/start", "learner")
async def _exam_enrollment_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    _, _, enrollment = await _enrolled(ctx, slug)
    return {"enrollment_id": enrollment.id}


async def _exam_attempt_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    import datetime as dt

    from core.exams.tables import ExamAnswer, ExamAttempt

    course, _, enrollment = await _enrolled(ctx, slug)
    _, question = await _question(ctx, slug)
    now = dt.datetime.now(dt.UTC)
    attempt = ExamAttempt(tenant=ctx.tenant_id(slug), account=enrollment.account, enrollment=enrollment.id,
                          course=course.id, position=course.position, year=course.year, status="open",
                          open_key=f"probe-{secrets.token_hex(6)}", started_at=now,
                          deadline=now + dt.timedelta(hours=1))
    await attempt.save()
    await ExamAnswer(tenant=ctx.tenant_id(slug), attempt=attempt.id, seq=1, question=question.id, order="AB",
                     points_centi=10000).save()
    return {"attempt_id": attempt.id, "_content": "隔离测试题"}


for _path in ("/exams/attempts/{attempt_id:int}", "/exams/attempts/{attempt_id:int}/answer",
              "/exams/attempts/{attempt_id:int}/submit", "/exams/attempts/{attempt_id:int}/hidden"):
    register(_path, "learner")(_exam_attempt_id)


async def _pictured(ctx: Ctx, slug: str, question) -> bytes:
    """Give a probe's question a stored picture; returns its bytes."""
    from core.exams.tables import Question

    data = b"\xff\xd8\xff probe question picture"
    stored = await ctx.platform.storage.save(data, tenant_id=ctx.tenant_id(slug), kind="question_image",
                                             media_type="image/jpeg")
    await Question.update({Question.image: stored.id}).where(Question.id == question.id)
    return data


@register("/admin/exams/questions/{question_id:int}/image", "tenant_admin")
async def _exam_question_picture(ctx: Ctx, slug: str) -> dict[str, Any]:
    _, question = await _question(ctx, slug)
    return {"question_id": question.id, "_content": await _pictured(ctx, slug, question)}


@register("/exams/attempts/{attempt_id:int}/questions/{seq:int}/image", "learner")
async def _exam_attempt_picture(ctx: Ctx, slug: str) -> dict[str, Any]:
    from core.exams.tables import ExamAnswer, Question

    found = await _exam_attempt_id(ctx, slug)
    answer = await ExamAnswer.objects().where(ExamAnswer.attempt == found["attempt_id"]).first()
    question = await Question.objects().where(Question.id == answer.question).first()
    return {"attempt_id": found["attempt_id"], "seq": 1, "_content": await _pictured(ctx, slug, question)}


@register("/review/snapshots/{verification_id:int}/image", "reviewer")
async def _snapshot_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    import datetime as dt

    from core.proctoring.tables import FaceVerification

    account, _ = await ctx.make_account(slug)
    image = await _file(ctx, slug, kind="snapshot")
    row = FaceVerification(tenant=ctx.tenant_id(slug), account=account.id, purpose="snapshot",
                           nonce=secrets.token_hex(16), status="passed", evidence=[image.id],
                           created_at=dt.datetime.now(dt.UTC))
    await row.save()
    return {"verification_id": row.id, "_content": FILE_BYTES}


@register("/admin/face-alternatives/{request_id:int}", "tenant_admin")
async def _face_alternative_id(ctx: Ctx, slug: str) -> dict[str, Any]:
    """A learner's request to study without the camera. The probe lets every tenant of this (per
    test) app allow the alternative, so the 404 comes from the tenant scope, not from the rules."""
    import datetime as dt

    import msgspec

    from core.proctoring.study_tables import FaceAlternative

    for tenant in ctx.platform.tenants:
        tenant.rules = msgspec.structs.replace(
            tenant.rules, face=msgspec.structs.replace(tenant.rules.face, allow_alternative=True))
    account, _ = await ctx.make_account(slug)
    row = FaceAlternative(tenant=ctx.tenant_id(slug), account=account.id, reason="隔离测试", status="pending",
                          open_key=f"{ctx.tenant_id(slug)}:{account.id}", created_at=dt.datetime.now(dt.UTC))
    await row.save()
    return {"request_id": row.id}
