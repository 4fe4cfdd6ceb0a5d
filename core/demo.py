"""``xueshi demo``: both tenants onboarded, one account per role, printed."""

from __future__ import annotations

from core.accounts.services import upsert_account
from core.accounts.tables import Account, Enterprise
from core.certificates.demo import seed_demo_certificates
from core.courses.services import seed_demo_courses
from core.dashboards.counts import recount
from core.db.scoped import scoped
from core.hookcalls import collect
from core.kernel import build_platform, deploy
from core.review.demo import seed_demo_review
from core.settings import Settings
from core.values import DemoAccount

OPERATOR = DemoAccount("operator", "平台运营", "Operator-2026", username="operator")


async def _enterprise_id(tenant, name: str | None, credit_code: str | None = None) -> int | None:
    if not name:
        return None
    companies = scoped(Enterprise, tenant)
    row = await companies.objects(Enterprise.name == name).first()
    if row is None:
        row = companies.new(name=name, credit_code=credit_code or None)
        await row.save()
    elif credit_code and row.credit_code != credit_code:  # a demo made before the company had one
        row.credit_code = credit_code
        await row.save([Enterprise.credit_code])
    return row.id


async def _account_ids(tenant, demos: list[DemoAccount]) -> list[int]:
    numbers = [d.id_number for d in demos if d.id_number]
    if not numbers:
        return []
    rows = await scoped(Account, tenant).select(Account.id).where(Account.id_number.is_in(numbers))
    return [r["id"] for r in rows]


async def create_demo(settings: Settings, base_url: str) -> list[str]:
    """Deploy (migrate, onboard) and create the demo accounts; returns the lines to print."""
    platform = build_platform(settings)
    await deploy(platform)
    host, tenants = platform.plugins, list(platform.tenants)
    lines = ["", "=" * 72, "学时 xueshi 演示环境 / demo", "=" * 72]
    for tenant in tenants:
        port = base_url.rsplit(":", 1)[-1]
        lines += ["", f"【{tenant.name}】 {tenant.spec.name_en}",
                  f"  网址 URL: {base_url}/t/{tenant.slug}/   或 http://{tenant.slug}.localhost:{port}/"]
        hooks = host.hooks_for(tenant.slug)
        accounts = await collect(hooks.tenant_demo_accounts, tenant=tenant)
        for demo in accounts:
            await upsert_account(
                tenant,
                role=demo.role,
                password=demo.password,
                real_name=demo.real_name,
                id_number=demo.id_number,
                mobile=demo.mobile,
                username=demo.username,
                must_change_password=demo.must_change_password,
                enterprise_id=await _enterprise_id(tenant, demo.enterprise, demo.enterprise_credit_code),
                sessions=platform.sessions,
            )
            extra = "（首次登录须修改密码）" if demo.must_change_password else ""
            lines.append(f"  {tenant.role_labels[demo.role]:<6} {demo.real_name:<6} {demo.signin}  密码 {demo.password}{extra}")
        lines += [f"  {line}" for line in await collect(hooks.tenant_demo_data, tenant=tenant)]
        demo_courses = [c for group in [await collect(hooks.tenant_demo_courses, tenant=tenant)] for c in group]
        if demo_courses:
            learners = {d.id_number: d.position for d in accounts if d.id_number and d.position}
            lines += await seed_demo_courses(platform, tenant, demo_courses, learners)
            waiting = await _account_ids(tenant, [d for d in accounts if d.awaiting_review])
            lines += [f"  {line}" for line in await seed_demo_review(tenant, waiting)]
            certified = await _account_ids(tenant, [d for d in accounts if d.certified])
            lines += [f"  {line}" for line in await seed_demo_certificates(platform, hooks, tenant, certified, base_url)]
    await upsert_account(None, role="operator", password=OPERATOR.password, username=OPERATOR.username,
                         real_name=OPERATOR.real_name, sessions=platform.sessions)
    for tenant in platform.tenants:  # the dashboards' counts of the demo data, before the first minutely run
        if tenant.id is not None:
            await recount(tenant)
    lines += ["", f"平台运营 operator: 用户名 {OPERATOR.username} 密码 {OPERATOR.password}", "=" * 72]
    return lines
