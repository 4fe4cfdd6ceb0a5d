"""The national registry report (住建部培训管理信息系统): exporters, the report job and the
reconciliation with the registry's result file.

There is no registry to reach from here: the report job writes the export file (the exporter
named by the report, ``xlsx`` by default) into private storage for an operator to upload, with
every row ``pending``; importing the registry's result file sets each row ``uploaded`` or
``rejected`` with the reason. The result file's columns are 行号, 身份证号, 结果 (成功 / 失败),
原因, 上传日期 (docs/certificates.md).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from core.accounts.tables import Account
from core.certificates.tables import RegistryBatch, RegistryRow
from core.courses.tables import Course, Enrollment, Position
from core.db.scoped import scoped
from core.offload import run_cpu
from core.roster.spreadsheets import Limits, SpreadsheetRejected, read_table, write_csv, write_xlsx
from core.tenancy import Tenant

log = logging.getLogger("xueshi.registry")
HEADERS = ["行号", "姓名", "身份证号", "机构", "岗位", "已上传学时数", "总学时数", "上传日期"]
RESULT_HEADERS = ["行号", "身份证号", "结果", "原因", "上传日期"]
ROW_STATUS_LABELS = {"pending": "待上传", "uploaded": "已上传", "rejected": "已退回"}
BATCH_STATUS_LABELS = {"exporting": "正在导出", "exported": "已导出，待导入结果", "reconciled": "已导入结果"}
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
            r.upload_date]


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
    from core.hookcalls import collect

    found: dict[str, RegistryExporter] = {}
    for exporter in await collect(hooks.registry_exporters, tenant=tenant):
        if exporter.key not in found or found[exporter.key] in CORE_EXPORTERS:
            found[exporter.key] = exporter
    return found


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()


async def build_rows(tenant: Tenant, batch: RegistryBatch, eligible: list[Enrollment]) -> list[RegistryRow]:
    """One pending row per eligible enrolment (learner and position) of the batch."""
    from core.study.services import hours as credited_hours

    courses = {c.id: c for c in await scoped(Course, tenant).objects(
        Course.id.is_in([e.course for e in eligible] or [0]))}
    positions = {p.id: p.name for p in await scoped(Position, tenant).objects()}
    now = dt.datetime.now(dt.UTC)
    rows = []
    for i, e in enumerate(eligible, start=1):
        course = courses[e.course]
        total = float(course.required_hours)
        row = scoped(RegistryRow, tenant).new(
            batch=batch.id, enrollment=e.id, account=e.account, row_ref=f"{batch.id}-{i}",
            institution=tenant.name[:200], position=positions.get(course.position, "")[:64],
            uploaded_hours=min(credited_hours(tenant, e.credited_seconds), total), total_hours=total,
            status="pending", updated_at=now)
        rows.append(row)
    if rows:
        await RegistryRow.insert(*rows)
    return rows


async def records_of(tenant: Tenant, batch_id: int) -> list[RegistryRecord]:
    rows = await scoped(RegistryRow, tenant).objects(RegistryRow.batch == batch_id).order_by(RegistryRow.id)
    people = {a.id: a for a in await scoped(Account, tenant).objects(
        Account.id.is_in([r.account for r in rows] or [0]))}
    day = _today().isoformat()
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

    def summary(self) -> str:
        text = f"已上传 {self.uploaded} 行，已退回 {self.rejected} 行"
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
            if result in ("成功", "已上传", "uploaded"):
                day = _date(cell(cells, "上传日期")) or _today()
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


async def hours_records(tenant: Tenant, account_id: int) -> list[dict[str, Any]]:
    """学时记录: per enrolment, 机构 / 岗位 / 已上传学时数 / 总学时数 / 上传日期 as the registry has
    them (the latest uploaded row), or nothing uploaded yet."""
    enrolments = await scoped(Enrollment, tenant).objects(Enrollment.account == account_id).order_by(Enrollment.id)
    courses = {c.id: c for c in await scoped(Course, tenant).objects(
        Course.id.is_in([e.course for e in enrolments] or [0]))}
    positions = {p.id: p.name for p in await scoped(Position, tenant).objects()}
    uploaded = await scoped(RegistryRow, tenant).objects(
        (RegistryRow.account == account_id) & (RegistryRow.status == "uploaded")).order_by(RegistryRow.id)
    latest = {r.enrollment: r for r in uploaded}
    pending = {r.enrollment: r for r in await scoped(RegistryRow, tenant).objects(
        (RegistryRow.account == account_id)).order_by(RegistryRow.id)}
    out = []
    for e in enrolments:
        course = courses.get(e.course)
        if course is None:
            continue
        row = latest.get(e.id)
        last = pending.get(e.id)
        out.append({"enrollment": e, "course": course, "institution": row.institution if row else tenant.name,
                    "position": positions.get(course.position, ""), "uploaded_hours": row.uploaded_hours if row else 0.0,
                    "total_hours": float(course.required_hours), "uploaded_on": row.uploaded_on if row else None,
                    "status": last.status if last else "", "reason": last.reason if last else ""})
    return out
