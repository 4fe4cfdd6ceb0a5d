"""The national registry report (住建部培训管理信息系统): exporters, the report job and the
reconciliation with the registry's result file.

There is no registry to reach from here: the report job writes the export file (the exporter
named by the report, ``xlsx`` by default) into private storage for an operator to upload, with
every row ``pending``; importing the registry's result file sets each row ``uploaded`` or
``rejected`` with the reason. The result file's columns are 行号, 身份证号, 结果 (成功 / 失败),
原因, 上传日期 (docs/certificates.md). The export ends with empty 结果 and 原因 columns, so the
exported file itself, with each learner's result filled in, is a result file: a row whose 结果 is
still empty stays 待上传.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from core import tenant_time
from core.accounts.tables import Account
from core.audit.services import record
from core.certificates.tables import RegistryBatch, RegistryResend, RegistryRow
from core.courses.tables import Course, Enrollment, Position
from core.db.scoped import scoped
from core.hookcalls import collect
from core.offload import run_cpu
from core.roster.spreadsheets import Limits, SpreadsheetRejected, read_table, write_csv, write_xlsx
from core.study.services import hours as credited_hours
from core.tenancy import Tenant

log = logging.getLogger("xueshi.registry")
HEADERS = ["行号", "姓名", "身份证号", "机构", "岗位", "已上传学时数", "总学时数", "上传日期", "结果", "原因"]
RESULT_HEADERS = ["行号", "身份证号", "结果", "原因", "上传日期"]
ROW_STATUS_LABELS = {"pending": "待上传", "uploaded": "已上传", "rejected": "已退回"}
BATCH_STATUS_LABELS = {"exporting": "正在导出", "exported": "已导出，待导入结果", "reconciled": "已导入结果",
                       "failed": "生成失败"}
OPEN_BATCHES = ("exporting", "exported")  # a pending row of these is still on its way to the registry
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class RegistryRecord:
    """One learner and position as the registry wants it (the full ID number: the file is
    private, for the operator who uploads it)."""

    row_ref: str
    name: str
    id_number: str
    institution: str
    position: str
    uploaded_hours: float
    total_hours: float
    upload_date: str  # YYYY-MM-DD


@dataclass(frozen=True)
class RegistryExporter:
    """Writes records in one registry format. ``write`` is blocking (run off the event loop)."""

    key: str
    label: str
    extension: str
    media_type: str

    def write(self, records: list[RegistryRecord]) -> bytes:  # pragma: no cover - subclasses
        raise NotImplementedError


def _cells(r: RegistryRecord) -> list[str]:
    return [r.row_ref, r.name, r.id_number, r.institution, r.position, _num(r.uploaded_hours), _num(r.total_hours),
            r.upload_date, "", ""]  # 结果, 原因: for the registry's answer


def _num(value: float) -> str:
    return f"{float(value):.2f}".rstrip("0").rstrip(".")


class XlsxExporter(RegistryExporter):
    def write(self, records: list[RegistryRecord]) -> bytes:
        return write_xlsx(HEADERS, [_cells(r) for r in records])


class CsvExporter(RegistryExporter):
    def write(self, records: list[RegistryRecord]) -> bytes:
        return write_csv(HEADERS, [_cells(r) for r in records])


CORE_EXPORTERS = [
    XlsxExporter("xlsx", "Excel 表格（.xlsx）", "xlsx", XLSX_TYPE),
    CsvExporter("csv", "CSV 文件（.csv）", "csv", "text/csv; charset=utf-8"),
]


async def exporters(hooks: Any, tenant: Tenant) -> dict[str, RegistryExporter]:
    """Exporters by key; a plugin's exporter wins over the core's with the same key."""
    found: dict[str, RegistryExporter] = {}
    for exporter in await collect(hooks.registry_exporters, tenant=tenant):
        if exporter.key not in found or found[exporter.key] in CORE_EXPORTERS:
            found[exporter.key] = exporter
    return found


async def to_report(tenant: Tenant, eligible: list[Enrollment]) -> tuple[list[Enrollment], list[RegistryResend]]:
    """Of the ``eligible`` enrolments, those a new batch reports, and the staff requests it takes.
    An enrolment the registry has (a row ``uploaded``), or that a batch awaiting its result is
    reporting (a row ``pending`` there), is not reported again unless staff asked to (an open
    ``RegistryResend``); a rejected one, or one a reconciled result file did not mention, is."""
    ids = [e.id for e in eligible] or [0]
    rows = await scoped(RegistryRow, tenant).select(RegistryRow.enrollment, RegistryRow.status, RegistryRow.batch).where(
        RegistryRow.enrollment.is_in(ids))
    open_batches = {b["id"] for b in await scoped(RegistryBatch, tenant).select(RegistryBatch.id).where(
        RegistryBatch.status.is_in(list(OPEN_BATCHES)))}
    reported = {r["enrollment"] for r in rows
                if r["status"] == "uploaded" or (r["status"] == "pending" and r["batch"] in open_batches)}
    requests = await scoped(RegistryResend, tenant).objects(
        RegistryResend.batch.is_null() & RegistryResend.enrollment.is_in(ids)).order_by(RegistryResend.id)
    asked = {r.enrollment for r in requests}
    return [e for e in eligible if e.id not in reported or e.id in asked], requests


async def build_rows(tenant: Tenant, batch: RegistryBatch, eligible: list[Enrollment]) -> list[RegistryRow]:
    """One pending row per enrolment of ``eligible`` that ``to_report`` keeps (learner and
    position); the staff requests it takes point to the batch. One transaction: a request is
    taken exactly when its row is written."""
    async with RegistryRow._meta.db.transaction():
        chosen, requests = await to_report(tenant, eligible)
        courses = {c.id: c for c in await scoped(Course, tenant).objects(
            Course.id.is_in([e.course for e in chosen] or [0]))}
        positions = {p.id: p.name for p in await scoped(Position, tenant).objects()}
        now = dt.datetime.now(dt.UTC)
        rows = []
        for i, e in enumerate(chosen, start=1):
            course = courses[e.course]
            total = float(course.required_hours)
            rows.append(scoped(RegistryRow, tenant).new(
                batch=batch.id, enrollment=e.id, account=e.account, row_ref=f"{batch.id}-{i}",
                institution=tenant.name[:200], position=positions.get(course.position, "")[:64],
                uploaded_hours=min(credited_hours(tenant, e.credited_seconds), total), total_hours=total,
                status="pending", updated_at=now))
        if rows:
            await RegistryRow.insert(*rows)
        taken = [r.id for r in requests if r.enrollment in {e.id for e in chosen}]
        if taken:
            await scoped(RegistryResend, tenant).update({RegistryResend.batch: batch.id}).where(
                RegistryResend.id.is_in(taken))
    return rows


async def records_of(tenant: Tenant, batch_id: int) -> list[RegistryRecord]:
    rows = await scoped(RegistryRow, tenant).objects(RegistryRow.batch == batch_id).order_by(RegistryRow.id)
    people = {a.id: a for a in await scoped(Account, tenant).objects(
        Account.id.is_in([r.account for r in rows] or [0]))}
    day = tenant_time.today(tenant).isoformat()
    return [RegistryRecord(row_ref=r.row_ref, name=people[r.account].real_name or "",
                           id_number=people[r.account].id_number or "", institution=r.institution,
                           position=r.position, uploaded_hours=r.uploaded_hours, total_hours=r.total_hours,
                           upload_date=day) for r in rows]


async def write_export(exporter: RegistryExporter, records: list[RegistryRecord]) -> bytes:
    return await run_cpu("spreadsheet", exporter.write, records)


@dataclass
class Reconciled:
    uploaded: int = 0
    rejected: int = 0
    errors: list[str] | None = None
    unanswered: int = 0  # rows with an empty 结果 (the exported file, partly filled in): still 待上传

    def summary(self) -> str:
        text = f"已上传 {self.uploaded} 行，已退回 {self.rejected} 行"
        text += f"，{self.unanswered} 行未填写结果（仍为待上传）" if self.unanswered else ""
        return text + (f"，{len(self.errors)} 行无法对应" if self.errors else "")


def _date(text: str) -> dt.date | None:
    text = text.strip().replace("/", "-").replace(".", "-")
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


async def reconcile(tenant: Tenant, batch: RegistryBatch, data: bytes, filename: str) -> Reconciled:
    """Apply the registry's result file to the batch's rows. Raises ``SpreadsheetRejected``
    (a clear Chinese message) for a file that is not a result file; rows that name no row of
    the batch, or another person's ID number, are listed and change nothing."""
    table = await run_cpu("spreadsheet", read_table, data, filename, Limits(max_bytes=5 * 1024 * 1024))
    index = {h.strip(): i for i, h in enumerate(table.headers)}
    missing = [h for h in ("行号", "身份证号", "结果") if h not in index]
    if missing:
        raise SpreadsheetRejected(f"结果文件缺少列：{'、'.join(missing)}（应为 {' / '.join(RESULT_HEADERS)}）")
    rows = {r.row_ref: r for r in await scoped(RegistryRow, tenant).objects(RegistryRow.batch == batch.id)}
    people = {a.id: a.id_number for a in await scoped(Account, tenant).objects(
        Account.id.is_in([r.account for r in rows.values()] or [0]))}
    out = Reconciled(errors=[])
    now = dt.datetime.now(dt.UTC)

    def cell(cells: list[str], name: str) -> str:
        i = index.get(name)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    async with RegistryRow._meta.db.transaction():
        for line, cells in table.rows:
            ref, id_number, result = cell(cells, "行号"), cell(cells, "身份证号").upper(), cell(cells, "结果")
            row = rows.get(ref)
            if row is None or people.get(row.account, "").upper() != id_number:
                out.errors.append(f"第 {line} 行：行号与身份证号对应不上本批次的记录")
                continue
            if not result:
                out.unanswered += 1
                continue
            if result in ("成功", "已上传", "uploaded"):
                day = _date(cell(cells, "上传日期")) or tenant_time.today(tenant)
                values = {RegistryRow.status: "uploaded", RegistryRow.reason: "", RegistryRow.uploaded_on: day}
                out.uploaded += 1
            elif result in ("失败", "退回", "已退回", "rejected"):
                reason = cell(cells, "原因")[:200] or "未说明原因"
                values = {RegistryRow.status: "rejected", RegistryRow.reason: reason, RegistryRow.uploaded_on: None}
                out.rejected += 1
            else:
                out.errors.append(f"第 {line} 行：结果应为“成功”或“失败”")
                continue
            await scoped(RegistryRow, tenant).update({**values, RegistryRow.updated_at: now}).where(
                RegistryRow.id == row.id)
        await scoped(RegistryBatch, tenant).update({RegistryBatch.status: "reconciled",
                                                    RegistryBatch.result_summary: out.summary()}).where(
            RegistryBatch.id == batch.id)
    return out


async def history(tenant: Tenant, account_id: int) -> dict[int, list[dict[str, Any]]]:
    """Enrolment id → its rows across batches, in batch order: each batch's state of it (待上传,
    已上传 with the date, 已退回 with the reason) and whether staff asked for that report."""
    rows = await scoped(RegistryRow, tenant).objects(RegistryRow.account == account_id).order_by(
        RegistryRow.batch).order_by(RegistryRow.id)
    batches = {b.id: b for b in await scoped(RegistryBatch, tenant).objects(
        RegistryBatch.id.is_in([r.batch for r in rows] or [0]))}
    asked = {(r.batch, r.enrollment): r for r in await scoped(RegistryResend, tenant).objects(
        RegistryResend.enrollment.is_in([r.enrollment for r in rows] or [0]))}
    out: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r.enrollment, []).append({
            "batch": batches[r.batch], "status": r.status, "reason": r.reason, "uploaded_on": r.uploaded_on,
            "uploaded_hours": r.uploaded_hours, "institution": r.institution, "resend": asked.get((r.batch, r.enrollment))})
    return out


async def other_batches(tenant: Tenant, rows: list[RegistryRow]) -> dict[int, list[RegistryRow]]:
    """For a batch's rows: each enrolment's rows in the other batches, in batch order (its history)."""
    if not rows:
        return {}
    batch = rows[0].batch
    out: dict[int, list[RegistryRow]] = {}
    for r in await scoped(RegistryRow, tenant).objects(
            RegistryRow.enrollment.is_in([r.enrollment for r in rows]) & (RegistryRow.batch != batch)).order_by(
            RegistryRow.batch).order_by(RegistryRow.id):
        out.setdefault(r.enrollment, []).append(r)
    return out


async def hours_records(tenant: Tenant, account_id: int) -> list[dict[str, Any]]:
    """学时记录: per enrolment, 机构 / 岗位 / 已上传学时数 / 总学时数 / 上传日期 as the registry has
    them (the latest uploaded row), its state, and its ``history`` across batches. The state is
    the registry's: 已上传 once any batch uploaded it (a later rejection of a report staff asked
    for does not undo that upload; it shows in the history), else the latest batch's."""
    enrolments = await scoped(Enrollment, tenant).objects(Enrollment.account == account_id).order_by(Enrollment.id)
    courses = {c.id: c for c in await scoped(Course, tenant).objects(
        Course.id.is_in([e.course for e in enrolments] or [0]))}
    positions = {p.id: p.name for p in await scoped(Position, tenant).objects()}
    past = await history(tenant, account_id)
    open_requests = {r.enrollment: r for r in await scoped(RegistryResend, tenant).objects(
        RegistryResend.enrollment.is_in([e.id for e in enrolments] or [0]) & RegistryResend.batch.is_null())}
    out = []
    for e in enrolments:
        course = courses.get(e.course)
        if course is None:
            continue
        rows = past.get(e.id, [])
        uploaded = [r for r in rows if r["status"] == "uploaded"]
        row = uploaded[-1] if uploaded else None
        state = row or (rows[-1] if rows else None)
        out.append({"enrollment": e, "course": course, "institution": row["institution"] if row else tenant.name,
                    "position": positions.get(course.position, ""),
                    "uploaded_hours": row["uploaded_hours"] if row else 0.0,
                    "total_hours": float(course.required_hours), "uploaded_on": row["uploaded_on"] if row else None,
                    "status": state["status"] if state else "", "reason": state["reason"] if state else "",
                    "history": rows, "resend": open_requests.get(e.id)})
    return out


async def request_resend(tenant: Tenant, account_id: int, enrollment_id: int, reason: str,
                         actor_id: int) -> str:
    """Staff ask the next batch to report an uploaded enrolment again. Returns the refusal (in
    Chinese, for the reason field) or "" when the request is recorded (and audited)."""
    reason = reason.strip()
    if not reason or len(reason) > 200:
        return "请填写重新上报的原因（不超过 200 字）"
    enrollment = await scoped(Enrollment, tenant).get(enrollment_id, Enrollment.account == account_id)
    if enrollment is None or not await scoped(RegistryRow, tenant).exists(
            (RegistryRow.enrollment == enrollment.id) & (RegistryRow.status == "uploaded")):
        return "该培训的学时尚未上传成功，无需申请：下一批次会自动上报"
    async with RegistryResend._meta.db.transaction():
        if await scoped(RegistryResend, tenant).exists(
                (RegistryResend.enrollment == enrollment.id) & RegistryResend.batch.is_null()):
            return "已申请重新上报，将在下一批次上报"
        request = scoped(RegistryResend, tenant).new(enrollment=enrollment.id, reason=reason,
                                                     requested_by=actor_id, created_at=dt.datetime.now(dt.UTC))
        await request.save()
    await record("registry.resend_requested", tenant_id=tenant.id, actor_id=actor_id, object_type="enrollment",
                 object_id=enrollment.id, reason=reason)
    return ""
