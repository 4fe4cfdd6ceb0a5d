"""The Tencent plugin's fixtures: the loopback stand-in and a tenant configured for it."""

from __future__ import annotations

import datetime as dt

import pytest

from core.notify.tables import Notification
from core.tenancy import read_rules
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
    """The construction tenant configured for Tencent Cloud by a rules.toml read as at startup."""
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    rules, sections = read_rules(path, {"sms_tencent": TencentSmsRules})
    tenant = platform.tenants.get("construction")
    monkeypatch.setattr(tenant.rules, "sms", rules.sms)
    monkeypatch.setitem(tenant.sections, "sms_tencent", sections["sms_tencent"])
    monkeypatch.setenv("XUESHI_SMS_TENCENT_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("XUESHI_SMS_TENCENT_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("XUESHI_SMS_TENCENT_ENDPOINT", standin.url)
    standin.requests.clear()
    standin.script.clear()
    standin.statuses.clear()
    return tenant


@pytest.fixture(autouse=True)
async def fresh_minute(platform):
    """Each test starts with no text queued and none sent in the last minute (the send rate)."""
    ours = Notification.tenant == platform.tenants.get("construction").id
    await Notification.update({Notification.status: "failed"}).where(
        ours & Notification.status.is_in(["queued", "sent"]))
    await Notification.update({Notification.sent_at: Notification.sent_at - dt.timedelta(hours=1)}).where(
        ours & Notification.sent_at.is_not_null())
