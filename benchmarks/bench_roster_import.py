"""Roster import speed: 10,000 rows, against a bare read of the same file with openpyxl.

    uv run python benchmarks/bench_roster_import.py [rows]

Prints seconds for (a) openpyxl.load_workbook(read_only=True) + iterate rows, (b) our
read_table + preview_roster (parse, limits, validation, bulk roster lookup), (c) the full commit
(batched upsert) into a fresh SQLite database, and (d) re-importing the same rows (idempotent),
each with its ratio to (a).
"""

from __future__ import annotations

import asyncio
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_xlsx(rows: int) -> bytes:
    import openpyxl

    from core.testing.ids import fake_id_number

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(["姓名", "身份证号", "手机号", "岗位"])
    for i in range(rows):
        ws.append([f"学员{i}", fake_id_number(100_000 + i, area="3301%02d" % (i // 1000 % 100)),
                   f"139{i:08d}", "勘察员"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def bare_read(data: bytes) -> int:
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    n = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    return n


async def main(rows: int) -> None:
    from litestar.testing import AsyncTestClient

    from core.accounts.tables import Enterprise
    from core.app import create_app
    from core.kernel import build_platform, deploy
    from core.roster.imports import commit_roster, preview_roster
    from core.roster.spreadsheets import Limits, read_table
    from core.roster.tables import ImportJob, RosterEntry
    from core.settings import Settings

    data = make_xlsx(rows)
    tmp = Path(tempfile.mkdtemp(prefix="xs-bench-"))
    settings = Settings(database_url=f"sqlite:///{tmp / 'bench.sqlite3'}", secret_key="bench", var_dir=tmp)
    await deploy(build_platform(settings))  # serving never migrates: the deploy step comes first
    app = create_app(settings)
    async with AsyncTestClient(app=app):
        platform = app.state.platform
        tenant = platform.tenants.get("survey")
        hooks = platform.hooks(tenant)
        enterprise = Enterprise(tenant=tenant.id, name="基准测试企业", credit_code="91110000600037341L")
        await enterprise.save()

        t0 = time.perf_counter()
        n = bare_read(data)
        bare = time.perf_counter() - t0

        t0 = time.perf_counter()
        table = read_table(data, "bench.xlsx", Limits(max_rows=rows))
        preview = await preview_roster(hooks=hooks, tenant=tenant, enterprise_id=enterprise.id, table=table)
        parse = time.perf_counter() - t0
        assert len(preview.valid_rows) == rows, len(preview.error_rows)

        timings = []
        for _ in range(2):  # first import, then the same rows again
            job = ImportJob(tenant=tenant.id, enterprise=enterprise.id, kind="roster", filename="bench.xlsx")
            await job.save()
            t0 = time.perf_counter()
            await commit_roster(hooks=hooks, tenant=tenant, job=job, preview=preview, skip_errors=False)
            timings.append(time.perf_counter() - t0)
            if len(timings) == 1:  # the re-import's preview sees the rows as existing
                preview = await preview_roster(hooks=hooks, tenant=tenant, enterprise_id=enterprise.id, table=table)
        count = await RosterEntry.count().where(RosterEntry.enterprise == enterprise.id)
        assert count == rows, count

    print(f"rows: {rows} (file {len(data) / 1024:.0f} KiB, {n - 1} data rows read)")
    print(f"(a) bare openpyxl read_only read     {bare:7.2f} s   1.0x")
    print(f"(b) read_table + preview_roster      {parse:7.2f} s   {parse / bare:4.1f}x")
    print(f"(c) commit into fresh SQLite         {timings[0]:7.2f} s   {timings[0] / bare:4.1f}x")
    print(f"    preview + commit (b + c)         {parse + timings[0]:7.2f} s   {(parse + timings[0]) / bare:4.1f}x")
    print(f"(d) re-import, nothing changes       {timings[1]:7.2f} s   {timings[1] / bare:4.1f}x")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
