"""Staff pages (tenant_admin): positions, courses, lessons and enrolment; learners, their import
from a spreadsheet and the change of a learner's mobile number."""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from pathlib import Path

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core.accounts.tables import Account
from core.audit.services import record
from core.certificates import registry
from core.courses import editing, exports, learners, services
from core.courses.media import MediaRejected, check_pdf
from core.courses.tables import Course, Enrollment, Position
from core.db.scoped import scoped
from core.hookcalls import Hooks
from core.identity import InvalidIdentity, mask_mobile, normalize_mobile
from core.kernel import Platform
from core.notify.services import send
from core.roster.imports import as_dict, keep_table, kept_table
from core.roster.spreadsheets import Limits, SpreadsheetRejected, read_table_async, write_xlsx
from core.roster.tables import ImportJob, LearnerProfile
from core.study.services import STATUS_LABELS, hours
from core.tenancy import Tenant
from core.web import form_fields, redirect, render, roles

log = logging.getLogger("xueshi.courses")
STAFF = [roles("tenant_admin")]
MAX_SHEET_BYTES = 5 * 1024 * 1024
MAX_UPLOAD = 2 * 1024 * 1024 * 1024  # the tenant's rule (study.max_video_mb) is checked in code
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- courses ---------------------------------------------------------------------------------


async def _courses_page(request: Request, tenant: Tenant, status_code: int = 200,
                        errors: dict | None = None) -> Response:
    positions = await services.positions(tenant)
    names = {p.id: p.name for p in positions}
    courses = await scoped(Course, tenant).objects().order_by(Course.year, ascending=False).order_by(Course.id)
    counts = {}
    for c in courses:
        counts[c.id] = await scoped(Enrollment, tenant).count(Enrollment.course == c.id)
    short = await editing.short_courses(tenant, courses)
    return await render(request, "courses/admin_courses.html",
                        {"positions": positions, "courses": courses, "names": names, "counts": counts, "short": short,
                         "errors": errors or {}, "year": dt.date.today().year,
                         "suggestions": tenant.rules.roster.positions}, status_code=status_code)


@get("/admin/courses", guards=STAFF)
async def courses_page(request: Request, tenant: Tenant) -> Response:
    return await _courses_page(request, tenant)


@post("/admin/positions", guards=STAFF)
async def position_create(request: Request, tenant: Tenant, account: Account) -> Response:
    name = (await form_fields(request)).get("name", "")
    if not name or len(name) > 64:
        return await _courses_page(request, tenant, 400, {"name": "请输入岗位名称（不超过 64 个字）"})
    if await scoped(Position, tenant).exists(Position.name == name):
        return await _courses_page(request, tenant, 400, {"name": "该岗位已存在"})
    await services.ensure_positions(tenant, [name])
    await record("position.created", tenant_id=tenant.id, actor_id=account.id, object_type="position", name=name)
    return redirect(request, "/admin/courses")


@post("/admin/courses", guards=STAFF)
async def course_create(request: Request, tenant: Tenant, account: Account) -> Response:
    form = await form_fields(request)
    errors: dict[str, str] = {}
    position = None
    if form.get("position", "").isdigit():
        position = await scoped(Position, tenant).get(int(form["position"]))
    if position is None:
        errors["position"] = "请选择岗位"
    try:
        year = int(form.get("year", ""))
        if not 2000 <= year <= 2100:
            raise ValueError
    except ValueError:
        errors["year"] = "请输入年度，如 2026"
    try:
        required = float(form.get("required_hours", ""))
        if not 0 < required <= 1000:
            raise ValueError
    except ValueError:
        errors["required_hours"] = "请输入要求学时（大于 0）"
    title = form.get("title", "")
    if not title or len(title) > 200:
        errors["title"] = "请输入课程名称"
    if errors:
        return await _courses_page(request, tenant, 400, errors)
    course = await services.create_course(tenant, position.id, year, title, required)
    await record("course.created", tenant_id=tenant.id, actor_id=account.id, object_type="course",
                 object_id=course.id)
    return redirect(request, f"/admin/courses/{course.id}")


async def render_course_page(request: Request, tenant: Tenant, course_id: int, status_code: int = 200,
                       errors: dict | None = None, notice: str = "") -> Response:
    course = await scoped(Course, tenant).get_or_404(course_id)
    position = await scoped(Position, tenant).get(course.position)
    enrolled = await scoped(Enrollment, tenant).count(Enrollment.course == course.id)
    lessons = await services.lessons_of(tenant, course.id)
    content = editing.content_check(tenant, course, lessons)  # shorter than the required hours: a warning
    return await render(request, "courses/admin_course.html",
                        {"course": course, "position": position, "lessons": lessons, "enrolled": enrolled,
                         "content": content, "content_hours": hours(tenant, content.content_seconds),
                         "errors": errors or {}, "notice": notice or request.query_params.get("notice", ""),
                         "max_video_mb": tenant.rules.study.max_video_mb}, status_code=status_code)


@get("/admin/courses/{course_id:int}", guards=STAFF)
async def course_page(request: Request, tenant: Tenant, course_id: int) -> Response:
    return await render_course_page(request, tenant, course_id)


@post("/admin/courses/{course_id:int}/lessons", guards=STAFF, request_max_body_size=MAX_UPLOAD)
async def lesson_create(request: Request, platform: Platform, tenant: Tenant, account: Account,
                        course_id: int) -> Response:
    """A video lesson (type by content and size checked here, stored privately, then probed and
    transcoded by a job), or a text / PDF lesson."""
    course = await scoped(Course, tenant).get_or_404(course_id)
    form = await request.form()
    title = str(form.get("title") or "").strip()
    if not title or len(title) > 200:
        return await render_course_page(request, tenant, course_id, 400, {"title": "请输入课件名称"})
    upload = form.get("file")
    body = str(form.get("body") or "").strip()
    has_file = upload is not None and not isinstance(upload, str) and upload.filename
    try:
        if has_file:
            head = await upload.read(16)
            await upload.seek(0)
            if head[:5] == b"%PDF-":
                data = await upload.read()
                check_pdf(data)
                lesson = await services.add_document_lesson(platform, tenant, course, title, body=body, pdf=data)
            else:
                var_dir = platform.settings.var_dir
                tmp = Path(tempfile.mkdtemp(dir=var_dir if var_dir.exists() else None))
                path = tmp / "upload"
                limit = tenant.rules.study.max_video_mb * 1024 * 1024
                written = 0
                with path.open("wb") as out:
                    while chunk := await upload.read(1 << 20):
                        written += len(chunk)
                        if written > limit:
                            raise MediaRejected(f"视频过大，请上传不超过 {tenant.rules.study.max_video_mb} MB 的视频")
                        out.write(chunk)
                try:
                    lesson = await services.add_video_lesson(platform, tenant, course, title, path, wait=False)
                finally:
                    path.unlink(missing_ok=True)
                    tmp.rmdir()
        elif body:
            lesson = await services.add_document_lesson(platform, tenant, course, title, body=body)
        else:
            raise MediaRejected("请上传视频或 PDF 文件，或填写文字内容")
    except MediaRejected as exc:
        return await render_course_page(request, tenant, course_id, 400, {"file": str(exc)})
    await record("lesson.created", tenant_id=tenant.id, actor_id=account.id, object_type="lesson",
                 object_id=lesson.id, kind=lesson.kind)
    return redirect(request, f"/admin/courses/{course.id}")


@post("/admin/courses/{course_id:int}/enrol", guards=STAFF)
async def course_enrol(request: Request, tenant: Tenant, account: Account, course_id: int) -> Response:
    """Enrol every learner of the course's position (bulk; already enrolled ones stay as they are)."""
    course = await scoped(Course, tenant).get_or_404(course_id)
    added = await services.enrol_position(tenant, course)
    await record("course.enrolled", tenant_id=tenant.id, actor_id=account.id, object_type="course",
                 object_id=course.id, added=added)
    return redirect(request, f"/admin/courses/{course.id}?notice=已为 {added} 名学员报名")


# --- learners --------------------------------------------------------------------------------


@get("/admin/learners", guards=STAFF)
async def learners_page(request: Request, tenant: Tenant) -> Response:
    """学员管理: search, filters (position, company, profile, study state), paging; the import."""
    f = learners.Filters.from_query(request.query_params, STATUS_LABELS)
    found = await learners.find(tenant, f)
    jobs = await scoped(ImportJob, tenant).objects(ImportJob.kind == "learners").order_by(
        ImportJob.id, ascending=False).limit(5)
    return await render(request, "courses/admin_learners.html",
                        {"found": found, "f": f, "options": await learners.options(tenant), "labels": STATUS_LABELS,
                         "profile_states": learners.PROFILE_STATES, "jobs": jobs,
                         "summaries": {j.id: as_dict(j.summary) for j in jobs}, "error": "",
                         "headers": services.LEARNER_HEADERS})


@get("/admin/learners/template.xlsx", guards=STAFF)
async def learners_template(tenant: Tenant) -> Response:
    position = (tenant.rules.roster.positions or ["施工员"])[0]
    example = [["张三", "110105199001011234", "13800000000", position, "京建安C（2020）0000001", "示范建工集团第一分公司"]]
    return Response(content=write_xlsx(services.LEARNER_HEADERS, example), media_type=XLSX_TYPE,
                    headers={"Content-Disposition": "attachment; filename=learners_template.xlsx"})


def _learner_limits(tenant: Tenant) -> Limits:
    return Limits(max_bytes=MAX_SHEET_BYTES, max_rows=tenant.rules.roster.max_import_rows)


@post("/admin/learners/import", guards=STAFF, request_max_body_size=MAX_SHEET_BYTES + 65536)
async def learners_upload(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    """Upload → preview (every row, its errors); nothing is written but the file and the job."""
    form = await request.form()
    upload = form.get("file")
    error = ""
    preview = None
    job = None
    if upload is None or isinstance(upload, str) or not upload.filename:
        error = "请选择要导入的表格文件（xlsx 或 csv）"
    else:
        data = await upload.read()
        try:
            table = await read_table_async(data, upload.filename, _learner_limits(tenant))
            preview = await services.preview_learners(tenant, table)
        except SpreadsheetRejected as exc:
            error = str(exc)
        if preview is not None:
            stored = await keep_table(platform.storage, tenant, table)  # the commit reads these rows
            job = scoped(ImportJob, tenant).new(kind="learners", filename=upload.filename[:200], file=stored.id,
                                                total_rows=len(preview.rows), error_rows=len(preview.error_rows),
                                                created_by=account.id, created_at=dt.datetime.now(dt.UTC))
            await job.save()
    return await render(request, "courses/admin_import.html",
                        {"error": error, "preview": preview, "job": job, "columns": services.LEARNER_COLUMNS},
                        status_code=400 if error else 200)


@post("/admin/learners/import/{job_id:int}", guards=STAFF)
async def learners_commit(request: Request, platform: Platform, tenant: Tenant, account: Account,
                          job_id: int) -> Response:
    """Commit a previewed import: the valid rows (error rows only with "忽略错误行")."""
    job = await scoped(ImportJob, tenant).get_or_404(job_id, ImportJob.kind == "learners")
    table = await kept_table(platform.storage, tenant, job, _learner_limits(tenant))
    if table is None:  # purged by the retention rule for import files
        raise NotFoundException()
    preview = await services.preview_learners(tenant, table)
    form = await form_fields(request)
    if preview.error_rows and form.get("skip_errors") != "1":
        return await render(request, "courses/admin_import.html",
                            {"preview": preview, "job": job, "columns": services.LEARNER_COLUMNS,
                             "error": f"文件中有 {len(preview.error_rows)} 行错误，请修改后重新上传，或勾选“忽略错误行，仅导入正确的行”"},
                            status_code=400)
    if not tenant.rules.signin.initial_password:
        return await render(request, "courses/admin_import.html",
                            {"preview": preview, "job": job, "columns": services.LEARNER_COLUMNS,
                             "error": "本机构未设置初始密码（signin.initial_password），无法创建学员账号"}, status_code=400)
    counts = await services.commit_learners(tenant, [r.values for r in preview.valid_rows],
                                            tenant.rules.signin.initial_password)
    summary = {**counts, "skipped": len(preview.error_rows)}
    await scoped(ImportJob, tenant).update({ImportJob.status: "done", ImportJob.summary: summary,
                                            ImportJob.processed_rows: len(preview.valid_rows),
                                            ImportJob.finished_at: dt.datetime.now(dt.UTC)}).where(ImportJob.id == job.id)
    await record("learners.imported", tenant_id=tenant.id, actor_id=account.id, object_type="import_job",
                 object_id=job.id, **summary)
    return redirect(request, f"/admin/learners?imported={job.id}")


async def _learner_page(request: Request, tenant: Tenant, account_id: int, status_code: int = 200,
                        errors: dict | None = None, notice: str = "") -> Response:
    learner = await scoped(Account, tenant).get_or_404(account_id, Account.role == "learner")
    profile = await scoped(LearnerProfile, tenant).objects(LearnerProfile.account == learner.id).first()
    rows = await scoped(Enrollment, tenant).objects(Enrollment.account == learner.id)
    courses = {c.id: c for c in await scoped(Course, tenant).objects(
        Course.id.is_in([e.course for e in rows] or [0]))}
    enrolments = [(e, courses.get(e.course), hours(tenant, e.credited_seconds)) for e in rows]
    return await render(request, "courses/admin_learner.html",
                        {"learner": learner, "profile": profile, "enrolments": enrolments, "errors": errors or {},
                         **await learners.record_of(tenant, learner),
                         "labels": STATUS_LABELS, "records": await registry.hours_records(tenant, learner.id),
                         "registry_labels": registry.ROW_STATUS_LABELS,
                         "notice": notice or ("手机号已修改，已向新号码发送短信通知" if request.query_params.get("mobile") else
                                              "已申请重新上报，将在下一批次上报" if request.query_params.get("resend") else "")},
                        status_code=status_code)


@get("/admin/learners/{account_id:int}", guards=STAFF)
async def learner_page(request: Request, tenant: Tenant, account_id: int) -> Response:
    return await _learner_page(request, tenant, account_id)


@post("/admin/learners/{account_id:int}/mobile", guards=STAFF)
async def learner_mobile(request: Request, hooks: Hooks, tenant: Tenant, account: Account,
                         account_id: int) -> Response:
    """Staff change a learner's mobile (audited, old and new masked); an SMS goes to the new number."""
    learner = await scoped(Account, tenant).get_or_404(account_id, Account.role == "learner")
    form = await form_fields(request)
    try:
        mobile = normalize_mobile(form.get("mobile", ""))
    except InvalidIdentity as exc:
        return await _learner_page(request, tenant, account_id, 400, {"mobile": str(exc)})
    if mobile == learner.mobile:
        return await _learner_page(request, tenant, account_id, 400, {"mobile": "新手机号与原手机号相同"})
    if await scoped(Account, tenant).exists((Account.mobile == mobile) & (Account.id != learner.id)):
        return await _learner_page(request, tenant, account_id, 400, {"mobile": "该手机号已被本机构的其他账号使用"})

    old = learner.mobile
    await scoped(Account, tenant).update({Account.mobile: mobile}).where(Account.id == learner.id)
    await record("learner.mobile_changed", tenant_id=tenant.id, actor_id=account.id, object_type="account",
                 object_id=learner.id, old=mask_mobile(old) if old else "", new=mask_mobile(mobile))
    learner.mobile = mobile
    await send(hooks, tenant, learner, "mobile_changed", channels=("sms",), mobile=mask_mobile(mobile))
    return redirect(request, f"/admin/learners/{learner.id}?mobile=1")


@post("/admin/learners/{account_id:int}/registry/{enrollment_id:int}/resend", guards=STAFF)
async def learner_registry_resend(request: Request, tenant: Tenant, account: Account, account_id: int,
                                  enrollment_id: int) -> Response:
    """Ask the next registry batch to report an uploaded enrolment again (reason required, audited)."""
    learner = await scoped(Account, tenant).get_or_404(account_id, Account.role == "learner")
    refusal = await registry.request_resend(tenant, learner.id, enrollment_id, (await form_fields(request)).get("reason", ""),
                                            account.id)
    if refusal:
        return await _learner_page(request, tenant, learner.id, 400, {f"reason_{enrollment_id}": refusal})
    return redirect(request, f"/admin/learners/{learner.id}?resend=1")


ROUTES = [courses_page, position_create, course_create, course_page, lesson_create, course_enrol, learners_page,
          learners_template, learners_upload, learners_commit, learner_page, learner_mobile,
          learner_registry_resend, *exports.ROUTES]
