"""Helpers of the survey learner tests: read the SMS code the demo channel recorded, register."""

from __future__ import annotations

from core.testing.sms import last_sms_code as last_code


async def register(client, mobile: str, name: str = "测试学员", password: str = "Learner-2026"):
    await client.get("/t/survey/register")
    r = await client.hx_post("/t/survey/register/code", {"mobile": mobile})
    assert "验证码已发送" in r.text, r.text
    code = await last_code(mobile)
    return await client.post("/t/survey/register", {
        "mobile": mobile, "code": code, "real_name": name, "password": password, "again": password,
    })
