"""``xueshi bank import|export`` (core.exams.bank_cli) on the test platform: the preview printed,
corrections from the command line, nothing written on a dry run, on refused rows without
--skip-errors or when nothing would import; an export that imports again unchanged."""

from __future__ import annotations

import argparse
import csv
import io
import secrets

import openpyxl

from core.exams import bank_cli
from core.exams.tables import Question, QuestionBank
from core.courses.tables import Position

ROWS = [["类别", "题目内容", "A", "B", "C", "答案", "讲解"],
        ["1", "命令行：临时用电采用（  ）系统。", "TN-C", "TN-S", "TT", "B", "TN-S 系统"],
        ["2", "命令行：安全“三宝”包括（  ）。", "安全帽", "安全带", "安全网", "ABC", ""],
        ["3", "命令行：特种作业人员必须持证上岗。", "", "", "", "是的", ""]]
CODES = ["--map", "类别=kind", "--map", "讲解=explanation",
         "--value", "kind:1=single", "--value", "kind:2=multiple", "--value", "kind:3=judge"]


def args(path, position, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bank_cli.add_arguments(parser)
    return parser.parse_args(["import", str(path), "--tenant", "construction", "--position", position, *extra])


async def count(position: str) -> int:
    row = await Position.objects().where(Position.name == position).first()
    bank = row and await QuestionBank.objects().where(QuestionBank.position == row.id).first()
    return await Question.count().where(Question.bank == bank.id) if bank else 0


async def test_import_with_corrections_then_export(platform, tmp_path):
    position = f"命令行岗位{secrets.token_hex(3)}"
    path = tmp_path / "bank.csv"
    out = io.StringIO()
    csv.writer(out).writerows(ROWS)
    path.write_text(out.getvalue(), encoding="utf-8")

    status, lines = await bank_cli.run(platform, args(path, position, "--map", "讲解=explanation", "--dry-run"))
    assert status == 0 and "--dry-run: nothing written" in lines and await count(position) == 0
    assert any("不导入的列 类别：未识别的列名" in line for line in lines)  # what is ignored, and why

    status, lines = await bank_cli.run(platform, args(path, position, "--map", "类别=kind"))
    assert status == 1 and await count(position) == 0  # the codes mean nothing yet: every row refused
    assert "没有可以导入的题目" in lines and any("题型“1”无法识别" in line for line in lines)

    status, lines = await bank_cli.run(platform, args(path, position, *CODES))
    assert status == 1 and any("第 4 行不导入：判断题答案“是的”无法识别" in line for line in lines)
    assert await count(position) == 0  # refused rows and no --skip-errors: nothing written

    status, lines = await bank_cli.run(platform, args(path, position, *CODES, "--skip-errors"))
    assert status == 0 and lines[-1] == "已导入：新增 2 题，更新 0 题，跳过错误行 1 行"
    status, lines = await bank_cli.run(platform, args(path, position, *CODES, "--value", "judge:是的=A"))
    assert status == 0 and lines[-1] == "已导入：新增 1 题，更新 2 题，跳过错误行 0 行"
    stored = {q.stem: q for q in await Question.objects().where(Question.stem.like("命令行：%"))}
    assert stored["命令行：临时用电采用（  ）系统。"].explanation == "TN-S 系统"
    assert stored["命令行：安全“三宝”包括（  ）。"].kind == "multiple"

    exported = tmp_path / "export.xlsx"
    export = argparse.Namespace(action="export", file=str(exported), tenant="construction", position=position)
    assert await bank_cli.run(platform, export) == (0, [f"3 questions written to {exported}"])
    assert openpyxl.load_workbook(exported)["题目"].max_row == 4
    status, lines = await bank_cli.run(platform, args(exported, position))
    assert status == 0 and lines[-1] == "已导入：新增 0 题，更新 3 题，跳过错误行 0 行"
    assert stored["命令行：特种作业人员必须持证上岗。"].answer == "A"
