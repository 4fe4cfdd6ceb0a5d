"""Tencent Cloud SMS (腾讯云短信) as a tenant's SMS provider: a tenant whose rules say
``[sms] provider = "tencent"`` sends its texts through API 3.0's ``SendSms`` (version
2021-01-11) as the approved templates its ``[sms_tencent.templates]`` name, from its
``[sms_tencent] sdk_app_id``; the SignName is its ``[sms] signature`` without the brackets.
Receipts are pulled (``PullSmsSendStatus``) and may also be pushed to the core's receipt route.
The tenant's texts stay the source of truth: at startup each text's placeholders must be exactly
its template's parameters. See docs/operations.md."""

from __future__ import annotations

import msgspec

from core import hookimpl

from plugins.sms_tencent.channel import TencentSms, TencentSmsRules

__all__ = ["JOBS", "TencentSms", "TencentSmsRules", "notify_channels", "register_jobs", "tenant_rules_sections"]

JOBS = TencentSms().jobs(send_label="腾讯云短信发送", receipts_label="腾讯云短信回执")


@hookimpl
def tenant_rules_sections() -> dict[str, type[msgspec.Struct]]:
    return {"sms_tencent": TencentSmsRules}


@hookimpl
def notify_channels():
    return [TencentSms()]


@hookimpl
def register_jobs():
    return list(JOBS)
