"""后台任务: a tenant admin's view of the tenant's jobs (progress, attempts, failures)."""

from __future__ import annotations

from litestar import Request, Response, get

from core.db.scoped import scoped
from core.jobs.records import OPEN
from core.jobs.tables import JobRun
from core.tenancy import Tenant
from core.web import render, roles

STATUS_LABELS = {"queued": "排队中", "active": "运行中", "retrying": "等待重试", "complete": "已完成",
                 "failed": "失败"}


@get("/admin/jobs", guards=[roles("tenant_admin")])
async def jobs_page(request: Request, tenant: Tenant) -> Response:
    rows = await scoped(JobRun, tenant).objects().order_by(JobRun.id, ascending=False).limit(100)
    busy = any(r.status in OPEN for r in rows)
    template = "jobs/_runs.html" if request.headers.get("hx-request") else "jobs/runs.html"
    return await render(request, template,
                        {"rows": rows, "busy": busy, "labels": STATUS_LABELS, "poll": "/admin/jobs"})


@get("/admin/jobs/{run_id:int}", guards=[roles("tenant_admin")])
async def job_page(request: Request, tenant: Tenant, run_id: int) -> Response:
    run = await scoped(JobRun, tenant).get_or_404(run_id)
    template = "jobs/_run.html" if request.headers.get("hx-request") else "jobs/run.html"
    return await render(request, template,
                        {"run": run, "labels": STATUS_LABELS, "busy": run.status in OPEN,
                         "poll": f"/admin/jobs/{run.id}"})


ROUTES = [jobs_page, job_page]
