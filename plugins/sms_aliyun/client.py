"""Alibaba Cloud SMS (Dysmsapi, API version 2017-05-25) over its documented RPC HTTP API, with
httpx: ``SendSms`` and ``QuerySendDetails``. The AccessKey comes from the environment only
(``XUESHI_SMS_ALIYUN_ACCESS_KEY_ID`` / ``XUESHI_SMS_ALIYUN_ACCESS_KEY_SECRET``, or a file named
by ``XUESHI_SMS_ALIYUN_ACCESS_KEY_SECRET_FILE``; the core's ``ProviderKey``); the secret is
used to sign and is never part of a message, an exception or a log line."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid

import httpx

from core import ProviderKey, SmsError

from plugins.sms_aliyun.signer import signature

ENDPOINT = "https://dysmsapi.aliyuncs.com/"
API_VERSION = "2017-05-25"
# Codes the provider documents as "try later": flow control and its own busy/internal errors.
TRANSIENT_CODES = frozenset({"Throttling", "Throttling.User", "Throttling.Api", "isv.BUSINESS_LIMIT_CONTROL",
                             "ServiceUnavailable", "InternalError", "isp.SYSTEM_ERROR"})


class AliyunClient:
    def __init__(self, credentials: ProviderKey, endpoint: str | None = None, region: str = "cn-hangzhou",
                 timeout: float = 10.0) -> None:
        self.credentials, self.region, self.timeout = credentials, region, timeout
        self.endpoint = endpoint or os.environ.get("XUESHI_SMS_ALIYUN_ENDPOINT", ENDPOINT)

    def signed(self, action: str, params: dict[str, str]) -> dict[str, str]:
        query = {
            "AccessKeyId": self.credentials.key_id, "Action": action, "Format": "JSON",
            "RegionId": self.region, "SignatureMethod": "HMAC-SHA1", "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0", "Timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION, **params,
        }
        return {**query, "Signature": signature("POST", query, self.credentials.secret)}

    async def call(self, action: str, params: dict[str, str]) -> dict:
        """One API call; ``SmsError`` (transient for throttling codes, HTTP 5xx, a network error)
        when it fails. The core's ``with_retries`` tries a send again."""
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                response = await http.post(self.endpoint, data=self.signed(action, params))
        except httpx.HTTPError as exc:
            raise SmsError("NetworkError", type(exc).__name__, transient=True) from None
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        code = str(answer.get("Code", f"HTTP{response.status_code}"))
        if response.status_code >= 500 or code in TRANSIENT_CODES:
            raise SmsError(code, str(answer.get("Message", "")), transient=True)
        if code != "OK":
            raise SmsError(code, str(answer.get("Message", "")), transient=False)
        return answer

    async def send_sms(self, phone: str, sign_name: str, template_code: str, params: dict[str, str],
                       out_id: str = "") -> str:
        """``SendSms``; returns the provider's BizId (the receipt's key)."""
        answer = await self.call("SendSms", {
            "PhoneNumbers": phone, "SignName": sign_name, "TemplateCode": template_code,
            "TemplateParam": json.dumps(params, ensure_ascii=False, separators=(",", ":")), "OutId": out_id,
        })
        return str(answer.get("BizId", ""))

    async def send_details(self, phone: str, biz_id: str, send_date: dt.date) -> list[dict]:
        """``QuerySendDetails``: the receipts of one sent message (``SendStatus`` 1 waiting,
        2 failed with ``ErrCode``, 3 delivered)."""
        answer = await self.call("QuerySendDetails", {
            "PhoneNumber": phone, "BizId": biz_id, "SendDate": send_date.strftime("%Y%m%d"),
            "PageSize": "10", "CurrentPage": "1",
        })
        return list((answer.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or [])
