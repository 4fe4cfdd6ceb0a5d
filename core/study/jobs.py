"""The study buffer's job: write the Redis stream of beats to the database (core.study.buffer)."""

from __future__ import annotations

from typing import Any

from core.jobs.specs import platform_of


async def flush_study_beats(ctx: dict[str, Any]) -> dict[str, int]:
    """Cron job (every minute, and once when an in-process runner starts): flush what the beats'
    own flushes left (the last beats before a quiet spell, or of a process that was killed)."""
    from core.study import buffer

    buf = buffer.of(platform_of(ctx))
    return {"flushed": await buf.flush() if buf is not None else 0}
