"""The plugin's jobs: sending the queued texts at each tenant's rate, and pulling the delivery
receipts (``QuerySendDetails``) of the sent ones. Both run every minute (``cron``), per tenant
whose ``[sms] provider`` is ``"aliyun"``."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from core import JobSpec, Notification, Tenant, job_platform, job_tenants, notify_texts, scoped

from plugins.sms_aliyun.channel import AliyunSms, template_of, values_in
from plugins.sms_aliyun.client import SmsError

log = logging.getLogger("xueshi.sms.aliyun")
PROVIDER_ZONE = ZoneInfo("Asia/Shanghai")  # SendDate and ReceiveDate are Beijing time
RECEIPT_DAYS = 3  # a sent text without a receipt after this long is no longer asked about
SEND_STATUS_FAILED, SEND_STATUS_DELIVERED = 2, 3  # QuerySendDetails' SendStatus (1 = waiting)
INTERRUPTED = "Interrupted: the send stopped before the provider answered; it may have been delivered"


def _ours(ctx) -> list[Tenant]:
    return [t for t in job_tenants(ctx) if t.rules.sms.provider == "aliyun"]


async def aliyun_send_queued(ctx) -> dict[str, int]:
    platform, done = job_platform(ctx), {}
    for tenant in _ours(ctx):
        done[tenant.slug] = await send_queued(tenant, await notify_texts(platform.hooks(tenant), tenant))
    return done


async def aliyun_pull_receipts(ctx) -> dict[str, int]:
    return {tenant.slug: await pull_receipts(tenant) for tenant in _ours(ctx)}


async def send_queued(tenant: Tenant, texts: dict[str, str], now: dt.datetime | None = None) -> int:
    """Send the tenant's queued texts, oldest first, while fewer than ``per_minute`` went out
    in the minute before ``now``; returns how many were sent. A busy provider leaves the text queued for the next run (until ``give_up_minutes``);
    a refusal (a template or signature error…) fails it with the provider's code."""
    now = now or dt.datetime.now(dt.UTC)
    rules, channel, sent = tenant.section("sms_aliyun"), AliyunSms(), 0
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
            await channel.send_now(row, tenant, {p: params[p] for p in template_of(tenant, row.template).params})
            row.status, row.sent_at, sent = "sent", now, sent + 1
        except SmsError as exc:
            if exc.transient and now - row.created_at < dt.timedelta(minutes=rules.give_up_minutes):
                row.status = "queued"
            row.error = str(exc)[:500]
        except LookupError as exc:
            row.error = f"{type(exc).__name__}: {exc}"[:500]
        await row.save([Notification.status, Notification.sent_at, Notification.error, Notification.provider_ref])
    return sent


async def pull_receipts(tenant: Tenant, now: dt.datetime | None = None) -> int:
    """Ask for the receipts of the tenant's sent texts of the last ``RECEIPT_DAYS``; marks them
    delivered, or failed with the provider's error code. Returns how many rows changed."""
    now = now or dt.datetime.now(dt.UTC)
    client, changed = AliyunSms().client(tenant), 0
    rows = await scoped(Notification, tenant).objects(
        (Notification.channel == "sms") & (Notification.status == "sent") & (Notification.provider_ref != "")
        & (Notification.sent_at >= now - dt.timedelta(days=RECEIPT_DAYS))
    ).order_by(Notification.id).limit(200)
    for row in rows:
        try:
            details = await client.send_details(row.recipient, row.provider_ref, row.sent_at.astimezone(PROVIDER_ZONE).date())
        except SmsError as exc:
            log.warning("aliyun receipts of %s stopped: %s", tenant.slug, exc.code)
            break
        for detail in details:
            status = int(detail.get("SendStatus", 1))
            if status == SEND_STATUS_DELIVERED:
                row.status, row.delivered_at = "delivered", _received_at(detail.get("ReceiveDate"), now)
            elif status == SEND_STATUS_FAILED:
                row.status, row.error = "failed", f"{detail.get('ErrCode', '')}"[:500]
            else:
                continue
            await row.save([Notification.status, Notification.delivered_at, Notification.error])
            changed += 1
            break
    return changed


def _received_at(text: str | None, default: dt.datetime) -> dt.datetime:
    try:
        return dt.datetime.strptime(text or "", "%Y-%m-%d %H:%M:%S").replace(tzinfo=PROVIDER_ZONE)
    except ValueError:
        return default


JOBS = [
    JobSpec(aliyun_send_queued, timeout=300, retries=0, cron="* * * * *", label="阿里云短信发送", record=False),
    JobSpec(aliyun_pull_receipts, timeout=300, retries=0, cron="* * * * *", label="阿里云短信回执", record=False),
]
