"""Dashboard pages: the tenant admin's (机构看板, the landing page after sign-in), its XLSX
export, and the reviewer's (我的审核看板). The operator's is in ``core.dashboards.platform``.
``ROUTES`` is the one list the app mounts, so a capability switch can gate them together."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, get
from piccolo.query.functions.aggregate import Count

from core import tenant_time
from core.accounts.tables import Account
from core.audit.services import record
from core.courses.exports import XLSX_TYPE
from core.courses.tables import Course, Position
from core.dashboards import activity, charts, counts, progress
from core.dashboards.values import DashboardFilters, DashboardPanel
from core.db.scoped import scoped
from core.hookcalls import Hooks, collect
from core.kernel import Platform
from core.offload import run_cpu
from core.review.tables import ReviewDecision
from core.roster.spreadsheets import write_xlsx
from core.templating import LiteralTranslations
from core.tenancy import Tenant
from core.web import platform_of, render, roles

ADMIN = [roles("tenant_admin")]
REVIEWER = [roles("reviewer")]
SECTIONS = ("学习进度", "学习情况", "学时审核", "在线考核")


def translator(platform: Platform, request: Request) -> Callable[[str], str]:
    """The page language's gettext (the one templates use), for text drawn inside charts."""
    tenant = request.state.get("tenant")
    env = platform.templates.env_for(tenant.slug if tenant else None, request.state.get("lang", "zh_CN"))
    return env.extensions[LiteralTranslations.identifier].translations.gettext


async def tenant_panels(platform: Platform, tenant: Tenant, hooks: Hooks, f: DashboardFilters) -> list[DashboardPanel]:
    """The core's panels and the tenant's plugins' (``dashboard_panels``), in section and order."""
    tables, *groups = await asyncio.gather(progress.progress_tables(tenant, f), activity.study_panels(tenant, f),
                                           activity.review_panels(tenant, f), progress.exam_panels(tenant, f),
                                           collect(hooks.dashboard_panels, tenant=tenant, filters=f))
    panels = [p for group in [progress.progress_panels(tables), *groups] for p in group
              if isinstance(p, DashboardPanel)]
    return sorted(panels, key=lambda p: (SECTIONS.index(p.section) if p.section in SECTIONS else len(SECTIONS),
                                         p.order, p.key))


async def filter_options(tenant: Tenant) -> dict[str, Any]:
    years = await scoped(Course, tenant).select(Course.year).distinct().order_by(Course.year, ascending=False)
    positions = await scoped(Position, tenant).select(Position.id, Position.name).order_by(Position.name)
    courses = await scoped(Course, tenant).select(Course.id, Course.title, Course.year).order_by(
        Course.year, ascending=False).order_by(Course.title)
    return {"years": [r["year"] for r in years], "positions": positions, "courses": courses}


async def shown(request: Request, panels: list[DashboardPanel]) -> list[dict[str, Any]]:
    """What the template needs of each panel: the panel, its chart and its section heading."""
    lang = request.state.get("lang", "zh_CN")
    uris = await charts.data_uris(panels, translator(platform_of(request), request), lang)
    out, section = [], None
    for panel, uri in zip(panels, uris):
        out.append({"panel": panel, "chart": uri, "heading": panel.section if panel.section != section else ""})
        section = panel.section
    return out


@get("/admin/dashboard", guards=ADMIN)
async def tenant_dashboard(request: Request, platform: Platform, tenant: Tenant, hooks: Hooks) -> Response:
    f = DashboardFilters.from_query(request.query_params, tenant_time.today(tenant).year)
    panels, options, computed = await asyncio.gather(tenant_panels(platform, tenant, hooks, f), filter_options(tenant),
                                                     counts.computed_at(tenant))
    drawn = await shown(request, panels)
    when = tenant_time.local(computed, tenant_time.zone(tenant)).strftime("%Y-%m-%d %H:%M") if computed else ""
    return await render(request, "dashboards/tenant.html", {"f": f, "panels": drawn, "options": options,
                                                             "query": f.query(), "computed_at": when})


def sheet(tenant: Tenant, f: DashboardFilters, panels: list[DashboardPanel], translate: Callable[[str], str],
          filters_text: str) -> tuple[list[str], list[list[str]]]:
    """The export's rows: a title row per panel, its headers, its rows, a blank line."""
    rows: list[list[str]] = [[translate("筛选条件"), filters_text], []]
    for panel in panels:
        rows.append([translate(panel.title)])
        rows.append([translate(h) for h in panel.headers])
        for r in panel.rows:
            label = translate(str(r[0])) if panel.translate_rows else str(r[0])
            rows.append([label, *(f"{v:g}" if isinstance(v, float) else str(v) for v in r[1:])])
        rows.append([])
    return [tenant.name, translate("数据看板")], rows


@get("/admin/dashboard.xlsx", guards=ADMIN)
async def tenant_dashboard_xlsx(request: Request, platform: Platform, tenant: Tenant, account: Account,
                                hooks: Hooks) -> Response:
    """The figures the dashboard shows for the same filters, one table after another."""
    f = DashboardFilters.from_query(request.query_params, tenant_time.today(tenant).year)
    panels = await tenant_panels(platform, tenant, hooks, f)
    translate = translator(platform, request)
    headers, rows = sheet(tenant, f, panels, translate, await filters_text(tenant, f, translate))
    data = await run_cpu("spreadsheet", write_xlsx, headers, rows)
    await record("export.downloaded", tenant_id=tenant.id, actor_id=account.id, object_type="export",
                 object_id="dashboard", rows=sum(len(p.rows) for p in panels), filters=f.query())
    day = tenant_time.now(tenant).strftime("%Y%m%d")
    return Response(content=data, media_type=XLSX_TYPE, headers={
        "Content-Disposition": f'attachment; filename="dashboard-{day}.xlsx"', "Cache-Control": "private, no-store"})


async def filters_text(tenant: Tenant, f: DashboardFilters, translate: Callable[[str], str]) -> str:
    parts = [f"{translate('年度')}：{f.year}" if f.year else translate("全部年度")]
    if f.position and (p := await scoped(Position, tenant).get(f.position)):
        parts.append(f"{translate('岗位')}：{p.name}")
    if f.course and (c := await scoped(Course, tenant).get(f.course)):
        parts.append(f"{translate('课程')}：{c.title}")
    if f.company:
        parts.append(f"{translate('单位')}：{f.company}")
    return "；".join(parts)


async def reviewer_figures(tenant: Tenant, account: Account) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """The reviewer dashboard's queries: the backlog, this reviewer's decisions of the last 30
    days by kind, and the clearings waiting for another reviewer's confirmation."""
    since = tenant_time.now(tenant) - dt.timedelta(days=30)
    return await asyncio.gather(
        activity.backlog(tenant),
        scoped(ReviewDecision, tenant).select(ReviewDecision.kind, Count()).where(
            ReviewDecision.reviewer == account.id, ReviewDecision.created_at >= since,
            ReviewDecision.status.is_in(["done", "pending"])).group_by(ReviewDecision.kind),
        scoped(ReviewDecision, tenant).count(ReviewDecision.kind == "clear", ReviewDecision.status == "pending",
                                             ReviewDecision.reviewer != account.id))


@get("/review/dashboard", guards=REVIEWER)
async def reviewer_dashboard(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    """The review queue by age, overdue first; the clearings waiting for a second reviewer; this
    reviewer's own decisions of the last 30 days."""
    found, mine, waiting = await reviewer_figures(tenant, account)
    kinds = {r["kind"]: r["count"] for r in mine}
    panels = [*activity.backlog_panels(found, order=1),
              DashboardPanel(key="my_decisions", title="我近 30 天的审核决定", headers=("决定", "次数"),
                             rows=tuple((label, kinds.get(k, 0)) for k, label in activity.DECISIONS.items()),
                             chart="hbar", section="学时审核", order=3, translate_rows=True)]
    return await render(request, "dashboards/reviewer.html", {
        "found": found, "waiting": waiting, "panels": await shown(request, panels)})


ROUTES = [tenant_dashboard, tenant_dashboard_xlsx, reviewer_dashboard]
