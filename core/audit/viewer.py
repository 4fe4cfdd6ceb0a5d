"""操作日志: a tenant's audit entries for its admins, filtered by actor (name), action and tenant
days, paged, newest first. Actions are named in Chinese (``ACTION_LABELS``; an unnamed action shows
its code); an entry's detail is shown as its code's keys and values with any ID or mobile number
masked, whatever the entry holds."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core import tenant_time
from core.accounts.tables import Account
from core.audit.tables import AuditEntry
from core.db.scoped import scoped
from core.identity import mask_id_number, mask_mobile
from core.tenancy import Tenant

PAGE_SIZE = 50
ACTION_LABELS = {
    "signin": "登录", "signin.locked": "登录锁定", "password.changed": "修改密码",
    "staff.created": "添加工作人员", "staff.updated": "修改工作人员", "staff.reactivated": "启用工作人员",
    "learner.password_reset": "重置学员密码", "learner.mobile_changed": "更正手机号", "learner.corrected": "更正学员信息",
    "learners.imported": "导入学员", "roster.linked": "关联名册", "profile.images": "上传证件照片",
    "position.created": "新建岗位", "course.created": "新建课程", "course.updated": "修改课程",
    "lesson.created": "新建课件", "lesson.deleted": "删除课件", "lesson.retranscode": "重新转码课件视频", "lessons.reordered": "调整课件顺序",
    "course.enrolled": "报名课程", "study.anomaly": "学习异常",
    "face.passed": "人脸核验通过", "face.failed": "人脸核验未通过", "face.open": "人脸核验未完成",
    "face.consent_granted": "同意人脸核验", "face.consent_withdrawn": "撤回人脸核验同意",
    "face.alternative_requested": "申请无摄像头学习", "face.alternative_approved": "批准无摄像头学习",
    "face.alternative_refused": "拒绝无摄像头学习",
    "review.approve": "审核通过", "review.clear": "清除学时", "review.reverify": "要求重新核验",
    "review.appeal": "提交申诉", "review.appeal_upheld": "申诉成立", "review.appeal_rejected": "申诉驳回",
    "exam.submitted": "提交考核", "exam_bank.imported": "导入题库", "exam_question.created": "新增试题",
    "exam_question.updated": "修改试题", "exam_question.disabled": "停用试题",
    "exam_question.bulk_disable": "批量停用试题", "exam_question.bulk_enable": "批量启用试题",
    "exam_question.bulk_delete": "批量删除试题",
    "certificate.issued": "颁发证书", "certificate.renewed": "补发证书", "certificate.batch": "批量打印证书",
    "registry.report": "学时上报", "registry.reconciled": "导入上报结果", "registry.resend_requested": "申请重新上报",
    "export.downloaded": "导出数据",
}
ID_NUMBER = re.compile(r"\b\d{17}[\dXx]\b")
MOBILE = re.compile(r"\b1\d{10}\b")


def masked(value: Any) -> str:
    """``value`` as text with every ID number and mobile in it masked."""
    text = value if isinstance(value, str) else str(value)
    return MOBILE.sub(lambda m: mask_mobile(m.group()), ID_NUMBER.sub(lambda m: mask_id_number(m.group()), text))


def detail_items(detail: Any) -> list[tuple[str, str]]:
    """The entry's detail as (key, value) texts, masked; the column may come back as JSON text."""
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except ValueError:
            pass
    if not isinstance(detail, Mapping):
        return [] if detail in (None, "", {}) else [("", masked(detail))]
    return [(masked(k), masked(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)))
            for k, v in detail.items()]


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""  # part of the actor's name
    action: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    page: int = 1

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> AuditFilter:
        def day(name: str) -> dt.date | None:
            try:
                return dt.date.fromisoformat((params.get(name) or "")[:10])
            except ValueError:
                return None

        page = (params.get("page") or "")[:6]
        return cls(actor=(params.get("actor") or "").strip()[:50], action=(params.get("action") or "").strip()[:64],
                   since=day("since"), until=day("until"), page=int(page) if page.isdigit() and int(page) > 0 else 1)

    def query(self, **change: Any) -> dict[str, str]:
        values = {"actor": self.actor, "action": self.action, "since": self.since.isoformat() if self.since else "",
                  "until": self.until.isoformat() if self.until else "", "page": str(self.page),
                  **{k: str(v) for k, v in change.items()}}
        return {k: v for k, v in values.items() if v and not (k == "page" and v == "1")}


@dataclass
class AuditPage:
    entries: list[AuditEntry]
    actors: dict[int, Account]
    total: int
    pages: int
    actions: list[str]  # every action the tenant's log holds (the filter's choices)


async def find(tenant: Tenant, f: AuditFilter) -> AuditPage:
    zone = tenant_time.zone(tenant)
    where: list[Any] = []
    if f.actor:
        where.append(AuditEntry.actor.is_in(scoped(Account, tenant).select(Account.id).where(
            Account.real_name.like(f"%{f.actor}%"))))
    if f.action:
        where.append(AuditEntry.action == f.action)
    if f.since:
        where.append(AuditEntry.created_at >= dt.datetime.combine(f.since, dt.time(), zone))
    if f.until:
        where.append(AuditEntry.created_at < dt.datetime.combine(f.until + dt.timedelta(days=1), dt.time(), zone))
    total = await scoped(AuditEntry, tenant).count(*where)
    entries = await scoped(AuditEntry, tenant).objects(*where).order_by(AuditEntry.id, ascending=False).limit(
        PAGE_SIZE).offset((f.page - 1) * PAGE_SIZE)
    actors = {a.id: a for a in await scoped(Account, tenant).objects(
        Account.id.is_in(sorted({e.actor for e in entries if e.actor}) or [0]))}
    actions = sorted({r["action"] for r in await scoped(AuditEntry, tenant).select(AuditEntry.action).distinct()})
    return AuditPage(entries, actors, total, max(1, -(-total // PAGE_SIZE)), actions)
