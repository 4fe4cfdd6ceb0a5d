"""Certificate holders ("证书管理 → 人员确认"): the rules a row must meet, and loading a file."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from core import (
    ImportJob,
    InvalidIdentity,
    RosterColumn,
    begin_import,
    commit_in_batches,
    end_import,
    map_columns,
    normalize_credit_code,
    normalize_id_number,
    scoped,
)
from plugins.survey_association.company.certification import approved_credit_codes
from plugins.survey_association.tables import CertificateHolder

COLUMNS = [
    RosterColumn("real_name", "姓名", True),
    RosterColumn("id_number", "身份证号", True, ("身份证号码",)),
    RosterColumn("cert_number", "证书编号", True, ("证书号", "证书号码")),
    RosterColumn("position", "岗位", True, ("岗位类别",)),
    RosterColumn("issued_on", "发证日期", True, ("发证时间",)),
    RosterColumn("expires_on", "有效期至", True, ("有效期", "到期日期", "有效期截止")),
    RosterColumn("credit_code", "企业信用代码", True, ("统一社会信用代码", "企业统一社会信用代码")),
]
EDITABLE = ("real_name", "id_number", "cert_number", "position", "issued_on", "expires_on")
LIMITS = {"real_name": 100, "id_number": 18, "cert_number": 64, "position": 64, "credit_code": 18}
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T].*)?$")


def parse_date(text: str) -> dt.date | None:
    text = (text or "").strip()
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    m = _DATE.match(text)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


@dataclass
class Checked:
    values: dict  # what to store
    problems: list[dict]  # {"field": …, "message": …}


def check(raw: dict[str, str], positions: list[str]) -> Checked:
    """Normalise one holder's fields and list the rules they break."""
    values: dict = {k: (raw.get(k) or "").strip()[: LIMITS.get(k, 64)] for k in EDITABLE}
    problems: list[dict] = []

    def bad(field: str, message: str) -> None:
        problems.append({"field": field, "message": message})

    if not values["real_name"]:
        bad("real_name", "姓名不能为空")
    try:
        values["id_number"] = normalize_id_number(raw.get("id_number", ""))
    except InvalidIdentity as exc:
        bad("id_number", str(exc))
    if not values["cert_number"]:
        bad("cert_number", "证书编号不能为空")
    if not values["position"]:
        bad("position", "岗位不能为空")
    elif positions and values["position"] not in positions:
        bad("position", f"岗位“{values['position']}”不在可选岗位中（{'、'.join(positions)}）")
    for key, label in (("issued_on", "发证日期"), ("expires_on", "有效期至")):
        text = (raw.get(key) or "").strip()
        values[key] = parse_date(text)
        if values[key] is None:
            bad(key, f"{label}{'不能为空' if not text else '格式不正确，应为 年-月-日，如 2024-03-01'}")
    if values["issued_on"] and values["expires_on"] and values["expires_on"] <= values["issued_on"]:
        bad("expires_on", "有效期至应晚于发证日期")
    elif values["expires_on"] and (message := expired(values["expires_on"])):
        bad("expires_on", message)
    return Checked(values, problems)


def expired(expires_on: dt.date | None, today: dt.date | None = None) -> str:
    """The problem of a certificate whose 有效期至 has passed ("" while it is valid). Checked on
    load, on correction, on every view and again at confirmation: a certificate loaded while
    valid may have expired since."""
    today = today or dt.date.today()
    if expires_on is not None and expires_on < today:
        return f"证书已过期（有效期至 {expires_on:%Y-%m-%d}）"
    return ""


async def load_rows(tenant, table, positions: list[str], *, job: ImportJob, progress=None) -> dict[str, int]:
    """Store every row with its problems, keyed by certificate number within the tenant, in
    batches that commit with ``job``'s progress (``commit_in_batches``: a re-run continues)."""
    mapping = map_columns(table.headers, COLUMNS)
    companies = await approved_credit_codes(tenant)
    holders = scoped(CertificateHolder, tenant)

    async def write(batch) -> dict[str, int]:
        counts = {"rows": 0, "created": 0, "updated": 0, "with_problems": 0, "unmatched": 0}
        for _line, cells in batch:
            raw = {c.key: cells[mapping[c.key]] if mapping[c.key] < len(cells) else "" for c in COLUMNS}
            checked = check(raw, positions)
            try:
                credit = normalize_credit_code(raw["credit_code"])
            except InvalidIdentity:
                credit = raw["credit_code"].strip().upper()[:18]
            enterprise = companies.get(credit)
            counts["rows"] += 1
            counts["with_problems"] += bool(checked.problems)
            counts["unmatched"] += enterprise is None
            row = None
            if checked.values["cert_number"]:
                row = await holders.objects(CertificateHolder.cert_number == checked.values["cert_number"]).first()
            if row is not None and row.status == "confirmed":
                continue  # a confirmed certificate is the company's word; a reload does not undo it
            counts["created" if row is None else "updated"] += 1
            row = row or holders.new()
            for key, value in checked.values.items():
                setattr(row, key, value)
            row.credit_code, row.enterprise, row.problems = credit, enterprise, checked.problems
            await row.save()
        return counts

    summary = await begin_import(job, total_rows=len(table.rows), error_rows=0, summary={
        "rows": 0, "created": 0, "updated": 0, "with_problems": 0, "unmatched": 0})
    summary = await commit_in_batches(job=job, rows=table.rows, write=write, summary=summary, progress=progress)
    await end_import(job, "done", summary)
    return summary
