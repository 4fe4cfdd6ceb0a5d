"""A local stand-in for Tencent Cloud SMS API 3.0 (``SendSms``, ``PullSmsSendStatus``, version
2021-01-11), served by uvicorn on loopback for the tests. It answers as Tencent documents
(``{"Response": {...}}``, an ``Error`` with ``Code``/``Message`` on refusal, a ``SendStatusSet``
per number) and checks each request's TC3-HMAC-SHA256 signature with its own implementation
of the documented algorithm, independent of the plugin's signer."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field

from litestar import Litestar, Request, post
from litestar.response import Response

from core.testing.loopback import serve_on_loopback

SECRET_ID, SECRET_KEY = "AKID-stand-in-0001", "stand-in-SecretKey-5d1e9b"
APP_ID = "1400787878"


def expected_authorization(headers: dict[str, str], body: bytes, secret_id: str = SECRET_ID,
                           secret_key: str = SECRET_KEY) -> str:
    """TC3-HMAC-SHA256 as Tencent's docs state it, written apart from the plugin's signer."""
    stamp = int(headers["x-tc-timestamp"])
    day = time.strftime("%Y-%m-%d", time.gmtime(stamp))
    canonical = "\n".join(["POST", "/", "", f"content-type:{headers['content-type']}", f"host:{headers['host']}",
                           "", "content-type;host", hashlib.sha256(body).hexdigest()])
    scope = f"{day}/sms/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(stamp), scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("TC3" + secret_key).encode()
    for part in (day, "sms", "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={sig}"


def _error(code: str, message: str) -> dict:
    return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "stand-in"}}


@dataclass
class FakeTencent:
    requests: list[tuple[dict[str, str], dict]] = field(default_factory=list)  # (headers, body)
    script: list[str] = field(default_factory=list)  # next SendSms answers: "throttle", "30s", "503", "ok"
    statuses: list[dict] = field(default_factory=list)  # receipts waiting to be pulled (each once)
    serial: itertools.count = field(default_factory=lambda: itertools.count(1))
    url: str = ""

    def sends(self) -> list[tuple[dict[str, str], dict]]:
        return [(h, b) for h, b in self.requests if h.get("x-tc-action") == "SendSms"]

    def answer(self, headers: dict[str, str], raw: bytes) -> tuple[int, dict]:
        body = json.loads(raw)
        self.requests.append((headers, body))
        if not headers.get("authorization", "").startswith(f"TC3-HMAC-SHA256 Credential={SECRET_ID}/"):
            return 200, _error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
        if headers["authorization"] != expected_authorization(headers, raw):
            return 200, _error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        if abs(time.time() - int(headers["x-tc-timestamp"])) > 300:
            return 200, _error("AuthFailure.SignatureExpire", "Signature expired.")
        if headers.get("x-tc-version") != "2021-01-11":
            return 200, _error("InvalidParameter", "version")
        if body.get("SmsSdkAppId") != APP_ID:
            return 200, _error("FailedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId verify failed.")
        action = headers.get("x-tc-action")
        if action == "SendSms":
            return self.send(body)
        if action == "PullSmsSendStatus":
            pulled, self.statuses[:] = self.statuses[:body["Limit"]], self.statuses[body["Limit"]:]
            return 200, {"Response": {"PullSmsSendStatusSet": pulled, "RequestId": "stand-in"}}
        return 200, _error("InvalidAction", "The action does not exist.")

    def send(self, body: dict) -> tuple[int, dict]:
        step = self.script.pop(0) if self.script else "ok"
        if step == "throttle":
            return 200, _error("RequestLimitExceeded", "The number of requests exceeds the frequency limit.")
        if step == "503":
            return 503, {}
        if body["TemplateId"] == "1000000":
            return 200, _error("FailedOperation.TemplateIncorrectOrUnapproved", "template is not approved or not exist")
        if not all(isinstance(p, str) and p for p in body["TemplateParamSet"]):
            return 200, _error("InvalidParameterValue.TemplateParameterFormatError", "template parameter format error")
        statuses = []
        for number in body["PhoneNumberSet"]:
            if step == "30s":
                code, message = "LimitExceeded.PhoneNumberThirtySecondLimit", "the number exceeded the 30 s limit"
            elif number.startswith("+86") and len(number) == 14 and number[3:].isdigit():
                code, message = "Ok", "send success"
            else:
                code, message = "InvalidParameterValue.IncorrectPhoneNumber", "incorrect phone number"
            statuses.append({"SerialNo": f"2645:{next(self.serial):020d}" if code == "Ok" else "",
                             "PhoneNumber": number, "Fee": 1 if code == "Ok" else 0,
                             "SessionContext": body.get("SessionContext", ""), "Code": code, "Message": message,
                             "IsoCode": "CN"})
        return 200, {"Response": {"SendStatusSet": statuses, "RequestId": "stand-in"}}


def serve(fake: FakeTencent):
    """Start the stand-in on a free loopback port; returns the uvicorn server (``should_exit``)."""
    @post("/", status_code=200)
    async def api(request: Request) -> Response:
        status, body = fake.answer({k.lower(): v for k, v in request.headers.items()}, await request.body())
        return Response(body, status_code=status, media_type="application/json")

    server, fake.url = serve_on_loopback(Litestar([api]))
    return server
