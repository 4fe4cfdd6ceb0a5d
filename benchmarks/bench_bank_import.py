"""Question-bank import speed against a bare openpyxl read of the same file.

    uv run python benchmarks/bench_bank_import.py [questions]   (default 10,000; tiny mode 60)

The file is an XLSX of three sheets (单选题, 多选题, 判断题: no type column, the type from the sheet's
name), headers as another tool writes them (题目, 选项A–D, 正确答案（必填）, 解析, 章节). Prints seconds and
questions/s for (a) openpyxl.load_workbook(read_only=True) iterating every sheet's rows,
(b) ``read_bank_upload`` in the spreadsheet worker process (as for an upload: python-calamine
through ``core/roster/xlsx.py`` with its limits and checks, pictures looked for),
(c) the mapping proposed and every row checked in the worker (``bank.preview``),
(d) the batched write into a fresh SQLite database (``write_import``: 500 rows a transaction with
the job's progress), and (e) importing the same file again (every question updated).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.tiny import pick  # noqa: E402

HEADERS = ["序号", "题目", "选项A", "选项B", "选项C", "选项D", "正确答案（必填）", "解析", "章节"]


def make_xlsx(questions: int) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    sizes = {"单选题": questions * 6 // 10, "多选题": questions * 2 // 10}
    sizes["判断题"] = questions - sum(sizes.values())
    for name, size in sizes.items():
        ws = wb.create_sheet(name)
        ws.append(HEADERS)
        for i in range(size):
            stem = f"{name}第 {i + 1} 题：施工现场第 {i % 97 + 1} 项安全检查的要求是（  ）。"
            if name == "判断题":
                ws.append([i + 1, stem.replace("（  ）", ""), "", "", "", "", "对" if i % 2 else "错",
                           "依据规范条文。", f"第 {i % 12 + 1} 章"])
            else:
                answer = "ABD"[i % 3] if name == "单选题" else ["AB", "ACD", "BCD"][i % 3]
                ws.append([i + 1, stem, "符合规范要求", "经验收合格", "按方案实施", "可以随意处理", answer,
                           "依据规范条文。", f"第 {i % 12 + 1} 章"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def bare_read(data: bytes) -> int:
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    n = sum(1 for ws in wb.worksheets for _ in ws.iter_rows(values_only=True))
    wb.close()
    return n


async def main(questions: int) -> None:
    from litestar.testing import AsyncTestClient

    from core.app import create_app
    from core.courses.services import ensure_positions
    from core.db.scoped import scoped
    from core.exams import bank as banks
    from core.exams.bank_jobs import IMPORT_KIND, write_import
    from core.exams.tables import Question
    from core.kernel import build_platform, deploy
    from core.offload import run_cpu
    from core.exams.bank_images import read_bank_upload
    from core.roster.tables import ImportJob
    from core.settings import Settings

    data = make_xlsx(questions)
    tmp = Path(tempfile.mkdtemp(prefix="xs-bench-"))
    settings = Settings(database_url=f"sqlite:///{tmp / 'bench.sqlite3'}", secret_key="bench", var_dir=tmp)
    await deploy(build_platform(settings))
    app = create_app(settings)
    async with AsyncTestClient(app=app):
        tenant = app.state.platform.tenants.get("construction")
        position = (await ensure_positions(tenant, ["基准岗位"]))["基准岗位"]

        t0 = time.perf_counter()
        n = bare_read(data)
        bare = time.perf_counter() - t0

        # The worker process started and its modules imported before timing, as after a server's first upload.
        warm = (await run_cpu("spreadsheet", read_bank_upload, make_xlsx(3), "warm.xlsx", banks.LIMITS)).tables
        await banks.preview(warm, await banks.remembered_plans(tenant, warm))
        t0 = time.perf_counter()
        tables = (await run_cpu("spreadsheet", read_bank_upload, data, "bench.xlsx", banks.LIMITS)).tables
        read = time.perf_counter() - t0
        t0 = time.perf_counter()
        workbook = await banks.preview(tables, await banks.remembered_plans(tenant, tables))
        check = time.perf_counter() - t0
        assert len(workbook.valid_rows) == questions, [r.errors for r in workbook.error_rows[:3]]

        writes = []
        for _ in range(2):  # the first import, then the same file again
            job = scoped(ImportJob, tenant).new(kind=IMPORT_KIND, filename="bench.xlsx", total_rows=questions,
                                                summary={"position": position.id}, created_at=dt.datetime.now(dt.UTC))
            await job.save()
            t0 = time.perf_counter()
            summary = await write_import(tenant, job, workbook)
            writes.append(time.perf_counter() - t0)
        assert summary["updated"] == questions, summary
        assert await Question.count() == questions

    def line(label: str, seconds: float) -> str:
        return f"{label:<44}{seconds:7.2f} s {questions / seconds:9,.0f} q/s {seconds / bare:6.1f}x"

    total = read + check + writes[0]
    print(f"questions: {questions} in 3 sheets (file {len(data) / 1024:.0f} KiB, {n - 3} data rows read)")
    print(f"{'':<44}{'seconds':>9} {'questions/s':>13} {'vs bare':>7}")
    print(line("(a) bare openpyxl read_only read", bare))
    print(line("(b) read_bank_upload in the worker process", read))
    print(line("(c) mapping + checks in the worker", check))
    print(line("(d) batched write into fresh SQLite", writes[0]))
    print(line("    upload to imported (b + c + d)", total))
    print(line("(e) the same file again (all updated)", writes[1]))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else pick(10_000, 60)))
