"""The ``sms:tencent`` channel and the tenant's ``[sms_tencent]`` rules section: Tencent's
request shapes on top of the core's provider-neutral ``SmsGateway`` (queue, rate, retries,
receipts, startup check)."""

from __future__ import annotations

import json

from core import GatewayRules, Receipt, SmsGateway, Tenant, TemplateRef, provider_time, sign_name

from plugins.sms_tencent.client import TencentClient

MAINLAND = "+86"


class TencentSmsRules(GatewayRules, forbid_unknown_fields=True, kw_only=True):
    """``[sms_tencent]``: the tenant's SMS application (``SmsSdkAppId``), the API region, and per
    message kind (a key of the tenant's texts) the template (``code`` = its TemplateId) with its
    parameter names in the template's order ({1}, {2}, …); the queue and retry fields are the
    core's ``GatewayRules``."""

    sdk_app_id: str = ""
    region: str = "ap-guangzhou"


def e164(mobile: str) -> str:
    """Tencent's number format: ``+86`` and the 11-digit mainland mobile."""
    return mobile if mobile.startswith("+") else f"{MAINLAND}{mobile}"


def local(number: str) -> str:
    return number.removeprefix(MAINLAND)


class TencentSms(SmsGateway):
    provider = "tencent"
    section = "sms_tencent"

    key_env = ("XUESHI_SMS_TENCENT_SECRET_ID", "XUESHI_SMS_TENCENT_SECRET_KEY")

    def client(self, tenant: Tenant) -> TencentClient:
        return TencentClient(self.key(), region=self.rules(tenant).region)

    def tenant_problems(self, tenant: Tenant) -> list[str]:
        rules: TencentSmsRules = self.rules(tenant)
        return [] if rules.sdk_app_id.isdigit() else ["[sms_tencent] sdk_app_id: the SmsSdkAppId (digits) is missing"]

    async def submit(self, tenant: Tenant, mobile: str, ref: TemplateRef, params: dict[str, str], out_id: str) -> str:
        return await self.client(tenant).send_sms(self.rules(tenant).sdk_app_id, e164(mobile), sign_name(tenant),
                                                  ref.code, [params[p] for p in ref.params], context=out_id)

    async def fetch_receipts(self, tenant, rows) -> list[Receipt]:
        """``PullSmsSendStatus`` for the tenant's application: Tencent hands out each receipt
        once, for any of the application's texts, so the rows only say there is something to ask."""
        statuses = await self.client(tenant).pull_status(self.rules(tenant).sdk_app_id)
        return [Receipt(str(s.get("SerialNo", "")), s.get("ReportStatus") == "SUCCESS",
                        provider_time(s.get("UserReceiveTime")), str(s.get("Description", "")),
                        local(str(s.get("PhoneNumber", "")))) for s in statuses]

    def read_callback(self, body: bytes) -> list[Receipt]:
        """Tencent's 短信下发状态通知: a JSON array of ``sid``, ``mobile``, ``nationcode``,
        ``report_status`` SUCCESS/FAIL, ``errmsg``, ``description``, ``user_receive_time``."""
        items = json.loads(body)
        if not isinstance(items, list):
            raise ValueError("the status callback is a JSON array")
        return [Receipt(str(i["sid"]), i.get("report_status") == "SUCCESS", provider_time(i.get("user_receive_time")),
                        f"{i.get('errmsg', '')} {i.get('description', '')}".strip(), str(i.get("mobile", "")))
                for i in items]

    def callback_answer(self) -> dict:
        return {"result": 0, "errmsg": "OK"}
