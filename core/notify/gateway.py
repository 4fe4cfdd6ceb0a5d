"""What every SMS provider plugin shares: its rules section's common fields, the channel that
sends a tenant's text as the provider's pre-approved template (now, or queued for the send job),
retries with backoff while the provider is busy, the per-tenant send rate, the states of a text
(queued, sending, sent, delivered, failed with the provider's reason) and the receipts that
move a sent text to delivered or failed.

A provider plugin subclasses ``SmsGateway`` and writes only what is its provider's: how one
request is signed and shaped (``submit``, ``fetch_receipts``, ``read_callback``) and which of its
error codes mean "try later" (``SmsError.transient``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from core.db.scoped import scoped
from core.identity import mask_mobile
from core.jobs.specs import JobSpec, platform_of, tenants_of
from core.notify.services import Secret, placeholders, templates_for
from core.notify.tables import Notification
from core.tenancy import Tenant

INTERRUPTED = "Interrupted: the send stopped before the provider answered; it may have been delivered"
PROVIDER_ZONE = ZoneInfo("Asia/Shanghai")  # the providers' dates and times are Beijing time
RECEIPT_DAYS = 3  # a sent text without a receipt after this long is no longer asked about
SEND_LOCK_SECONDS = 300  # a run of the send job holds its tenant's lock at most this long (its timeout)


class SmsError(Exception):
    """The provider refused the message: ``code`` and ``reason`` as it answered; ``transient``
    when its documentation says the same request may succeed later (throttling, busy)."""

    def __init__(self, code: str, reason: str, transient: bool) -> None:
        super().__init__(f"{code}: {reason}")
        self.code, self.reason, self.transient = code, reason, transient


class TemplateRef(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One message kind's approved template: the provider's id of it and its parameter names,
    in the order the provider fills them."""

    code: str
    params: list[str] = msgspec.field(default_factory=list)


class GatewayRules(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The fields every provider's rules section has; a plugin's section subclasses it."""

    templates: dict[str, TemplateRef] = msgspec.field(default_factory=dict)
    attempts: int = 3  # tries of one request while the provider throttles or fails (5xx)
    backoff_seconds: float = 0.5  # wait before the 2nd try, doubled before each later one
    per_minute: int = 60  # the tenant's send rate: queued texts sent per minute at most
    give_up_minutes: int = 60  # a text still unsent (provider busy) this long after queueing fails

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff_seconds < 0 or self.per_minute < 1 or self.give_up_minutes < 1:
            raise msgspec.ValidationError("attempts, per_minute and give_up_minutes must be 1 or more, "
                                          "backoff_seconds 0 or more")


@dataclass(frozen=True)
class ProviderKey:
    """A provider's key pair: the id that names it and the secret that signs. The secret comes
    from the environment, or from the file that ``<its variable>_FILE`` names (a mounted
    secret); it is never shown, even in a traceback's locals."""

    key_id: str
    secret: str

    def __repr__(self) -> str:
        return f"ProviderKey(key_id={self.key_id!r}, secret='***')"

    @classmethod
    def from_env(cls, id_var: str, secret_var: str) -> ProviderKey | None:
        key_id, secret = os.environ.get(id_var, ""), os.environ.get(secret_var, "")
        secret_file = os.environ.get(f"{secret_var}_FILE", "")
        if not secret and secret_file:
            try:
                secret = Path(secret_file).read_text(encoding="utf-8").strip()
            except OSError:
                secret = ""
        return cls(key_id, secret) if key_id and secret else None


@dataclass(frozen=True)
class Receipt:
    """A provider's word on one sent text: delivered or not, when, and why not."""

    provider_ref: str
    delivered: bool
    at: dt.datetime | None = None
    reason: str = ""
    mobile: str = ""  # the 11-digit mobile the receipt names ("" when it names none)


async def with_retries(call: Callable[[], Awaitable[Any]], attempts: int, backoff_seconds: float) -> Any:
    """``call()``, tried again with exponential backoff while it raises a transient ``SmsError``."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except SmsError as exc:
            if not exc.transient or attempt == attempts:
                raise
        await asyncio.sleep(backoff_seconds * 2 ** (attempt - 1))
    raise ValueError("attempts must be 1 or more")


def sign_name(tenant: Tenant) -> str:
    """The provider's SignName: the tenant's ``[sms] signature`` without its 【】 brackets."""
    return tenant.rules.sms.signature.strip().removeprefix("【").removesuffix("】")


def provider_time(text: str | None) -> dt.datetime | None:
    """A receipt's time as the Chinese providers write it: Beijing time, ``YYYY-MM-DD HH:MM:SS``."""
    try:
        return dt.datetime.strptime(text or "", "%Y-%m-%d %H:%M:%S").replace(tzinfo=PROVIDER_ZONE)
    except ValueError:
        return None


def values_in(text: str, body: str) -> dict[str, str] | None:
    """The placeholder values that make the tenant's ``text`` read as the stored ``body`` (its
    signature removed); None when the body is not that text."""
    parts, names, pos = [], [], 0
    for match in Template.pattern.finditer(text):
        name = match.group("named") or match.group("braced")
        if not name:
            continue
        parts.append(re.escape(text[pos:match.start()]))
        if name in names:
            parts.append(f"(?P={name})")
        else:
            parts.append(f"(?P<{name}>.*?)")
            names.append(name)
        pos = match.end()
    parts.append(re.escape(text[pos:]))
    found = re.fullmatch("".join(parts), body, re.DOTALL)
    return found.groupdict() if found else None


class SmsGateway:
    """A provider's channel ``sms:<provider>``. Subclasses set ``provider`` and ``section`` (the
    tenant rules section, a ``GatewayRules`` subclass) and implement the provider's calls."""

    provider = ""
    section = ""
    key_env = ("", "")  # the environment variables of the key's id and secret
    delivers = True

    @property
    def name(self) -> str:
        return f"sms:{self.provider}"

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"xueshi.sms.{self.provider}")

    def key(self) -> ProviderKey:
        key = ProviderKey.from_env(*self.key_env)
        if key is None:
            raise LookupError(self.credentials_problem())
        return key

    def credentials_problem(self) -> str | None:
        """Why the provider's key cannot be read, or None."""
        if ProviderKey.from_env(*self.key_env):
            return None
        return f"{self.key_env[0]} and {self.key_env[1]} (or {self.key_env[1]}_FILE) are not set"

    # -- the provider's part ------------------------------------------------------------------
    def tenant_problems(self, tenant: Tenant) -> list[str]:
        """What else in the tenant's rules the provider needs and lacks."""
        return []

    async def submit(self, tenant: Tenant, mobile: str, ref: TemplateRef, params: dict[str, str], out_id: str) -> str:
        """One send request; returns the provider's id of the message; raises ``SmsError``."""
        raise NotImplementedError

    async def fetch_receipts(self, tenant: Tenant, rows: list[Notification]) -> list[Receipt]:
        """The provider's receipts for (some of) these sent rows; raises ``SmsError``."""
        raise NotImplementedError

    def read_callback(self, body: bytes) -> list[Receipt]:
        """The receipts of one pushed callback body; ValueError when it is not one."""
        raise NotImplementedError

    def callback_answer(self) -> dict[str, Any]:
        """The answer the provider's callback documentation asks for."""
        return {}

    # -- shared -------------------------------------------------------------------------------
    def rules(self, tenant: Tenant) -> GatewayRules:
        return tenant.section(self.section)

    def template_of(self, tenant: Tenant, kind: str) -> TemplateRef:
        ref = self.rules(tenant).templates.get(kind)
        if ref is None:
            raise LookupError(f"no {self.provider} template for {kind!r} ([{self.section}.templates])")
        return ref

    def problems(self, tenant: Tenant, texts: dict[str, str]) -> list[str]:
        found = [p for p in [self.credentials_problem()] if p]
        if not sign_name(tenant):
            found.append(f"[sms] signature is empty: {self.provider} needs the registered SignName")
        found += self.tenant_problems(tenant)
        for kind, ref in sorted(self.rules(tenant).templates.items()):
            if kind not in texts:
                found.append(f"[{self.section}.templates.{kind}]: the tenant has no text {kind!r}")
                continue
            in_text, in_template = placeholders(texts[kind]), set(ref.params)
            if in_text != in_template:
                found.append(f"[{self.section}.templates.{kind}] ({ref.code}): the text's placeholders "
                             f"{sorted(in_text)} differ from the template's parameters {sorted(in_template)}")
        return found

    async def send_template(self, notification: Notification, tenant: Tenant, text: str, values: dict) -> str:
        """A text with a secret (a sign-in code) is sent now: it is needed at once and its clear
        value must not wait in a queue. Any other is queued for the send job, which reads its
        values back from the stored text and keeps the tenant's send rate."""
        ref = self.template_of(tenant, notification.template)
        if not any(isinstance(values.get(p), Secret) for p in ref.params):
            return "queued"
        await self.send_now(notification, tenant, {p: str(values[p]) for p in ref.params})
        return "sent"

    async def send_now(self, notification: Notification, tenant: Tenant, params: dict[str, str]) -> None:
        ref, rules = self.template_of(tenant, notification.template), self.rules(tenant)
        notification.provider_ref = await with_retries(
            lambda: self.submit(tenant, notification.recipient, ref, params, str(notification.id)),
            rules.attempts, rules.backoff_seconds)
        self.log.info("sms sent by %s (id=%s, template=%s, to=%s)", self.provider, notification.id, ref.code,
                      mask_mobile(notification.recipient))

    def jobs(self, send_label: str, receipts_label: str) -> list[JobSpec]:
        """The two cron jobs (every minute, per tenant whose ``[sms] provider`` is this one):
        sending the queued texts at the tenant's rate, and pulling the receipts."""
        async def send_job(ctx) -> dict[str, int]:
            platform, done = platform_of(ctx), {}
            for tenant in self.tenants(ctx):
                # One run at a time per tenant (every worker runs the cron): the rate is counted
                # and used under the lock, so overlapping runs never send more than it allows.
                async with platform.locks.hold(f"sms-send:{tenant.id}", timeout=SEND_LOCK_SECONDS):
                    done[tenant.slug] = await send_queued(self, tenant,
                                                          await templates_for(platform.hooks(tenant), tenant))
            return done

        async def receipts_job(ctx) -> dict[str, int]:
            return {tenant.slug: await pull_receipts(self, tenant) for tenant in self.tenants(ctx)}

        for job, what in ((send_job, "send_queued"), (receipts_job, "pull_receipts")):
            job.__name__ = job.__qualname__ = f"{self.provider}_{what}"  # the queue's name of the job
        return [JobSpec(send_job, timeout=300, retries=0, cron="* * * * *", label=send_label, record=False),
                JobSpec(receipts_job, timeout=300, retries=0, cron="* * * * *", label=receipts_label, record=False)]

    def tenants(self, ctx) -> list[Tenant]:
        return [t for t in tenants_of(ctx) if t.rules.sms.provider == self.provider]


async def send_queued(gateway: SmsGateway, tenant: Tenant, texts: dict[str, str],
                      now: dt.datetime | None = None) -> int:
    """Send the tenant's queued texts, oldest first, while fewer than ``per_minute`` went out
    in the minute before ``now``; returns how many were sent. A busy provider leaves the text
    queued for the next run (until ``give_up_minutes``); a refusal (a template or signature
    error…) fails it with the provider's code."""
    now = now or dt.datetime.now(dt.UTC)
    rules, sent = gateway.rules(tenant), 0
    sms = scoped(Notification, tenant)
    # A run that stopped mid-send (worker killed) leaves "sending": after give_up_minutes that
    # text is failed, not sent again, since the provider may have taken it.
    await sms.update({Notification.status: "failed", Notification.error: INTERRUPTED}).where(
        (Notification.channel == "sms") & (Notification.status == "sending")
        & (Notification.created_at < now - dt.timedelta(minutes=rules.give_up_minutes)))
    # The rate counts every text the provider took in the last minute, codes (sent at once) too.
    room = rules.per_minute - await sms.count(
        (Notification.channel == "sms") & (Notification.provider_ref != "")
        & (Notification.sent_at > now - dt.timedelta(minutes=1)) & (Notification.sent_at <= now))
    if room <= 0:
        return 0
    rows = await sms.objects(
        (Notification.channel == "sms") & (Notification.status == "queued")
    ).order_by(Notification.id).limit(room)
    for row in rows:
        # Claim the row, so an overlapping run never sends it twice.
        claimed = await sms.update({Notification.status: "sending"}).where(
            (Notification.id == row.id) & (Notification.status == "queued")).returning(Notification.id)
        if not claimed:
            continue
        row.status, row.error = "failed", ""
        try:
            params = values_in(texts.get(row.template, ""), row.body.removeprefix(tenant.rules.sms.signature))
            if params is None:
                raise LookupError(f"the stored text no longer reads as the tenant's text {row.template!r}")
            ref = gateway.template_of(tenant, row.template)
            await gateway.send_now(row, tenant, {p: params[p] for p in ref.params})
            row.status, row.sent_at, sent = "sent", now, sent + 1
        except SmsError as exc:
            if exc.transient and now - row.created_at < dt.timedelta(minutes=rules.give_up_minutes):
                row.status = "queued"
            row.error = str(exc)[:500]
        except LookupError as exc:
            row.error = f"{type(exc).__name__}: {exc}"[:500]
        await row.save([Notification.status, Notification.sent_at, Notification.error, Notification.provider_ref])
    return sent


async def pull_receipts(gateway: SmsGateway, tenant: Tenant, now: dt.datetime | None = None) -> int:
    """Ask the provider for the receipts of the tenant's texts sent in the last
    ``RECEIPT_DAYS`` and apply them; returns how many rows changed."""
    now = now or dt.datetime.now(dt.UTC)
    rows = await scoped(Notification, tenant).objects(
        (Notification.channel == "sms") & (Notification.status == "sent") & (Notification.provider_ref != "")
        & (Notification.sent_at >= now - dt.timedelta(days=RECEIPT_DAYS))
    ).order_by(Notification.id).limit(200)
    if not rows:
        return 0
    try:
        receipts = await gateway.fetch_receipts(tenant, rows)
    except SmsError as exc:
        gateway.log.warning("%s receipts of %s stopped: %s", gateway.provider, tenant.slug, exc.code)
        return 0
    return await apply_receipts(tenant, receipts, now)


async def apply_receipts(tenant: Tenant, receipts: list[Receipt], now: dt.datetime | None = None) -> int:
    """Mark the tenant's sent texts delivered, or failed with the provider's reason. A receipt
    changes only a row of this tenant still "sent" whose provider id (and mobile, when the
    receipt names one) it matches: an unknown id, another tenant's text, or a second receipt
    for a text already settled (a replay) changes nothing. Returns how many rows changed."""
    now, changed = now or dt.datetime.now(dt.UTC), 0
    sms = scoped(Notification, tenant)
    for receipt in receipts:
        if not receipt.provider_ref:
            continue
        where = ((Notification.channel == "sms") & (Notification.status == "sent")
                 & (Notification.provider_ref == receipt.provider_ref))
        if receipt.mobile:
            where &= Notification.recipient == receipt.mobile
        values = ({Notification.status: "delivered", Notification.delivered_at: receipt.at or now}
                  if receipt.delivered else {Notification.status: "failed", Notification.error: receipt.reason[:500]})
        changed += len(await sms.update(values).where(where).returning(Notification.id))
    return changed
