"""Sign-in protection shared by every place that checks a secret a user typed (tenant sign-in
forms, the platform operator's, the password change form, plugins' forms such as the survey
company's status check): a per-address rate limit and a temporary lockout after repeated
failures of one identifier.

``scope`` keeps counters apart (a tenant slug, or ``"_platform"``); identifiers are hashed by
``core.limits.Counter`` before they reach the store.

Every attempt is counted *before* it is evaluated (an atomic increment that returns the new
count) and is evaluated only when that count is within the limit; a success clears the count, an
attempt that turns out not to count (a malformed identifier) gives its hit back. So however many
attempts arrive at once, at most ``lockout_failures`` are evaluated, and a correct password while
locked is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.accounts.passwords import verify_password_async
from core.i18n import Text
from core.web import Platform


class Refused(Exception):
    """Refused before evaluation (429): too fast from this address, or the identifier is locked."""

    def __init__(self, message: str, locked: bool = False) -> None:
        super().__init__(message)
        self.message, self.locked = message, locked


class WrongPassword(Exception):
    """A counted failure; ``left`` attempts remain (0: the identifier is now locked)."""

    def __init__(self, message: str, left: int) -> None:
        super().__init__(message)
        self.message, self.left = message, left


def attempts_left(message: str, left: int) -> Text:
    """A refused sign-in's message with the attempts that remain."""
    return Text("%(message)s，还可尝试 %(left)s 次", message=message, left=left)


def locked_message(p: Platform) -> str:
    failures = p.counters["signin_failures"]
    minutes = p.settings.lockout_seconds // 60
    return Text("连续 %(limit)s 次登录失败，账号已被临时锁定，请 %(minutes)s 分钟后再试", limit=failures.limit, minutes=minutes)


async def throttle(p: Platform, scope: str, client: str) -> None:
    """Count one attempt from ``client``; raises Refused when it is over the rate."""
    counter = p.counters["signin_client"]
    if not await counter.allow(scope, client):
        raise Refused(Text("尝试过于频繁，请 %(seconds)s 秒后再试", seconds=max(1, await counter.retry_after(scope, client))))


@dataclass
class Attempt:
    """One counted attempt of ``who``; settle it with exactly one of the three methods."""

    p: Platform
    scope: str
    who: str
    count: int

    @property
    def left(self) -> int:
        return max(0, self.p.counters["signin_failures"].limit - self.count)

    async def succeeded(self) -> None:
        if self.who:
            await self.p.counters["signin_failures"].reset(self.scope, self.who)

    async def failed(self) -> int:
        """The failure stays counted; returns the attempts left (0: now locked)."""
        return self.left if self.who else 1

    async def not_counted(self) -> None:
        if self.who:
            await self.p.counters["signin_failures"].release(self.scope, self.who)


async def begin(p: Platform, scope: str, who: str) -> Attempt:
    """Count an attempt of ``who`` before evaluating it; raises Refused when locked.

    An empty ``who`` (nothing typed) is not counted and never locked."""
    if not who:
        return Attempt(p, scope, who, 0)
    failures = p.counters["signin_failures"]
    count = await failures.hit(scope, who)
    if count > failures.limit:
        raise Refused(locked_message(p), locked=True)
    return Attempt(p, scope, who, count)


async def check_password(
    p: Platform, *, scope: str, who: str, client: str, password_hash: str | None, password: str,
    wrong: str = "账号或密码错误",
) -> None:
    """The one protected way to check a typed password: rate limit per address, lockout per
    identifier, Argon2 off the event loop. Returns when the password is right; raises Refused
    (too fast or locked; the password was not evaluated) or WrongPassword (message ends with the
    attempts left, or is the lockout message when this failure locked the identifier)."""
    await throttle(p, scope, client)
    attempt = await begin(p, scope, who)
    if await verify_password_async(password_hash, password):
        await attempt.succeeded()
        return
    left = await attempt.failed()
    if left == 0:
        raise WrongPassword(locked_message(p), 0)
    raise WrongPassword(attempts_left(wrong, left), left)
