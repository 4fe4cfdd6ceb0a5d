"""Reading what the recording SMS channel 'sent' (the demo and tests have no real gateway).

The stored outbox masks codes, so the clear text comes from the recording channel's in-memory
log (``core.notify.services.RECORDED``), which only the tests read.
"""

from __future__ import annotations

import datetime as dt
import re

from core.db.scoped import scoped
from core.notify.services import RECORDED
from core.notify.tables import Notification
from core.tenancy import read_rules


async def last_sms_code(mobile: str) -> str:
    """The six-digit code in the newest SMS delivered to ``mobile`` by the recording channel."""
    body = next((text for recipient, text in reversed(RECORDED) if recipient == mobile), None)
    assert body is not None, "no SMS recorded"
    match = re.search(r"\d{6}", body)
    assert match is not None, f"no code in the SMS: {body!r}"
    return match.group(0)


def use_sms_provider(platform, monkeypatch, tmp_path, rules_text: str, sections: dict[str, type],
                     env: dict[str, str], slug: str = "construction"):
    """The tenant ``slug`` configured for an SMS provider plugin by a rules.toml read as at
    startup (``rules_text``: its ``[sms]`` and the plugin's sections), with the plugin's
    environment (key, stand-in endpoint); all undone after the test."""
    path = tmp_path / "rules.toml"
    path.write_text(rules_text, encoding="utf-8")
    rules, read = read_rules(path, sections)
    tenant = platform.tenants.get(slug)
    monkeypatch.setattr(tenant.rules, "sms", rules.sms)
    for name in sections:
        monkeypatch.setitem(tenant.sections, name, read[name])
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return tenant


async def start_sms_minute(tenant) -> None:
    """No text of the tenant queued or awaiting a receipt, none sent in the last minute (the
    send rate), so a provider test starts from a known state."""
    texts = scoped(Notification, tenant)
    await texts.update({Notification.status: "failed"}).where(Notification.status.is_in(["queued", "sent"]))
    await texts.update({Notification.sent_at: Notification.sent_at - dt.timedelta(hours=1)}).where(
        Notification.sent_at.is_not_null())
