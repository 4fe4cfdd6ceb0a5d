"""Sending notifications: render a tenant's template, write the outbox, deliver by channel.

Channels are plugins' objects (``notify_channels`` hook). The core's default SMS channel records
the message without any network, so the demo shows what would be sent; a real SMS gateway is a
plugin that returns a channel named ``sms``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from string import Template
from typing import Any, Protocol

from core.db.scoped import scoped
from core.accounts.tables import Account
from core.notify.tables import Notification
from core.hookcalls import Hooks, collect, notify
from core.tenancy import Tenant

log = logging.getLogger("xueshi.notify")


class NotifyChannel(Protocol):
    name: str  # "sms", "inbox", …

    async def deliver(self, notification: Notification) -> None:
        """Deliver or raise; the outbox row records the outcome."""


@dataclass
class RecordingSms:
    """Default SMS channel: records the message as sent, talks to no network."""

    name: str = "sms"

    async def deliver(self, notification: Notification) -> None:
        log.info("sms recorded (id=%s, template=%s)", notification.id, notification.template)


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
    available = {c.name: c for c in reversed(await collect(hooks.notify_channels))}
    values = {"name": account.real_name or "学员", "tenant": tenant.name, **values}
    body = render_template(texts[template], values)
    subject = render_template(texts.get(f"{template}.subject", ""), values) or body[:40]
    sent: list[Notification] = []
    for channel_name in channels:
        if channel_name == "sms" and not account.mobile:
            continue
        sms_body = f"{tenant.rules.sms.signature}{body}" if channel_name == "sms" else body
        row = Notification(
            tenant=tenant.id,
            account=account.id,
            channel=channel_name,
            recipient=account.mobile if channel_name == "sms" else "",
            template=template,
            subject=subject,
            body=sms_body,
        )
        await row.save()
        channel = available.get(channel_name)
        try:
            if channel is None:
                raise LookupError(f"no channel named {channel_name!r}")
            await channel.deliver(row)
            row.status, row.sent_at = "sent", dt.datetime.now(dt.UTC)
        except Exception as exc:  # a failing gateway must not lose the message
            row.status, row.error = "failed", f"{type(exc).__name__}: {exc}"[:500]
        await row.save([Notification.status, Notification.sent_at, Notification.error])
        if row.status == "sent":
            await notify(hooks.notify_sent, tenant=tenant, notification=row)
        sent.append(row)
    return sent


async def unread_count(account: Account) -> int:
    return await scoped(Notification, account.tenant).count(
        (Notification.account == account.id)
        & (Notification.channel == "inbox")
        & Notification.read_at.is_null()
    )
