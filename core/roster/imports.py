"""The roster import engine: columns by Chinese header, row checks, preview, batched upsert.

Semantics (see docs/survey_association.md): the preview writes nothing; a file with error rows is
committed only when the caller passes ``skip_errors`` (then exactly the valid rows go in); the
commit upserts by (enterprise, ID number) in one transaction per batch, so importing the same file
again never duplicates and completes an interrupted import.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from core.accounts.tables import Enterprise
from core.audit.services import record as audit
from core.db.scoped import scoped
from core.files.tables import StoredFile
from core.identity import InvalidIdentity, normalize_id_number, normalize_mobile
from core.jobs import platform_of, report
from core.offload import run_cpu
from core.plugins import Hooks, collect
from core.roster.spreadsheets import (
    Limits, PARSED_MEDIA_TYPE, SpreadsheetRejected, Table, read_table_async, table_from_json, table_to_json,
)
from core.roster.tables import ImportJob, RosterEntry
from core.tenancy import Tenant

BATCH_SIZE = 500


async def keep_table(storage: Any, tenant: Tenant, table: Table) -> Any:
    """Store an upload's parsed rows (private storage, kind "import": the retention rule for import
    files purges them) and return the ``StoredFile`` an ``ImportJob.file`` points to. The upload
    itself is not kept: preview pages, the confirm step and the import job read these rows, so a
    file is parsed exactly once, when it is uploaded."""
    data = await run_cpu("spreadsheet", table_to_json, table)
    return await storage.save(data, tenant_id=tenant.id, kind="import", media_type=PARSED_MEDIA_TYPE)


async def kept_table(storage: Any, tenant: Tenant, job: ImportJob, limits: Any = None) -> Table | None:
    """The rows ``keep_table`` stored for ``job`` (None when retention has purged them). A job
    stored before rows were kept points to the uploaded file itself: that one is parsed (bounded,
    in the spreadsheet pool)."""
    stored = await scoped(StoredFile, tenant).get(job.file) if job.file else None
    if stored is None:
        return None
    data = await storage.read(stored)
    if stored.media_type == PARSED_MEDIA_TYPE:
        return await run_cpu("spreadsheet", table_from_json, data)
    return await read_table_async(data, job.filename, limits)


@dataclass(frozen=True)
class RosterColumn:
    key: str
    header: str  # the Chinese header in the template
    required: bool = False  # the column must be present in the file
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowError:
    column: str  # a column key, or "" for the whole row
    message: str


CORE_COLUMNS = (
    RosterColumn("real_name", "姓名", True, ("学员姓名",)),
    RosterColumn("id_number", "身份证号", True, ("身份证号码", "身份证")),
    RosterColumn("mobile", "手机号", False, ("手机号码", "手机", "联系电话")),
    RosterColumn("position", "岗位", False, ("岗位类别", "岗位名称")),
)


@dataclass
class PreviewRow:
    line: int
    values: dict[str, str]
    errors: list[RowError] = field(default_factory=list)
    existing: bool = False  # already on this company's roster: the import updates it

    def error_for(self, key: str) -> str:
        return "；".join(e.message for e in self.errors if e.column == key)


class CheckedRows:
    """A spreadsheet's rows after the checks (``rows``), split by whether they have errors: the
    base of every import preview (rosters, learners, question banks)."""

    rows: list[PreviewRow]

    @property
    def error_rows(self) -> list[PreviewRow]:
        return [r for r in self.rows if r.errors]

    @property
    def valid_rows(self) -> list[PreviewRow]:
        return [r for r in self.rows if not r.errors]


@dataclass
class Preview(CheckedRows):
    columns: list[RosterColumn]
    rows: list[PreviewRow]


def _key(text: str) -> str:
    return "".join(text.split()).replace("*", "").replace("（", "(").split("(")[0]


def map_columns(headers: list[str], columns: list[RosterColumn]) -> dict[str, int]:
    """Column key → index in the file; raises SpreadsheetRejected when required columns are missing."""
    wanted = {_key(name): c.key for c in columns for name in (c.header, *c.aliases)}
    mapping: dict[str, int] = {}
    for i, header in enumerate(headers):
        key = wanted.get(_key(header))
        if key is not None and key not in mapping:
            mapping[key] = i
    missing = [c.header for c in columns if c.required and c.key not in mapping]
    if missing:
        raise SpreadsheetRejected(
            f"表头缺少必需的列：{'、'.join(missing)}。请下载模板，按模板的列名填写（第一行为表头）"
        )
    return mapping


async def columns_for(hooks: Hooks, tenant: Tenant) -> list[RosterColumn]:
    return [*CORE_COLUMNS, *await collect(hooks.roster_columns, tenant=tenant)]


def check_core(values: dict[str, str], positions: list[str], *, chosen: bool = False) -> list[RowError]:
    """Normalise ``values`` in place and return the core rules they break. ``chosen``: the values
    come from a form whose 岗位 is a list to choose from (请选择), not a cell to fill in (请填写)."""
    errors: list[RowError] = []
    if not values.get("real_name"):
        errors.append(RowError("real_name", "姓名不能为空"))
    elif len(values["real_name"]) > 50:
        errors.append(RowError("real_name", "姓名过长"))
    try:
        values["id_number"] = normalize_id_number(values.get("id_number", ""))
    except InvalidIdentity as exc:
        errors.append(RowError("id_number", str(exc)))
    if values.get("mobile"):
        try:
            values["mobile"] = normalize_mobile(values["mobile"])
        except InvalidIdentity as exc:
            errors.append(RowError("mobile", str(exc)))
    position = values.get("position", "")
    if positions and position and position not in positions:
        errors.append(RowError("position", f"岗位“{position}”不在可选岗位中（{'、'.join(positions)}）"))
    elif positions and not position:
        errors.append(RowError("position", "请选择岗位" if chosen else "请填写岗位"))
    return errors


async def _owners(tenant: Tenant, id_numbers: list[str]) -> dict[str, int]:
    """ID number → the enterprise whose roster lists it (bulk, in chunks)."""
    owners: dict[str, int] = {}
    for i in range(0, len(id_numbers), BATCH_SIZE):
        chunk = id_numbers[i : i + BATCH_SIZE]
        rows = await scoped(RosterEntry, tenant).select(RosterEntry.id_number, RosterEntry.enterprise).where(
            RosterEntry.id_number.is_in(chunk)
        )
        for row in rows:
            owners.setdefault(row["id_number"], row["enterprise"])
    return owners


async def preview_roster(*, hooks: Hooks, tenant: Tenant, enterprise_id: int, table: Table) -> Preview:
    """Every row with its errors; writes nothing."""
    columns = await columns_for(hooks, tenant)
    mapping = map_columns(table.headers, columns)
    positions = list(tenant.rules.roster.positions)
    rows: list[PreviewRow] = []
    seen: dict[str, int] = {}
    for line, cells in table.rows:
        values = {c.key: (cells[mapping[c.key]] if c.key in mapping and mapping[c.key] < len(cells) else "")
                  for c in columns}
        row = PreviewRow(line, values, check_core(values, positions))
        if not row.error_for("id_number"):
            first = seen.setdefault(values["id_number"], line)
            if first != line:
                row.errors.append(RowError("id_number", f"与第 {first} 行的身份证号重复"))
        for extra in await collect(hooks.roster_validate_row, tenant=tenant, row=values):
            row.errors.append(extra)
        rows.append(row)
    owners = await _owners(tenant, list(seen))
    own = [i for i, o in owners.items() if o == enterprise_id]
    joined: dict[str, RosterEntry] = {}
    for i in range(0, len(own), BATCH_SIZE):
        joined.update({e.id_number: e for e in await scoped(RosterEntry, tenant).objects(
            (RosterEntry.enterprise == enterprise_id) & (RosterEntry.status == "joined")
            & RosterEntry.id_number.is_in(own[i:i + BATCH_SIZE]))})
    for row in rows:
        owner = owners.get(row.values.get("id_number", ""))
        if owner is None or row.error_for("id_number"):
            continue
        if owner == enterprise_id:
            row.existing = True
            row.errors.extend(identity_changes(joined.get(row.values["id_number"]), row.values))
        else:
            row.errors.append(RowError("id_number", "该身份证号已被其他企业登记为学员"))
    return Preview(columns, rows)


def identity_changes(entry: RosterEntry | None, values: dict[str, str]) -> list[RowError]:
    """A joined entry (a learner proved it is theirs) keeps its name and mobile: a row changing
    them is refused, so a roster file cannot rewrite whom an entry names."""
    if entry is None:
        return []
    errors = []
    if values.get("real_name") and values["real_name"] != entry.real_name:
        errors.append(RowError("real_name", "该学员已加入本企业名单，导入不能更改其姓名；如有错误请联系培训机构"))
    if values.get("mobile") and entry.mobile and values["mobile"] != entry.mobile:
        errors.append(RowError("mobile", "该学员已加入本企业名单，导入不能更改其手机号；如需更换请联系培训机构"))
    return errors


FIELDS = ("real_name", "mobile", "position")


async def upsert_rows(
    *, hooks: Hooks, tenant: Tenant, enterprise_id: int, rows: list[dict[str, str]]
) -> dict[str, int]:
    """Insert or update one batch in one transaction; returns counts."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    now = dt.datetime.now(dt.UTC)
    async with RosterEntry._meta.db.transaction():
        existing = {
            e.id_number: e
            for e in await scoped(RosterEntry, tenant).objects(
                (RosterEntry.enterprise == enterprise_id)
                & RosterEntry.id_number.is_in([r["id_number"] for r in rows])
            )
        }
        new: list[RosterEntry] = []
        for values in rows:
            entry = existing.get(values["id_number"])
            if entry is None:
                new.append(scoped(RosterEntry, tenant).new(
                    enterprise=enterprise_id, id_number=values["id_number"],
                    real_name=values["real_name"], mobile=values.get("mobile") or None,
                    position=values.get("position", ""), status="pending", created_at=now, updated_at=now,
                ))
                continue
            if identity_changes(entry if entry.status == "joined" else None, values):
                counts["refused"] = counts.get("refused", 0) + 1  # changed since the preview
                continue
            wanted = {"real_name": values["real_name"], "mobile": values.get("mobile") or entry.mobile,
                      "position": values.get("position") or entry.position}
            if all(getattr(entry, k) == v for k, v in wanted.items()):
                counts["unchanged"] += 1
                continue
            await scoped(RosterEntry, tenant).update({**{getattr(RosterEntry, k): v for k, v in wanted.items()},
                                                      RosterEntry.updated_at: now}).where(RosterEntry.id == entry.id)
            counts["updated"] += 1
        if new:
            await RosterEntry.insert(*new)
            counts["created"] = len(new)
    # New entries stay "pending" (未加入) until the learner joins them from their own profile
    # (core.roster.linking): joining needs the learner's confirmation, never the company's.
    return counts


async def commit_in_batches(
    *, job: ImportJob, rows: list[Any], write: Callable[[list[Any]], Awaitable[dict[str, int]]],
    summary: dict[str, Any], progress: Callable[[int, int], Awaitable[None]] | None = None,
    batch_size: int = BATCH_SIZE,
) -> dict[str, Any]:
    """Write ``rows`` (every row of the file, in file order) in batches from ``job.processed_rows``
    on. Each batch's writes, the job's ``processed_rows`` and its ``summary`` commit in one
    transaction, so an import interrupted anywhere (a killed worker) resumes exactly after its
    last committed batch: no row is written twice or skipped, and the counts stay true."""
    for start in range(job.processed_rows, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        async with ImportJob._meta.db.transaction():
            counts = await write(batch)
            for k, v in counts.items():
                summary[k] = summary.get(k, 0) + v
            job.processed_rows, job.summary = start + len(batch), summary
            await job.save([ImportJob.processed_rows, ImportJob.summary])
        if progress is not None:
            await progress(job.processed_rows, len(rows))
    return summary


async def begin_import(job: ImportJob, *, total_rows: int, error_rows: int, summary: dict[str, Any]) -> dict[str, Any]:
    """Mark ``job`` running. A job that was already running (its worker died, or an attempt
    failed) keeps its progress and counts, so the batches after it continue the same totals."""
    if job.processed_rows and job.status in ("queued", "running"):
        if job.status != "running":
            job.status = "running"
            await job.save([ImportJob.status])
        return {**summary, **{k: v for k, v in as_dict(job.summary).items() if k != "error"}}
    job.status, job.processed_rows, job.error_rows, job.total_rows = "running", 0, error_rows, total_rows
    job.summary, job.finished_at = summary, None
    await job.save([ImportJob.status, ImportJob.processed_rows, ImportJob.error_rows, ImportJob.total_rows,
                    ImportJob.summary, ImportJob.finished_at])
    return summary


async def end_import(job: ImportJob, status: str, summary: dict[str, Any]) -> None:
    job.status, job.finished_at, job.summary = status, dt.datetime.now(dt.UTC), summary
    await job.save([ImportJob.status, ImportJob.finished_at, ImportJob.summary])


def as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value or "{}")
    return dict(value or {})


async def commit_roster(
    *, hooks: Hooks, tenant: Tenant, job: ImportJob, preview: Preview, skip_errors: bool,
    batch_size: int = BATCH_SIZE, progress: Callable[[int, int], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Write the valid rows in batches, recording progress on ``job``; resumes a running job."""
    if preview.error_rows and not skip_errors:
        raise SpreadsheetRejected(f"文件中有 {len(preview.error_rows)} 行错误，请修改后重新上传，"
                                  "或勾选“忽略错误行，仅导入正确的行”")
    summary = await begin_import(job, total_rows=len(preview.rows), error_rows=len(preview.error_rows), summary={
        "created": 0, "updated": 0, "unchanged": 0, "skipped": len(preview.error_rows),
        "to_import": len(preview.valid_rows)})

    async def write(batch: list[PreviewRow]) -> dict[str, int]:
        valid = [r.values for r in batch if not r.errors]
        if not valid:
            return {}
        return await upsert_rows(hooks=hooks, tenant=tenant, enterprise_id=job.enterprise, rows=valid)

    summary = await commit_in_batches(job=job, rows=preview.rows, write=write, summary=summary,
                                      progress=progress, batch_size=batch_size)
    await end_import(job, "done", summary)
    return summary


# --- the import as a job (core.jobs): runs in a worker, or in-process without Redis ---------------

INTERRUPTED = "导入失败：{error}。已导入的行已保存，再次点击“确认导入”将从中断处继续（不会重复）"


async def run_roster_import(ctx: dict[str, Any], *, tenant: str, import_id: int, skip_errors: bool,
                            actor_id: int | None = None) -> dict[str, Any]:
    """Job: commit a previewed roster import, by id, from the rows parsed at upload (``kept_table``);
    a retry (or the stale-job recovery) of an interrupted run resumes after its last committed batch."""
    platform = platform_of(ctx)
    t = platform.tenants.get(tenant)
    job = await scoped(ImportJob, t).get(import_id, ImportJob.kind == "roster")
    if job is None or job.status == "done":
        return {"skipped": "not found or done"}
    table = await kept_table(platform.storage, t, job, Limits(max_rows=t.rules.roster.max_import_rows))
    if table is None:
        raise RuntimeError(f"import {import_id}: its file is gone")
    await report(ctx, job.processed_rows, len(table.rows))
    hooks = platform.hooks(t)
    preview = await preview_roster(hooks=hooks, tenant=t, enterprise_id=job.enterprise, table=table)
    summary = await commit_roster(hooks=hooks, tenant=t, job=job, preview=preview, skip_errors=skip_errors,
                                  progress=lambda done, total: report(ctx, done, total))
    counts = {k: v for k, v in summary.items() if isinstance(v, int)}
    await audit("roster.imported", tenant_id=t.id, actor_id=actor_id, object_type="import_job", object_id=job.id,
                **counts)
    enterprise = await scoped(Enterprise, t).get(job.enterprise)
    await collect(hooks.roster_imported, tenant=t, enterprise=enterprise, summary=summary)
    return counts


async def import_failed(ctx: dict[str, Any], error: str, *, tenant: str, import_id: int, **_: Any) -> None:
    """``on_failure`` of the import jobs: the import shows as failed, with what happened."""
    t = platform_of(ctx).tenants.get(tenant)
    job = await scoped(ImportJob, t).get(import_id)
    if job is not None and job.status != "done":
        await end_import(job, "failed", {**as_dict(job.summary), "error": INTERRUPTED.format(error=error)})
