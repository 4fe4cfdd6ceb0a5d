"""The in-app inbox and the bell badge (refreshed by htmx)."""

from __future__ import annotations

import datetime as dt

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core.notify.services import sms_gateway_missing, unread_count
from core.notify.tables import Notification
from core.web import platform_of, render, require, tenant_of


@get("/inbox")
async def inbox(request: Request) -> Response:
    account = require(request)
    rows = (
        await Notification.objects()
        .where((Notification.account == account.id) & (Notification.channel == "inbox"))
        .order_by(Notification.id, ascending=False)
        .limit(100)
    )
    return await render(request, "inbox.html", rows=rows)


@get("/inbox/badge")
async def inbox_badge(request: Request) -> Response:
    account = require(request)
    return await render(request, "_bell.html", unread=await unread_count(account))


@post("/inbox/{notification_id:int}/read")
async def inbox_read(request: Request, notification_id: int) -> Response:
    account = require(request)
    tenant = tenant_of(request)
    row = await Notification.objects().where(
        (Notification.id == notification_id)
        & (Notification.tenant == tenant.id)
        & (Notification.account == account.id)
    ).first()
    if row is None:
        raise NotFoundException()
    if row.read_at is None:
        row.read_at = dt.datetime.now(dt.UTC)
        await row.save([Notification.read_at])
    return await render(request, "_inbox_item.html", row=row, unread=await unread_count(account))


@get("/admin/sms")
async def sms_outbox(request: Request) -> Response:
    """短信记录: what the tenant's SMS channel sent (or, with the default channel, would send)."""
    require(request, "tenant_admin")
    tenant = tenant_of(request)
    rows = (
        await Notification.objects()
        .where((Notification.tenant == tenant.id) & (Notification.channel == "sms"))
        .order_by(Notification.id, ascending=False)
        .limit(200)
    )
    recorded_only = await sms_gateway_missing(platform_of(request).hooks(tenant))
    return await render(request, "admin_sms.html", rows=rows, recorded_only=recorded_only)


ROUTES = [inbox, inbox_badge, inbox_read, sms_outbox]
