"""Reading what the recording SMS channel 'sent' (the demo and tests have no real gateway).

The stored outbox masks codes, so the clear text comes from the recording channel's in-memory
log (``core.notify.services.RECORDED``), which only the tests read.
"""

from __future__ import annotations

import re

from core.notify.services import RECORDED


async def last_sms_code(mobile: str) -> str:
    """The six-digit code in the newest SMS delivered to ``mobile`` by the recording channel."""
    body = next((text for recipient, text in reversed(RECORDED) if recipient == mobile), None)
    assert body is not None, "no SMS recorded"
    match = re.search(r"\d{6}", body)
    assert match is not None, f"no code in the SMS: {body!r}"
    return match.group(0)
