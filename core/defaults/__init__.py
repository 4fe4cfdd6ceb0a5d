"""The core's own hook implementations, registered like a plugin. Resolvers are ``trylast`` so
any plugin's answer wins."""

from __future__ import annotations

import re
from typing import Any

from core.certificates.registry import CORE_EXPORTERS
from core.certificates.services import default_number
from core.exams.eligibility import rules_policy
from core.exams.scoring import default_fraction, exam_jobs
from core.hookspecs import hookimpl
from core.notify.services import Inbox, RecordingSms
from core.values import MenuLink

# Neutral texts of every notification the core sends; a tenant plugin's notify_templates wins.
TEMPLATES = {
    "sms_code": "您的验证码是 ${code}，${minutes} 分钟内有效。请勿告诉他人。",
    "welcome": "${name}，欢迎使用${tenant}在线培训平台。",
    "roster_added": "${name}，${enterprise}已将您登记为学员，请登录平台完善并确认个人信息。",
    "hours_approved": "${name}，您的学时已通过审核，可登录平台查看学时记录。",
    "mobile_changed": "${name}，您在${tenant}登记的手机号已由工作人员更正为 ${mobile}，今后的学习和审核通知将发送到此号码。",
    "review_reverify": "${name}，审核员需要核实您本人的学习情况，请登录平台在“人脸核验”中重新完成人脸识别。",
    "review_appeal_rejected": "${name}，您对学时清除的申诉经审核未获支持，请登录平台重新学习。",
    "hours_cleared": "${name}，您的${position}岗位${year}年度学时经审核已被清除，请登录平台重新学习。",
}


@hookimpl(trylast=True)
def account_password_problem(tenant: Any, password: str) -> str:
    if len(password) < 8:
        return "密码至少 8 位"
    if len(password) > 128:
        return "密码不能超过 128 位"
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        return "密码需同时包含字母和数字"
    return ""


@hookimpl(trylast=True)
def roster_link_profile(tenant: Any, profile: Any, entry: Any) -> bool:
    return bool(profile.id_number) and profile.id_number == entry.id_number


@hookimpl(trylast=True)
def proctor_challenge_actions(tenant: Any) -> list[str]:
    return ["blink", "open_mouth", "turn_left", "turn_right", "nod"]


@hookimpl
def notify_channels() -> list[Any]:
    return [Inbox(), RecordingSms()]


@hookimpl(trylast=True)
def notify_templates(tenant: Any) -> dict[str, str]:
    return dict(TEMPLATES)


@hookimpl(trylast=True)
def menu_links(tenant: Any, account: Any) -> list[MenuLink]:
    exams = ([MenuLink("在线考核", "/exams", roles=("learner",), order=22, flow="exams")]
             if tenant is not None and tenant.rules.exam.positions else [])
    alternative = ([MenuLink("无摄像头学习申请", "/admin/face-alternatives", roles=("tenant_admin",), order=77,
                             flow="proctoring")]
                   if tenant is not None and tenant.rules.face.allow_alternative else [])
    return [*exams, *alternative,
        MenuLink("题库管理", "/admin/exams", roles=("tenant_admin",), order=78, flow="exams"),
        MenuLink("考核记录", "/admin/exams/attempts", roles=("reviewer",), order=79, flow="exams"),
        MenuLink("我的", "/me", order=10),
        MenuLink("人脸核验", "/face/check", roles=("learner",), order=50, flow="proctoring"),
        MenuLink("课程管理", "/admin/courses", roles=("tenant_admin",), order=70, flow="courses"),
        MenuLink("学员管理", "/admin/learners", roles=("tenant_admin",), order=75),
        MenuLink("账号管理", "/admin/staff", roles=("tenant_admin",), order=76),
        MenuLink("学时审核", "/review", roles=("reviewer",), order=60, flow="review"),
        MenuLink("审核工作量", "/review/workload", roles=("tenant_admin",), order=84, flow="review"),
        MenuLink("短信记录", "/admin/sms", roles=("tenant_admin",), order=85),
        MenuLink("后台任务", "/admin/jobs", roles=("tenant_admin",), order=86),
        MenuLink("操作日志", "/admin/audit", roles=("tenant_admin",), order=87),
        MenuLink("证书管理", "/admin/certificates", roles=("tenant_admin",), order=80, flow="certificates"),
        MenuLink("学时记录", "/hours", roles=("learner",), order=30, flow="courses"),
        MenuLink("消息", "/inbox", order=90),
        MenuLink("修改密码", "/password", order=95),
    ]


@hookimpl(trylast=True)
def cert_number(tenant: Any, enrollment: Any, course: Any, revision: int) -> str:
    return default_number(tenant, enrollment, course, revision)


@hookimpl
def registry_exporters(tenant: Any) -> list[Any]:
    return list(CORE_EXPORTERS)


@hookimpl(trylast=True)
def exam_policy(tenant: Any, position: str, course: Any) -> Any:
    return rules_policy(tenant, position)


@hookimpl(trylast=True)
def exam_score(tenant: Any, question: Any) -> float:
    return default_fraction(question)


@hookimpl
def register_jobs() -> list[Any]:
    return exam_jobs()
