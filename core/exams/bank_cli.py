"""``xueshi bank import|export``: a position's question bank from and to a file, for banks too
large to handle comfortably in a browser. The import reads every sheet, proposes the mapping the
web page would (the tenant's remembered one for known headers), takes ``--map`` / ``--value``
corrections, prints what is used, ignored and refused, and writes nothing with ``--dry-run``, with
refused rows unless ``--skip-errors``, or when nothing would import.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from core.courses.services import ensure_positions
from core.courses.tables import Position
from core.db.scoped import scoped
from core.exams import bank as banks
from core.exams.bank_images import read_bank_upload
from core.exams.bank_jobs import IMPORT_KIND, export_workbook, write_import
from core.exams.checks import WorkbookPreview
from core.exams.mapping import FIELD_LABELS, SheetPlan, plain
from core.exams.values import KINDS
from core.offload import run_cpu
from core.roster.spreadsheets import SpreadsheetRejected, Table
from core.roster.tables import ImportJob
from core.tenancy import Tenant

SHOWN_ERRORS = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["import", "export"])
    parser.add_argument("file", help="import: the XLSX, CSV or ZIP (a workbook and its pictures) to read; "
                                     "export: the XLSX to write")
    parser.add_argument("--tenant", required=True, help="tenant slug")
    parser.add_argument("--position", required=True, help="the position whose bank it is, e.g. 施工员")
    parser.add_argument("--map", action="append", default=[], metavar="HEADER=FIELD",
                        help=f"import: read the column HEADER as FIELD ({', '.join(FIELD_LABELS)}; '' = not imported)")
    parser.add_argument("--value", action="append", default=[], metavar="kind:CODE=single|multiple|judge",
                        help="import: what a type code or a 判断 answer means (judge:是的=A for 对, =B for 错)")
    parser.add_argument("--skip-errors", action="store_true", help="import: import the valid rows of a file with errors")
    parser.add_argument("--dry-run", action="store_true", help="import: show the preview, write nothing")


def corrected(tables: list[Table], plans: list[SheetPlan], maps: list[str], values: list[str]) -> list[SheetPlan]:
    """The proposed plans with the command line's corrections applied to every sheet."""
    for item in maps:
        header, _, key = item.partition("=")
        if key and key not in FIELD_LABELS:
            raise SystemExit(f"--map {item}: unknown field {key!r}; one of {', '.join(FIELD_LABELS)}")
        for table, plan in zip(tables, plans):
            for i, h in enumerate(table.headers):
                if plain(h) == plain(header):
                    plan.columns[str(i)] = key
    for item in values:
        field, _, rest = item.partition(":")
        raw, _, meaning = rest.partition("=")
        if field not in ("kind", "judge") or (meaning not in KINDS if field == "kind" else meaning not in ("A", "B")):
            raise SystemExit(f"--value {item}: write kind:CODE=single|multiple|judge or judge:WORD=A|B")
        for plan in plans:
            plan.values.setdefault(field, {})[raw] = meaning
    return plans


def describe(workbook: WorkbookPreview) -> list[str]:
    lines = []
    for sheet in workbook.sheets:
        name = sheet.name or "表格"
        if sheet.skipped:
            lines.append(f"[{name}] 不导入：{sheet.skipped}")
            continue
        used = "、".join(f"{h}→{FIELD_LABELS[k]}" for _, h, k in sheet.used)
        lines.append(f"[{name}] 将导入 {len(sheet.valid_rows)} 题，错误 {len(sheet.error_rows)} 行；使用的列：{used}")
        lines += [f"[{name}] 不导入的列 {h or i + 1}：{reason}" for i, h, reason in sheet.ignored]
        for row in sheet.error_rows[:SHOWN_ERRORS]:
            lines.append(f"[{name}] 第 {row.line} 行不导入：" + "；".join(e.message for e in row.errors))
        if len(sheet.error_rows) > SHOWN_ERRORS:
            lines.append(f"[{name}] …另有 {len(sheet.error_rows) - SHOWN_ERRORS} 行错误")
    return lines


async def run(platform, args: argparse.Namespace) -> tuple[int, list[str]]:
    """The command on a started platform: (exit status, lines to print)."""
    tenant: Tenant | None = platform.tenants.get(args.tenant)
    if tenant is None:
        raise SystemExit(f"no tenant {args.tenant!r}; known: {', '.join(t.slug for t in platform.tenants)}")
    if args.action == "export":
        position = await scoped(Position, tenant).objects(Position.name == args.position).first()
        if position is None:
            raise SystemExit(f"no position {args.position!r} in {tenant.slug}")
        bank = await banks.bank_for(tenant, position)
        Path(args.file).write_bytes(await export_workbook(platform.storage, tenant, bank))
        return 0, [f"{len(await banks.export_rows(tenant, bank))} questions written to {args.file}"]
    try:
        upload = await run_cpu("spreadsheet", read_bank_upload, Path(args.file).read_bytes(), Path(args.file).name,
                               banks.LIMITS)
        tables = upload.tables
    except SpreadsheetRejected as exc:
        return 1, [str(exc)]
    plans = corrected(tables, await banks.remembered_plans(tenant, tables), args.map, args.value)
    workbook = await banks.preview(tables, plans)
    lines = describe(workbook)
    if not workbook.valid_rows:
        return 1, [*lines, "没有可以导入的题目"]
    if args.dry_run:
        return 0, [*lines, "--dry-run: nothing written"]
    if workbook.error_rows and not args.skip_errors:
        return 1, [*lines, f"文件中有 {len(workbook.error_rows)} 行错误：修改后重试，或加 --skip-errors 仅导入正确的行"]
    position = (await ensure_positions(tenant, [args.position]))[args.position]
    job = scoped(ImportJob, tenant).new(kind=IMPORT_KIND, filename=Path(args.file).name[:200],
                                        total_rows=len(workbook.rows), summary={"position": position.id},
                                        created_at=dt.datetime.now(dt.UTC))
    await job.save()

    async def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total}", end="", flush=True)

    summary = await write_import(tenant, job, workbook, progress=progress, storage=platform.storage,
                                 images=upload.images)
    print()
    return 0, [*lines, f"已导入：新增 {summary['created']} 题，更新 {summary['updated']} 题，跳过错误行 {summary['skipped']} 行"]
