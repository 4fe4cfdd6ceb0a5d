"""Tencent Cloud SMS (API 3.0, version 2021-01-11) over its documented HTTP API, with httpx:
``SendSms`` and ``PullSmsSendStatus``, signed TC3-HMAC-SHA256. The SecretId/SecretKey come from
the environment (``XUESHI_SMS_TENCENT_SECRET_ID`` and ``XUESHI_SMS_TENCENT_SECRET_KEY``, or
``XUESHI_SMS_TENCENT_SECRET_KEY_FILE`` naming a file that holds the key: the core's
``ProviderKey``); the key signs and is
never part of a message, an exception or a log line."""

from __future__ import annotations

import json
import os
import time
from urllib.parse import urlsplit

import httpx

from core import ProviderKey, SmsError

from plugins.sms_tencent.signer import authorization

ENDPOINT = "https://sms.tencentcloudapi.com/"
SERVICE, API_VERSION = "sms", "2021-01-11"
CONTENT_TYPE = "application/json; charset=utf-8"
# Codes Tencent documents as "try later": its API rate limit, its internal errors, and the
# per-number frequency limits of 30 seconds and one hour (the daily ones are not worth a retry).
TRANSIENT_PREFIXES = ("RequestLimitExceeded", "InternalError", "LimitExceeded.PhoneNumberThirtySecondLimit",
                      "LimitExceeded.PhoneNumberOneHourLimit")


def transient(code: str) -> bool:
    return code.startswith(TRANSIENT_PREFIXES)


class TencentClient:
    def __init__(self, credentials: ProviderKey, region: str = "ap-guangzhou", endpoint: str | None = None,
                 timeout: float = 10.0) -> None:
        self.credentials, self.region, self.timeout = credentials, region, timeout
        self.endpoint = endpoint or os.environ.get("XUESHI_SMS_TENCENT_ENDPOINT", ENDPOINT)

    def headers(self, action: str, payload: bytes, timestamp: int) -> dict[str, str]:
        host = urlsplit(self.endpoint).netloc
        return {
            "Authorization": authorization(self.credentials.key_id, self.credentials.secret, SERVICE, host,
                                           CONTENT_TYPE, payload, timestamp),
            "Content-Type": CONTENT_TYPE, "Host": host, "X-TC-Action": action, "X-TC-Version": API_VERSION,
            "X-TC-Timestamp": str(timestamp), "X-TC-Region": self.region,
        }

    async def call(self, action: str, params: dict) -> dict:
        """One API call; its ``Response`` object. ``SmsError`` (transient for the codes above,
        HTTP 5xx, a network error) when it fails; the core's ``with_retries`` tries a send again."""
        payload = json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                response = await http.post(self.endpoint, content=payload,
                                           headers=self.headers(action, payload, int(time.time())))
        except httpx.HTTPError as exc:
            raise SmsError("NetworkError", type(exc).__name__, transient=True) from None
        try:
            answer = response.json().get("Response") or {}
        except (ValueError, AttributeError):
            answer = {}
        error = answer.get("Error") if isinstance(answer, dict) else None
        if response.status_code >= 500 or not isinstance(answer, dict):
            raise SmsError(f"HTTP{response.status_code}", "", transient=True)
        if error:
            code = str(error.get("Code", ""))
            raise SmsError(code, str(error.get("Message", "")), transient=transient(code))
        return answer

    async def send_sms(self, sdk_app_id: str, phone: str, sign_name: str, template_id: str, params: list[str],
                       context: str = "") -> str:
        """``SendSms`` to one number; returns its ``SerialNo`` (the receipts' key). A number the
        provider refused (its ``SendStatus`` code is not ``Ok``) raises that code."""
        answer = await self.call("SendSms", {
            "PhoneNumberSet": [phone], "SmsSdkAppId": sdk_app_id, "SignName": sign_name,
            "TemplateId": template_id, "TemplateParamSet": params, "SessionContext": context,
        })
        status = (answer.get("SendStatusSet") or [{}])[0]
        code = str(status.get("Code", ""))
        if code != "Ok":
            raise SmsError(code or "NoSendStatus", str(status.get("Message", "")), transient=transient(code))
        return str(status.get("SerialNo", ""))

    async def pull_status(self, sdk_app_id: str, limit: int = 100) -> list[dict]:
        """``PullSmsSendStatus``: the receipts not yet pulled for the application (each is
        handed out once): ``SerialNo``, ``PhoneNumber``, ``ReportStatus`` SUCCESS/FAIL,
        ``Description``, ``UserReceiveTime``."""
        answer = await self.call("PullSmsSendStatus", {"Limit": limit, "SmsSdkAppId": sdk_app_id})
        return list(answer.get("PullSmsSendStatusSet") or [])
