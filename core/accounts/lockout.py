"""Sign-in protection shared by every sign-in form (tenant pages and the platform operator's):
a per-address rate limit and a temporary lockout after repeated failures of one identifier.

``scope`` keeps counters apart (a tenant slug, or ``"_platform"``); identifiers are hashed by
``core.limits.Counter`` before they reach the store.
"""

from __future__ import annotations

from core.web import Platform


async def throttled(p: Platform, scope: str, client: str) -> str | None:
    """Count one attempt from ``client``; the Chinese message when it is over the rate."""
    counter = p.counters["signin_client"]
    if await counter.exceeded(scope, client):
        return f"尝试过于频繁，请 {await counter.retry_after(scope, client)} 秒后再试"
    await counter.hit(scope, client)
    return None


def locked_message(p: Platform) -> str:
    failures = p.counters["signin_failures"]
    minutes = p.settings.lockout_seconds // 60
    return f"连续 {failures.limit} 次登录失败，账号已被临时锁定，请 {minutes} 分钟后再试"


async def is_locked(p: Platform, scope: str, who: str) -> bool:
    return bool(who) and await p.counters["signin_failures"].exceeded(scope, who)


async def failed(p: Platform, scope: str, who: str) -> int:
    """Count a failure of ``who``; returns the attempts left (0: now locked)."""
    failures = p.counters["signin_failures"]
    return max(0, failures.limit - await failures.hit(scope, who))


async def succeeded(p: Platform, scope: str, who: str) -> None:
    await p.counters["signin_failures"].reset(scope, who)
