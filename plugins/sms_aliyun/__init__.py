"""Alibaba Cloud SMS (阿里云短信服务) as a tenant's SMS provider: a tenant whose rules say
``[sms] provider = "aliyun"`` sends its texts through Dysmsapi's ``SendSms`` as the pre-approved
templates its ``[sms_aliyun.templates]`` name; the signature (SignName) is its ``[sms] signature``
without the brackets. The tenant's texts stay the source of truth: at startup each text's
placeholders must be exactly its template's parameters. See docs/operations.md."""

from __future__ import annotations

import msgspec

from core import hookimpl

from plugins.sms_aliyun.channel import AliyunSms, AliyunSmsRules
from plugins.sms_aliyun.jobs import JOBS

__all__ = ["AliyunSms", "AliyunSmsRules", "notify_channels", "register_jobs", "tenant_rules_sections"]


@hookimpl
def tenant_rules_sections() -> dict[str, type[msgspec.Struct]]:
    return {"sms_aliyun": AliyunSmsRules}


@hookimpl
def notify_channels():
    return [AliyunSms()]


@hookimpl
def register_jobs():
    return list(JOBS)
