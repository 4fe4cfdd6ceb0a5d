"""The in-app inbox and the bell badge (refreshed by htmx)."""

from __future__ import annotations

import datetime as dt

from litestar import Request, Response, get, post

from core.accounts.tables import Account
from core.db.scoped import scoped
from core.hookcalls import Hooks
from core.notify.services import sms_gateway_missing, unread_count
from core.notify.tables import Notification
from core.tenancy import Tenant
from core.web import render, roles, signed_in


@get("/inbox", guards=[signed_in])
async def inbox(request: Request, tenant: Tenant, account: Account) -> Response:
    rows = (
        await scoped(Notification, tenant).objects()
        .where((Notification.account == account.id) & (Notification.channel == "inbox"))
        .order_by(Notification.id, ascending=False)
        .limit(100)
    )
    return await render(request, "inbox.html", {"rows": rows})


@get("/inbox/badge", guards=[signed_in])
async def inbox_badge(request: Request, account: Account) -> Response:
    return await render(request, "_bell.html", {"unread": await unread_count(account)})


@post("/inbox/{notification_id:int}/read", guards=[signed_in])
async def inbox_read(request: Request, tenant: Tenant, account: Account, notification_id: int) -> Response:
    row = await scoped(Notification, tenant).get_or_404(notification_id, Notification.account == account.id)
    if row.read_at is None:
        row.read_at = dt.datetime.now(dt.UTC)
        await row.save([Notification.read_at])
    return await render(request, "_inbox_item.html", {"row": row, "unread": await unread_count(account)})


@get("/admin/sms", guards=[roles("tenant_admin")])
async def sms_outbox(request: Request, tenant: Tenant, hooks: Hooks) -> Response:
    """短信记录: what the tenant's SMS channel sent (or, with the default channel, would send)."""
    rows = (
        await scoped(Notification, tenant).objects(Notification.channel == "sms")
        .order_by(Notification.id, ascending=False)
        .limit(200)
    )
    recorded_only = await sms_gateway_missing(hooks, tenant)
    return await render(request, "admin_sms.html", {"rows": rows, "recorded_only": recorded_only})


ROUTES = [inbox, inbox_badge, inbox_read, sms_outbox]
