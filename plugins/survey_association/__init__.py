"""Survey & design association training centre: member companies, their staff rosters, and
learners who register with a phone number and join their company by ID number."""

import datetime as dt
from pathlib import Path

from core import DemoAccount, MenuLink, TenantSpec, flow, hookimpl
from plugins.survey_association import company, dashboard, learner, roles, roster_checks
from plugins.survey_association.company import demo
from plugins.survey_association.company.jobs import JOBS
from plugins.survey_association.company.signin import CompanyMobilePassword, CompanySmsCode
from plugins.survey_association.learner import home
from plugins.survey_association.roles import COMPANY_ADMIN

HERE = Path(__file__).parent
SLUG = "survey"


@hookimpl
def tenant_declare() -> TenantSpec:
    return TenantSpec(
        slug=SLUG,
        name="示范勘察设计协会培训中心",
        short_name="勘察设计培训",
        name_en="Demo Survey & Design Association Training Centre",
        hosts=("survey.xueshi.local",),
        theme="survey_blue",
        rules_file=HERE / "rules.toml",
    )


@hookimpl
def db_apps():
    return ["plugins.survey_association.piccolo_app"]


@hookimpl
def account_roles():
    return roles.ROLES


@hookimpl
def signin_methods(tenant):
    return [CompanyMobilePassword(), CompanySmsCode()]


@hookimpl
def register_routes():
    return [*flow("enterprise", company.ROUTES), *learner.ROUTES]


@hookimpl
def register_jobs():
    return JOBS


@hookimpl
def template_dirs():
    return [HERE / "templates"]


@hookimpl
def menu_links(tenant, account):
    return [
        MenuLink("个人档案", "/me/profile", roles=("learner",), order=20),
        MenuLink("新闻公告", "/staff/articles", roles=("tenant_admin",), order=40),
        MenuLink("企业审核", "/staff/enterprises", roles=("tenant_admin",), order=30, flow="enterprise"),
        MenuLink("证书导入", "/staff/certificates/import", roles=("tenant_admin",), order=35, flow="enterprise"),
        MenuLink("证书管理", "/company/certificates", roles=(COMPANY_ADMIN,), order=20, flow="enterprise"),
        MenuLink("学员管理", "/company/learners", roles=(COMPANY_ADMIN,), order=25, flow="enterprise"),
    ]


@hookimpl
async def dashboard_panels(tenant, filters):
    return await dashboard.panels(tenant, filters)


@hookimpl
def notify_templates(tenant):
    return {
        "roster_added": "${name}，您好！${enterprise}已将您登记为企业学员。请登录培训平台个人用户，在“我的 → 个人档案”中"
                        "完善并确认个人信息（身份证号须与企业登记的一致），完成后状态显示为“已加入”。",
    }


@hookimpl
def extra_template_vars(request, tenant):
    return home.template_vars(request, tenant)


@hookimpl
async def tenant_onboard(tenant):
    return await home.seed_demo(tenant)


@hookimpl
async def roster_linked(tenant, entry, profile):
    """Joining the company's roster entry is the learner's confirmation of it (学员确认)."""
    await roster_checks.learner_confirmed(tenant, entry.id, dt.datetime.now(dt.UTC))


@hookimpl
def tenant_demo_accounts(tenant):
    return [
        DemoAccount("tenant_admin", "赵协会", "Admin-2026", mobile="13900139000"),
        DemoAccount(COMPANY_ADMIN, "钱企业", "Company-2026", mobile="13700137000",
                    enterprise="示范勘察设计院有限公司", enterprise_credit_code="91110108MA2600014K"),
        DemoAccount("learner", "孙学员", "Learner-2026", mobile="13600136000"),
    ]


@hookimpl
async def tenant_demo_data(tenant):
    return await demo.seed(tenant)
