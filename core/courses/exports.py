"""Staff exports (XLSX): learners with 学员管理's filters applied, and certificates. Cells are
written by ``write_xlsx``: text, and a value starting like a formula (= + - @ tab CR) is stored
as a string with Excel's quote prefix, so a name typed as ``=HYPERLINK(…)`` is shown, never run.
ID numbers and mobiles are masked, as on the pages. The file is built off the event loop."""

from __future__ import annotations

from litestar import Request, Response, get

from core import tenant_time
from core.accounts.tables import Account
from core.audit.services import record
from core.certificates.services import STATUS_LABELS as CERTIFICATE_LABELS
from core.certificates.tables import Certificate
from core.courses import learners
from core.courses.tables import Course, Enrollment, Position
from core.exams.tables import ExamAttempt
from core.db.scoped import scoped
from core.identity import mask_id_number, mask_mobile
from core.offload import run_cpu
from core.roster.spreadsheets import write_xlsx
from core.study.services import STATUS_LABELS, hours
from core.tenancy import Tenant
from core.web import roles

STAFF = [roles("tenant_admin")]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LEARNER_HEADERS = ["姓名", "身份证号", "手机号", "岗位", "所在单位", "个人档案", "学习状态", "证书编号"]
CERTIFICATE_HEADERS = ["证书编号", "姓名", "身份证号", "岗位", "年度", "学时", "发证日期", "状态"]
PROGRESS_HEADERS = ["姓名", "身份证号", "岗位", "课程", "年度", "已学学时", "要求学时", "学习状态"]
EXAM_HEADERS = ["姓名", "身份证号", "课程", "次数", "成绩", "结果", "交卷时间"]
MAX_ROWS = 100_000


async def xlsx_response(tenant: Tenant, account: Account, kind: str, headers: list[str], rows: list[list[str]],
                        **detail: object) -> Response:
    """The download of ``rows`` as ``kind-<tenant day>.xlsx``, built off the event loop and audited."""
    data = await run_cpu("spreadsheet", write_xlsx, headers, rows)
    await record("export.downloaded", tenant_id=tenant.id, actor_id=account.id, object_type="export", object_id=kind,
                 rows=len(rows), **detail)
    day = tenant_time.now(tenant).strftime("%Y%m%d")
    return Response(content=data, media_type=XLSX_TYPE, headers={
        "Content-Disposition": f'attachment; filename="{kind}-{day}.xlsx"', "Cache-Control": "private, no-store"})


@get("/admin/exports/learners.xlsx", guards=STAFF)
async def export_learners(request: Request, tenant: Tenant, account: Account) -> Response:
    """The learners 学员管理 lists for the same query parameters (every page)."""
    f = learners.Filters.from_query(request.query_params, STATUS_LABELS)
    found = await learners.find(tenant, f, limit=MAX_ROWS)
    rows = []
    for a in found.learners:
        p = found.profiles.get(a.id)
        complete = bool(p and p.id_front and p.id_back and p.portrait)
        study = "、".join(STATUS_LABELS.get(e.status, e.status) for e in found.enrolments.get(a.id, [])) or "未报名"
        rows.append([a.real_name or "", mask_id_number(a.id_number) if a.id_number else "",
                     mask_mobile(a.mobile) if a.mobile else "", p.position if p else "", p.company if p else "",
                     "已完善" if complete else "未完善", study, p.cert_number if p else ""])
    return await xlsx_response(tenant, account, "learners", LEARNER_HEADERS, rows, filters=f.query())


@get("/admin/exports/certificates.xlsx", guards=STAFF)
async def export_certificates(request: Request, tenant: Tenant, account: Account) -> Response:
    """Every certificate (``status``: valid / void to narrow; ``year``), newest first."""
    where = []
    status = request.query_params.get("status") or ""
    if status in CERTIFICATE_LABELS:
        where.append(Certificate.status == status)
    year = request.query_params.get("year") or ""
    if year.isdigit():
        where.append(Certificate.year == int(year))
    certificates = await scoped(Certificate, tenant).objects(*where).order_by(Certificate.id, ascending=False).limit(
        MAX_ROWS)
    rows = [[c.number, c.holder_name, c.id_masked, c.position, str(c.year), f"{float(c.hours):g}",
             tenant_time.format_date(c.issued_at, tenant_time.zone(tenant)), CERTIFICATE_LABELS.get(c.status, c.status)]
            for c in certificates]
    return await xlsx_response(tenant, account, "certificates", CERTIFICATE_HEADERS, rows,
                       filters={k: v for k, v in (("status", status), ("year", year)) if v})


async def _people_and_courses(tenant: Tenant, rows: list, course_ids: list[int]) -> tuple[dict, dict, dict]:
    people = {a.id: a for a in await scoped(Account, tenant).objects(
        Account.id.is_in(list({r.account for r in rows}) or [0]))}
    courses = {c.id: c for c in await scoped(Course, tenant).objects(Course.id.is_in(course_ids or [0]))}
    positions = {p.id: p.name for p in await scoped(Position, tenant).objects()}
    return people, courses, positions


def _who(account: Account | None) -> list[str]:
    if account is None:
        return ["", ""]
    return [account.real_name or "", mask_id_number(account.id_number) if account.id_number else ""]


@get("/admin/exports/progress.xlsx", guards=STAFF)
async def export_progress(request: Request, tenant: Tenant, account: Account) -> Response:
    """Study progress: one row per enrolment of the learners 学员管理 lists for the same filters."""
    f = learners.Filters.from_query(request.query_params, STATUS_LABELS)
    enrolments = await scoped(Enrollment, tenant).objects(Enrollment.account.is_in(learners.matching(tenant, f))).order_by(
        Enrollment.id).limit(MAX_ROWS)
    people, courses, positions = await _people_and_courses(tenant, enrolments, [e.course for e in enrolments])
    rows = []
    for e in enrolments:
        course = courses.get(e.course)
        rows.append([*_who(people.get(e.account)), positions.get(course.position, "") if course else "",
                     course.title if course else "", str(course.year) if course else "",
                     f"{hours(tenant, e.credited_seconds):g}", f"{float(course.required_hours):g}" if course else "",
                     STATUS_LABELS.get(e.status, e.status)])
    return await xlsx_response(tenant, account, "progress", PROGRESS_HEADERS, rows, filters=f.query())


@get("/admin/exports/exams.xlsx", guards=STAFF)
async def export_exams(request: Request, tenant: Tenant, account: Account) -> Response:
    """Exam records: every finished or open attempt of the learners matching the list's filters."""
    f = learners.Filters.from_query(request.query_params, STATUS_LABELS)
    attempts = await scoped(ExamAttempt, tenant).objects(ExamAttempt.account.is_in(learners.matching(tenant, f))).order_by(
        ExamAttempt.id).limit(MAX_ROWS)
    people, courses, _ = await _people_and_courses(tenant, attempts, [a.course for a in attempts])
    zone = tenant_time.zone(tenant)
    rows = [[*_who(people.get(a.account)), courses[a.course].title if a.course in courses else "", f"第 {a.number} 次",
             f"{a.score_centi / 100:g}" if a.score_centi is not None else "",
             "考核中" if a.status == "open" else ("合格" if a.passed else "不合格"),
             tenant_time.format_datetime(a.submitted_at, zone)] for a in attempts]
    return await xlsx_response(tenant, account, "exams", EXAM_HEADERS, rows, filters=f.query())


ROUTES = [export_learners, export_certificates, export_progress, export_exams]
