"""The ``sms:aliyun`` channel and the tenant's ``[sms_aliyun]`` rules section: Alibaba's
request shapes on top of the core's provider-neutral ``SmsGateway`` (queue, rate, retries,
receipts, startup check)."""

from __future__ import annotations

import json

from core import PROVIDER_ZONE, GatewayRules, Receipt, SmsError, SmsGateway, Tenant, TemplateRef, provider_time, sign_name

from plugins.sms_aliyun.client import AliyunClient

SEND_STATUS_FAILED, SEND_STATUS_DELIVERED = 2, 3  # QuerySendDetails' SendStatus (1 = waiting)


class AliyunSmsRules(GatewayRules, forbid_unknown_fields=True, kw_only=True):
    """``[sms_aliyun]``: the region, and per message kind (a key of the tenant's texts) the
    template that carries it (``[sms_aliyun.templates.hours_approved] code = "SMS_…"``); the
    queue and retry fields are the core's ``GatewayRules``."""

    region: str = "cn-hangzhou"


class AliyunSms(SmsGateway):
    provider = "aliyun"
    section = "sms_aliyun"

    key_env = ("XUESHI_SMS_ALIYUN_ACCESS_KEY_ID", "XUESHI_SMS_ALIYUN_ACCESS_KEY_SECRET")

    def client(self, tenant: Tenant) -> AliyunClient:
        return AliyunClient(self.key(), region=self.rules(tenant).region)

    async def submit(self, tenant: Tenant, mobile: str, ref: TemplateRef, params: dict[str, str], out_id: str) -> str:
        return await self.client(tenant).send_sms(mobile, sign_name(tenant), ref.code, params, out_id=out_id)

    async def fetch_receipts(self, tenant, rows) -> list[Receipt]:
        """``QuerySendDetails`` for each row (Alibaba answers per message); a refusal after the
        first row ends the pass with what was read."""
        client, found = self.client(tenant), []
        for row in rows:
            try:
                details = await client.send_details(row.recipient, row.provider_ref,
                                                    row.sent_at.astimezone(PROVIDER_ZONE).date())
            except SmsError:
                if not found:
                    raise
                break
            for detail in details:
                status = int(detail.get("SendStatus", 1))
                if status in (SEND_STATUS_DELIVERED, SEND_STATUS_FAILED):
                    found.append(Receipt(row.provider_ref, status == SEND_STATUS_DELIVERED,
                                         provider_time(detail.get("ReceiveDate")), str(detail.get("ErrCode", ""))))
                    break
        return found

    def read_callback(self, body: bytes) -> list[Receipt]:
        """Alibaba's HTTP batch push of ``SmsReport``: a JSON array of ``phone_number``,
        ``success``, ``err_code``, ``report_time``, ``biz_id``…"""
        items = json.loads(body)
        if not isinstance(items, list):
            raise ValueError("SmsReport is a JSON array")
        return [Receipt(str(i["biz_id"]), i.get("success") is True, provider_time(i.get("report_time")),
                        str(i.get("err_code", "")), str(i.get("phone_number", ""))) for i in items]

    def callback_answer(self) -> dict:
        return {"code": 0, "msg": "接收成功"}
