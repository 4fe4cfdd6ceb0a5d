"""Sending notifications: render a tenant's template, write the outbox, deliver by channel.

Channels are plugins' objects (``notify_channels`` hook). The core's default SMS channel records
the message without any network, so the demo shows what would be sent; a real SMS gateway is a
plugin that returns a channel named ``sms``.

Values wrapped in ``Secret`` (SMS codes) are masked in the stored row (the outbox, the 短信记录
page, the inbox, ``notify_sent``): the clear text exists only in memory, in ``notification.body``
during the channel's ``deliver`` call.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
from dataclasses import dataclass
from string import Template
from typing import Any, Protocol

from core.db.scoped import scoped
from core.accounts.tables import Account
from core.identity import mask_mobile
from core.notify.tables import Notification
from core.hookcalls import Hooks, collect, notify
from core.hookspecs import hookimpl
from core.tenancy import Tenant

log = logging.getLogger("xueshi.notify")


class NotifyChannel(Protocol):
    name: str  # "sms", "inbox", …

    async def deliver(self, notification: Notification) -> None:
        """Deliver or raise; the outbox row records the outcome."""


class SmsProvider(Protocol):
    """A provider plugin's channel, named ``sms:<provider>`` and chosen by a tenant's
    ``[sms] provider``: it sends the tenant's text as the provider's pre-approved template."""

    name: str  # "sms:aliyun", …

    def problems(self, tenant: Tenant, texts: dict[str, str]) -> list[str]:
        """What in the tenant's configuration does not fit its texts (checked at startup)."""

    async def send_template(self, notification: Notification, tenant: Tenant, text: str,
                            values: dict[str, Any]) -> str:
        """Send ``text`` (the tenant's template text, the product's source of truth) filled with
        ``values`` (clear text), or queue it, or raise. Returns the row's status ("sent",
        "queued"); may set ``notification.provider_ref`` (the provider's id of the message)."""


class Secret(str):
    """A template value the recipient gets but the stored message shows masked (an SMS code)."""

    def masked(self) -> str:
        return "*" * len(self)


# What the recording channel was given, clear text included, for the test helpers
# (``core.testing.sms``): process memory only, never stored or shown, the newest few hundred.
RECORDED: collections.deque[tuple[str, str]] = collections.deque(maxlen=500)


@dataclass
class RecordingSms:
    """Default SMS channel: records the message, talks to no network, so its rows are
    "recorded", never "sent". A deployment installs a gateway plugin with a channel named "sms".
    In the demo (``console``) the text, code included, is also printed on the terminal of the
    person who started it, the only way a demo visitor can read a sign-in code."""

    name: str = "sms"
    delivers: bool = False  # nothing leaves the platform
    console: bool = False

    async def deliver(self, notification: Notification) -> None:
        RECORDED.append((notification.recipient, notification.body))
        log.info("sms recorded (id=%s, template=%s)", notification.id, notification.template)
        if self.console:
            print(f"【演示短信，未发送】{mask_mobile(notification.recipient)}：{notification.body}", flush=True)


@dataclass
class Inbox:
    """The in-app inbox: the row itself is the message."""

    name: str = "inbox"

    async def deliver(self, notification: Notification) -> None:
        return None


class UnknownTemplate(KeyError):
    pass


async def templates_for(hooks: Hooks, tenant: Tenant) -> dict[str, str]:
    merged: dict[str, str] = {}
    # pluggy calls the last registered first and trylast (core defaults) last: reverse so a
    # tenant plugin's text overrides the core's default.
    for mapping in reversed(await collect(hooks.notify_templates, tenant=tenant)):
        merged.update(mapping)
    return merged


def placeholders(text: str) -> set[str]:
    """The ``${name}`` / ``$name`` placeholders of a template text."""
    return {named or braced for _, named, braced, _ in Template.pattern.findall(text) if named or braced}


def render_template(text: str, values: dict[str, Any]) -> str:
    return Template(text).safe_substitute(values)


async def send(
    hooks: Hooks,
    tenant: Tenant,
    account: Account,
    template: str,
    channels: tuple[str, ...] = ("inbox", "sms"),
    **values: Any,
) -> list[Notification]:
    """Queue and deliver one message to ``account`` on each of ``channels``."""
    texts = await templates_for(hooks, tenant)
    if template not in texts:
        raise UnknownTemplate(template)
    # As with templates: the core defaults come last from pluggy, so reverse to let a plugin's
    # channel (e.g. a real SMS gateway named "sms") replace the default one.
    available = await _channels(hooks, tenant)
    values = {"name": account.real_name or "学员", "tenant": tenant.name, **values}
    shown = {k: v.masked() if isinstance(v, Secret) else v for k, v in values.items()}
    clear_body = render_template(texts[template], values)
    body = render_template(texts[template], shown)
    subject = render_template(texts.get(f"{template}.subject", ""), shown) or body[:40]
    sent: list[Notification] = []
    for channel_name in channels:
        if channel_name == "sms" and not account.mobile:
            continue
        signature = tenant.rules.sms.signature if channel_name == "sms" else ""
        stored_body = f"{signature}{body}"
        row = Notification(
            tenant=tenant.id,
            account=account.id,
            channel=channel_name,
            recipient=account.mobile if channel_name == "sms" else "",
            template=template,
            subject=subject,
            body=stored_body,
        )
        await row.save()
        channel = available.get(channel_name)
        try:
            if channel is None:
                raise LookupError(f"no channel named {channel_name!r}")
            row.body = f"{signature}{clear_body}"  # in memory only, for this call
            try:
                if hasattr(channel, "send_template"):
                    row.status = await channel.send_template(row, tenant, texts[template], values)
                else:
                    await channel.deliver(row)
                    row.status = "sent" if getattr(channel, "delivers", True) else "recorded"
            finally:
                row.body = stored_body
            row.sent_at = None if row.status == "queued" else dt.datetime.now(dt.UTC)
        except Exception as exc:  # a failing gateway must not lose the message
            row.status, row.error = "failed", _without(f"{type(exc).__name__}: {exc}"[:500], values)
        await row.save([Notification.status, Notification.sent_at, Notification.error, Notification.provider_ref])
        if row.status == "sent":
            await notify(hooks.notify_sent, tenant=tenant, notification=row)
        sent.append(row)
    return sent


def _without(text: str, values: dict[str, Any]) -> str:
    """``text`` (a gateway's error message) with any secret value masked."""
    for v in values.values():
        if isinstance(v, Secret) and v:
            text = text.replace(v, v.masked())
    return text


async def failed_sms(tenant: Tenant, account_id: int, templates: tuple[str, ...],
                     since: dt.datetime) -> list[Notification]:
    """The account's text messages of these kinds that failed since ``since`` (a review
    decision's notice the provider refused or could not deliver), newest first."""
    return await scoped(Notification, tenant).objects(
        (Notification.account == account_id) & (Notification.channel == "sms") & (Notification.status == "failed")
        & Notification.template.is_in(list(templates)) & (Notification.created_at >= since)
    ).order_by(Notification.id, ascending=False)


async def unread_count(account: Account) -> int:
    return await scoped(Notification, account.tenant).count(
        (Notification.account == account.id)
        & (Notification.channel == "inbox")
        & Notification.read_at.is_null()
    )


async def _channels(hooks: Hooks, tenant: Tenant | None) -> dict[str, Any]:
    """The channels by name; "sms" is the tenant's provider channel when its rules name one."""
    available = {c.name: c for c in reversed(await collect(hooks.notify_channels))}
    provider = tenant.rules.sms.provider if tenant is not None else ""
    if provider:
        # A provider nobody offers must fail the send, never fall back to recording.
        available["sms"] = available.get(f"sms:{provider}")
    return available


async def provider_channel(hooks: Hooks, tenant: Tenant) -> Any:
    """The channel of the tenant's ``[sms] provider`` (None without one, or when no plugin offers it)."""
    return (await _channels(hooks, tenant)).get("sms") if tenant.rules.sms.provider else None


async def sms_setup_problems(hooks: Hooks, tenant: Tenant) -> list[str]:
    """What keeps the tenant's SMS provider from sending its texts (a missing provider plugin,
    a text whose placeholders differ from the template's parameters); [] without a provider."""
    provider = tenant.rules.sms.provider
    if not provider:
        return []
    channel = (await _channels(hooks, tenant))["sms"]
    if channel is None:
        return [f"[sms] provider = {provider!r}: no plugin offers the channel 'sms:{provider}'"]
    return channel.problems(tenant, await templates_for(hooks, tenant))


async def sms_gateway_missing(hooks: Hooks, tenant: Tenant | None = None) -> bool:
    """True when the tenant's "sms" channel only records (no gateway plugin), outside the demo."""
    channel = (await _channels(hooks, tenant)).get("sms")
    if channel is None:
        return True
    return not getattr(channel, "delivers", True) and not getattr(channel, "console", False)


class DemoConsoleSms:
    """The demo's plugin: SMS texts are printed on the console (``xueshi demo`` only)."""

    @hookimpl
    def notify_channels(self) -> list[Any]:
        return [RecordingSms(console=True)]
