"""Reading what the recording SMS channel 'sent' (the demo and tests have no real gateway)."""

from __future__ import annotations

import re

from core.notify.tables import Notification


async def last_sms_code(mobile: str) -> str:
    """The six-digit code in the newest SMS recorded for ``mobile``."""
    row = await (
        Notification.objects()  # a test helper: the recorded SMS of any tenant
        .where((Notification.recipient == mobile) & (Notification.channel == "sms"))
        .order_by(Notification.id, ascending=False)
        .first()
    )
    assert row is not None, "no SMS recorded"
    match = re.search(r"\d{6}", row.body)
    assert match is not None, f"no code in the SMS: {row.body!r}"
    return match.group(0)
