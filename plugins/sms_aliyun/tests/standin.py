"""A local stand-in for Alibaba Cloud's Dysmsapi (``SendSms``, ``QuerySendDetails``), served by
uvicorn on loopback for the tests. It answers as Alibaba documents (JSON, ``Code`` "OK" or an
error code with ``Message``) and checks each request's signature with its own implementation of
the documented algorithm, independent of the plugin's signer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
import urllib.parse
from dataclasses import dataclass, field

from litestar import Litestar, Request, post
from litestar.response import Response

from core.testing.loopback import serve_on_loopback

KEY_ID, SECRET = "LTAI-test-key-id", "stand-in-Secret-7f3a9c"


def expected_signature(form: dict[str, str], secret: str = SECRET) -> str:
    """Alibaba's RPC signature V2 as its docs state it, written apart from the plugin's."""
    def enc(s: str) -> str:
        return urllib.parse.quote(s, safe="-_.~")

    pairs = sorted((k, v) for k, v in form.items() if k != "Signature")
    canonical = "&".join(enc(k) + "=" + enc(v) for k, v in pairs)
    to_sign = "POST&" + enc("/") + "&" + enc(canonical)
    return base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


@dataclass
class FakeAliyun:
    requests: list[dict[str, str]] = field(default_factory=list)
    script: list[str] = field(default_factory=list)  # next SendSms answers: "throttle", "503", "ok"
    receipts: dict[str, dict] = field(default_factory=dict)  # BizId -> the detail to report
    nonces: set[str] = field(default_factory=set)
    sent: itertools.count = field(default_factory=lambda: itertools.count(1))
    url: str = ""

    def sends(self) -> list[dict[str, str]]:
        return [r for r in self.requests if r.get("Action") == "SendSms"]

    def answer(self, form: dict[str, str]) -> tuple[int, dict]:
        self.requests.append(form)
        if form.get("AccessKeyId") != KEY_ID:
            return 404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."}
        if form.get("Signature") != expected_signature(form):
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched."}
        if form.get("SignatureNonce") in self.nonces:
            return 400, {"Code": "SignatureNonceUsed", "Message": "Specified signature nonce was used already."}
        self.nonces.add(form.get("SignatureNonce", ""))
        time.strptime(form["Timestamp"], "%Y-%m-%dT%H:%M:%SZ")
        if form.get("Action") == "SendSms":
            return self.send(form)
        if form.get("Action") == "QuerySendDetails":
            details = [d for biz, d in self.receipts.items() if biz == form.get("BizId")]
            return 200, {"Code": "OK", "Message": "OK", "RequestId": "r", "TotalCount": len(details),
                         "SmsSendDetailDTOs": {"SmsSendDetailDTO": details}}
        return 404, {"Code": "InvalidAction.NotFound", "Message": "Specified api is not found."}

    def send(self, form: dict[str, str]) -> tuple[int, dict]:
        step = self.script.pop(0) if self.script else "ok"
        if step == "throttle":
            return 200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1", "RequestId": "r"}
        if step == "503":
            return 503, {"Code": "ServiceUnavailable", "Message": "The request has failed due to a temporary failure."}
        if form.get("TemplateCode") == "SMS_000000":
            return 200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "模板不合法(不存在或被拉黑)", "RequestId": "r"}
        params = json.loads(form["TemplateParam"])
        if not all(isinstance(v, str) and v for v in params.values()):
            return 200, {"Code": "isv.TEMPLATE_PARAMS_ILLEGAL", "Message": "模板变量里包含非法关键字", "RequestId": "r"}
        return 200, {"Code": "OK", "Message": "OK", "BizId": f"90061{next(self.sent):06d}^0", "RequestId": "r"}


def serve(fake: FakeAliyun):
    """Start the stand-in on a free loopback port; returns the uvicorn server (``should_exit``)."""
    @post("/", status_code=200)
    async def rpc(request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items()}
        status, body = fake.answer(form)
        return Response(body, status_code=status, media_type="application/json")

    server, fake.url = serve_on_loopback(Litestar([rpc]))
    return server
