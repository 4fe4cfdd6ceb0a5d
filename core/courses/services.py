"""Positions, courses, lessons, enrolment by position and year, and the staff's learner import.

The learner import reuses the roster machinery (``core.roster.spreadsheets.read_table``,
``map_columns``, ``check_core``, ``ImportJob``): a preview with per-row errors that writes
nothing, then a commit that upserts by (tenant, ID number), so importing the same file twice
creates nobody twice and never resets a password a learner has already changed.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from core.accounts.passwords import hash_password
from core.accounts.tables import Account
from core.courses.demo_media import make_lesson_video
from core.courses import video_jobs
from core.courses.media import MediaRejected, check_video_upload
from core.courses.tables import Course, Enrollment, Lesson, Position
from core.db.scoped import scoped
from core.roster.imports import CheckedRows, PreviewRow, RosterColumn, RowError, check_core, map_columns
from core.roster.spreadsheets import Table
from core.roster.tables import LearnerProfile
from core.tenancy import Tenant

LEARNER_COLUMNS = [
    RosterColumn("real_name", "姓名", True, ("学员姓名",)),
    RosterColumn("id_number", "身份证号", True, ("身份证号码", "身份证")),
    RosterColumn("mobile", "手机号", True, ("手机号码", "手机", "联系电话")),
    RosterColumn("position", "岗位", True, ("岗位类别", "岗位名称")),
    RosterColumn("cert_number", "证书编号", False, ("证书号", "岗位证书编号")),
    RosterColumn("company", "所在单位", False, ("单位", "工作单位", "单位名称", "所在公司")),
]
LEARNER_HEADERS = [c.header for c in LEARNER_COLUMNS]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- positions and courses -------------------------------------------------------------------


async def positions(tenant: Tenant) -> list[Position]:
    return await scoped(Position, tenant).objects().order_by(Position.id)


async def ensure_positions(tenant: Tenant, names: list[str]) -> dict[str, Position]:
    """The named positions of the tenant, created when missing (idempotent)."""
    have = {p.name: p for p in await positions(tenant)}
    for name in names:
        name = name.strip()
        if name and name not in have:
            row = scoped(Position, tenant).new(name=name, created_at=now())
            await row.save()
            have[name] = row
    return have


async def create_course(tenant: Tenant, position_id: int, year: int, title: str, required_hours: float) -> Course:
    row = scoped(Course, tenant).new(position=position_id, year=year, title=title,
                                     required_hours=required_hours, created_at=now())
    await row.save()
    return row


async def lessons_of(tenant: Tenant, course_id: int) -> list[Lesson]:
    return await scoped(Lesson, tenant).objects(Lesson.course == course_id).order_by(Lesson.ordering).order_by(
        Lesson.id)


async def add_video_lesson(platform, tenant: Tenant, course: Course, title: str, path: Path,
                           owner_id: int | None = None, *, wait: bool = True) -> Lesson:
    """Check the upload at ``path`` (type by content, size), store it privately as the lesson's
    original and make the lesson (转码中). The transcoding job then probes it and makes it ready.
    ``wait`` runs that job's work here and raises MediaRejected with the reason when it failed
    (the demo, tests); otherwise it is queued (the upload page)."""
    media_type = check_video_upload(path, tenant.rules.study.max_video_mb * 1024 * 1024)
    stored = await platform.storage.save_path(path, tenant_id=tenant.id, kind="lesson_source",
                                              media_type=media_type, owner_id=None)
    count = await scoped(Lesson, tenant).count(Lesson.course == course.id)
    lesson = scoped(Lesson, tenant).new(course=course.id, title=title, ordering=count + 1, kind="video",
                                        source_file=stored.id, video_status=video_jobs.PROCESSING,
                                        duration_seconds=0.0, created_at=now())
    await lesson.save()
    if not wait:
        await video_jobs.queue(platform, tenant, lesson.id)
        return lesson
    await video_jobs.process_lesson_video(platform, tenant, lesson.id)
    lesson = await scoped(Lesson, tenant).get(lesson.id)
    if lesson.video_status != video_jobs.READY:
        raise MediaRejected(lesson.video_error)
    return lesson


async def add_document_lesson(platform, tenant: Tenant, course: Course, title: str, *, body: str = "",
                              pdf: bytes | None = None) -> Lesson:
    file_id = None
    if pdf:
        stored = await platform.storage.save(pdf, tenant_id=tenant.id, kind="lesson_pdf",
                                             media_type="application/pdf")
        file_id = stored.id
    count = await scoped(Lesson, tenant).count(Lesson.course == course.id)
    lesson = scoped(Lesson, tenant).new(course=course.id, title=title, ordering=count + 1,
                                        kind="pdf" if pdf else "text", file=file_id, body=body, created_at=now())
    await lesson.save()
    return lesson


async def enrol_position(tenant: Tenant, course: Course) -> int:
    """Enrol every active learner of the course's position (bulk, idempotent); returns how many
    were newly enrolled."""
    position = await scoped(Position, tenant).get(course.position)
    if position is None:
        return 0
    people = await scoped(LearnerProfile, tenant).select(LearnerProfile.account).where(
        LearnerProfile.position == position.name)
    ids = [r["account"] for r in people]
    if not ids:
        return 0
    active = {r["id"] for r in await scoped(Account, tenant).select(Account.id).where(
        Account.id.is_in(ids) & (Account.role == "learner") & (Account.active == True))}  # noqa: E712
    have = {r["account"] for r in await scoped(Enrollment, tenant).select(Enrollment.account).where(
        Enrollment.course == course.id)}
    new = [scoped(Enrollment, tenant).new(account=a, course=course.id, created_at=now())
           for a in sorted(active - have)]
    if new:
        await Enrollment.insert(*new)
    return len(new)


async def enrol_by_position_and_year(tenant: Tenant, position_name: str, year: int) -> int:
    """Enrol the position's learners on every course of that position and year."""
    position = await scoped(Position, tenant).objects(Position.name == position_name).first()
    if position is None:
        return 0
    total = 0
    for course in await scoped(Course, tenant).objects((Course.position == position.id) & (Course.year == year)):
        total += await enrol_position(tenant, course)
    return total


# --- learner import ----------------------------------------------------------------------------


@dataclass
class LearnerPreview(CheckedRows):
    rows: list[PreviewRow] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # the file's headers no column reads


async def preview_learners(tenant: Tenant, table: Table) -> LearnerPreview:
    """Every row with its errors (the roster's row checks plus the tenant's positions); writes
    nothing. ``existing`` marks ID numbers that already have an account (``_check_identities``)."""
    mapping = map_columns(table.headers, LEARNER_COLUMNS)
    known = list(dict.fromkeys([*tenant.rules.roster.positions, *(p.name for p in await positions(tenant))]))
    out = LearnerPreview(ignored=[h.strip() for i, h in enumerate(table.headers)
                                  if h.strip() and i not in mapping.values()])
    seen: dict[str, int] = {}
    for line, cells in table.rows:
        values = {c.key: (cells[mapping[c.key]].strip() if c.key in mapping and mapping[c.key] < len(cells) else "")
                  for c in LEARNER_COLUMNS}
        row = PreviewRow(line, values, check_core(values, known))
        if not values.get("mobile") and not row.error_for("mobile"):
            row.errors.append(RowError("mobile", "请填写手机号"))
        if len(values.get("cert_number", "")) > 64:
            row.errors.append(RowError("cert_number", "证书编号过长"))
        if len(values.get("company", "")) > 200:
            row.errors.append(RowError("company", "所在单位过长（不超过 200 个字）"))
        if not row.error_for("id_number"):
            first = seen.setdefault(values["id_number"], line)
            if first != line:
                row.errors.append(RowError("id_number", f"与第 {first} 行的身份证号重复"))
        out.rows.append(row)
    await _check_identities(tenant, out.rows)
    return out


NAME_CONFLICT = ("该身份证号已有学员账号，姓名与表中不一致。导入不会更改已有账号的姓名；"
                 "请核对身份证号，如需更正姓名请在学员详情页办理")
MOBILE_CONFLICT = ("与该学员账号现有的手机号不一致。导入不会更改手机号；"
                   "如需更换，请在学员详情页“修改手机号”处办理（留有记录并短信通知）")
MOBILE_TAKEN = "该手机号已被本机构的其他账号使用"


async def _check_identities(tenant: Tenant, rows: list[PreviewRow]) -> None:
    """Rows naming an existing account may only add to it (position, certificate number): a
    different name or mobile for an existing ID number is refused at the row, so a spreadsheet can
    never rename an account or move its mobile (the mobile changes only through the audited
    correction on the learner's page). A mobile another account already uses, or that two rows
    share, is refused too. ``existing`` marks the rows that update an account."""
    ids = [r.values["id_number"] for r in rows if not r.error_for("id_number")]
    mobiles = [r.values["mobile"] for r in rows if r.values.get("mobile") and not r.error_for("mobile")]
    by_id: dict[str, dict] = {}
    by_mobile: dict[str, str | None] = {}
    for i in range(0, max(len(ids), len(mobiles)), 500):
        found = await scoped(Account, tenant).select(
            Account.id_number, Account.mobile, Account.real_name, Account.role).where(
            Account.id_number.is_in(ids[i:i + 500] or [""]) | Account.mobile.is_in(mobiles[i:i + 500] or [""]))
        for r in found:
            if r["id_number"]:
                by_id[r["id_number"]] = r
            if r["mobile"]:
                by_mobile[r["mobile"]] = r["id_number"]
    first_line: dict[str, int] = {}
    for row in rows:
        values = row.values
        id_number, mobile = values.get("id_number", ""), values.get("mobile", "")
        if mobile and not row.error_for("mobile"):
            first = first_line.setdefault(mobile, row.line)
            if first != row.line:
                row.errors.append(RowError("mobile", f"与第 {first} 行的手机号重复"))
        if row.error_for("id_number"):
            continue
        account = by_id.get(id_number)
        if account is not None and account["role"] != "learner":
            row.errors.append(RowError("id_number", "该身份证号已是本机构的工作人员账号"))
            continue
        if account is not None:
            row.existing = True
            if (account["real_name"] or "").strip() != values.get("real_name", ""):
                row.errors.append(RowError("real_name", NAME_CONFLICT))
            if mobile and not row.error_for("mobile") and account["mobile"] and mobile != account["mobile"]:
                row.errors.append(RowError("mobile", MOBILE_CONFLICT))
                continue
        if mobile and not row.error_for("mobile") and mobile in by_mobile and by_mobile[mobile] != id_number:
            row.errors.append(RowError("mobile", MOBILE_TAKEN))


async def commit_learners(tenant: Tenant, rows: list[dict[str, str]], initial_password: str) -> dict[str, int]:
    """Create learners, or complete existing ones (profile position and certificate number; a
    mobile only where the account has none). An existing account whose name or mobile differs
    (``_check_identities`` refused the row at the preview) is counted ``refused`` and left alone.
    New accounts get the tenant's initial password, which must be changed at first sign-in."""
    counts = {"created": 0, "updated": 0, "unchanged": 0, "refused": 0}
    if not rows:
        return counts
    password_hash = await anyio.to_thread.run_sync(hash_password, initial_password)
    stamp = now()
    await ensure_positions(tenant, sorted({r["position"] for r in rows if r.get("position")}))
    for i in range(0, len(rows), 500):
        batch = rows[i:i + 500]
        async with Account._meta.db.transaction():
            accounts = {a.id_number: a for a in await scoped(Account, tenant).objects(
                Account.id_number.is_in([r["id_number"] for r in batch]))}
            profiles = {p.account: p for p in await scoped(LearnerProfile, tenant).objects(
                LearnerProfile.account.is_in([a.id for a in accounts.values()] or [0]))}
            for values in batch:
                account = accounts.get(values["id_number"])
                changed = False
                if account is None:
                    account = scoped(Account, tenant).new(
                        role="learner", real_name=values["real_name"], id_number=values["id_number"],
                        mobile=values["mobile"], password_hash=password_hash, must_change_password=True,
                        created_at=stamp)
                    await account.save()
                    counts["created"] += 1
                elif account.role != "learner" or account.real_name != values["real_name"] or (
                        account.mobile and account.mobile != values["mobile"]):
                    counts["refused"] += 1  # changed since the preview: identity is never rewritten here
                    continue
                elif not account.mobile:
                    await scoped(Account, tenant).update({Account.mobile: values["mobile"]}).where(
                        Account.id == account.id)
                    changed = True
                profile = profiles.get(account.id)
                wanted = {"real_name": values["real_name"], "position": values["position"],
                          "cert_number": values.get("cert_number") or (profile.cert_number if profile else ""),
                          "company": values.get("company") or (profile.company if profile else "")}
                if profile is None:
                    profile = scoped(LearnerProfile, tenant).new(
                        account=account.id, id_number=values["id_number"], created_at=stamp, updated_at=stamp,
                        **wanted)
                    await profile.save()
                    changed = changed or values["id_number"] not in accounts
                elif any(getattr(profile, k) != v for k, v in wanted.items()):
                    await scoped(LearnerProfile, tenant).update(
                        {**{getattr(LearnerProfile, k): v for k, v in wanted.items()},
                         LearnerProfile.updated_at: stamp}).where(LearnerProfile.id == profile.id)
                    changed = True
                if values["id_number"] in accounts:
                    counts["updated" if changed else "unchanged"] += 1
    return counts


# --- demo ------------------------------------------------------------------------------------


async def seed_demo_courses(platform, tenant: Tenant, courses, learners: dict[str, str]) -> list[str]:
    """Create each ``DemoCourse`` for each of its positions (idempotent by title and position),
    making its lesson videos on the spot, and enrol the demo learners (ID number → position).
    Returns one line per demo course, made now or before."""
    lines: list[str] = []
    for demo in courses:
        have = await ensure_positions(tenant, list(demo.positions))
        for name in demo.positions:
            position = have[name]
            course = await scoped(Course, tenant).objects(
                (Course.title == demo.title) & (Course.position == position.id) & (Course.year == demo.year)).first()
            if course is None:
                course = await create_course(tenant, position.id, demo.year, demo.title, demo.required_hours)
                for lesson in demo.lessons:
                    with tempfile.TemporaryDirectory() as tmp:
                        path = Path(tmp) / "lesson.webm"
                        await anyio.to_thread.run_sync(
                            lambda: make_lesson_video(path, lesson.title, list(lesson.lines), lesson.seconds))
                        await add_video_lesson(platform, tenant, course, lesson.title, path)
            lines.append(f"  课程 {demo.title}（{name}，{len(demo.lessons)} 个视频课件）")
    for id_number, position in learners.items():
        account = await scoped(Account, tenant).objects(Account.id_number == id_number).first()
        if account is None or not position:
            continue
        profile = await scoped(LearnerProfile, tenant).objects(LearnerProfile.account == account.id).first()
        if profile is None:
            await scoped(LearnerProfile, tenant).new(account=account.id, real_name=account.real_name,
                                                     id_number=id_number, position=position, created_at=now(),
                                                     updated_at=now()).save()
        elif profile.position != position:
            await scoped(LearnerProfile, tenant).update({LearnerProfile.position: position}).where(
                LearnerProfile.id == profile.id)
    for demo in courses:
        for name in demo.positions:
            await enrol_by_position_and_year(tenant, name, demo.year)
    return lines
