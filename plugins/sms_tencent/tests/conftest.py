"""The Tencent plugin's fixtures: the loopback stand-in and a tenant configured for it."""

from __future__ import annotations

import pytest

from core.testing.sms import start_sms_minute, use_sms_provider
from plugins.sms_tencent import TencentSmsRules
from plugins.sms_tencent.tests.standin import APP_ID, SECRET_ID, SECRET_KEY, FakeTencent, serve

RULES = f"""
[sms]
signature = "【建工培训】"
provider = "tencent"

[sms_tencent]
sdk_app_id = "{APP_ID}"
backoff_seconds = 0.01
per_minute = 2
give_up_minutes = 30

[sms_tencent.templates.sms_code]
code = "1888001"
params = ["code", "minutes"]

[sms_tencent.templates.hours_cleared]
code = "1888002"
params = ["year", "name", "position"]

[sms_tencent.templates.hours_approved]
code = "1000000"
params = []
"""


@pytest.fixture(scope="module")
def standin():
    fake = FakeTencent()
    server = serve(fake)
    yield fake
    server.should_exit = True


@pytest.fixture
def tencent(standin, platform, monkeypatch, tmp_path):
    """The construction tenant configured for Tencent Cloud, the stand-in emptied."""
    standin.requests.clear()
    standin.script.clear()
    standin.statuses.clear()
    return use_sms_provider(platform, monkeypatch, tmp_path, RULES, {"sms_tencent": TencentSmsRules}, {
        "XUESHI_SMS_TENCENT_SECRET_ID": SECRET_ID, "XUESHI_SMS_TENCENT_SECRET_KEY": SECRET_KEY,
        "XUESHI_SMS_TENCENT_ENDPOINT": standin.url})


@pytest.fixture(autouse=True)
async def fresh_minute(platform):
    await start_sms_minute(platform.tenants.get("construction"))
