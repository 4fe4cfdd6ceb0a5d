"""The plugin's jobs: the core's send and receipt jobs for the tenants whose ``[sms] provider``
is ``"aliyun"`` (receipts through ``QuerySendDetails``)."""

from __future__ import annotations

from plugins.sms_aliyun.channel import AliyunSms

JOBS = AliyunSms().jobs(send_label="阿里云短信发送", receipts_label="阿里云短信回执")
