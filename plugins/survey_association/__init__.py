"""Survey & design association training centre: member companies, their staff rosters, and
learners who register with a phone number and join their company by ID number."""

from pathlib import Path

from core import DemoAccount, MenuLink, TenantSpec, hookimpl

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
def signin_methods(tenant):
    from plugins.survey_association.company.signin import CompanyMobilePassword, CompanySmsCode

    return [CompanyMobilePassword(), CompanySmsCode()]


@hookimpl
def register_routes():
    from plugins.survey_association import company, learner

    return [*company.ROUTES, *learner.ROUTES]


@hookimpl
def register_jobs():
    from plugins.survey_association.company.jobs import JOBS

    return JOBS


@hookimpl
def template_dirs():
    return [HERE / "templates"]


@hookimpl
def menu_links(tenant, account):
    return [
        MenuLink("个人档案", "/me/profile", roles=("learner",), order=20),
        MenuLink("新闻公告", "/staff/articles", roles=("tenant_admin",), order=40),
        MenuLink("企业审核", "/staff/enterprises", roles=("tenant_admin",), order=30),
        MenuLink("证书导入", "/staff/certificates/import", roles=("tenant_admin",), order=35),
        MenuLink("证书管理", "/company/certificates", roles=("enterprise_admin",), order=20),
        MenuLink("学员管理", "/company/learners", roles=("enterprise_admin",), order=25),
    ]


@hookimpl
async def dashboard_panels(tenant, filters):
    from plugins.survey_association import dashboard

    return await dashboard.panels(tenant, filters)


@hookimpl
def notify_templates(tenant):
    return {
        "roster_added": "${name}，您好！${enterprise}已将您登记为企业学员。请登录培训平台个人用户，在“我的 → 个人档案”中"
                        "完善并确认个人信息（身份证号须与企业登记的一致），完成后状态显示为“已加入”。",
    }


@hookimpl
def extra_template_vars(request, tenant):
    from plugins.survey_association.learner import home

    return home.template_vars(request, tenant)


@hookimpl
async def tenant_onboard(tenant):
    from plugins.survey_association.learner import home

    return await home.seed_demo(tenant)


@hookimpl
async def roster_linked(tenant, entry, profile):
    """Joining the company's roster entry is the learner's confirmation of it (学员确认)."""
    import datetime as dt

    from plugins.survey_association import roster_checks

    await roster_checks.learner_confirmed(tenant, entry.id, dt.datetime.now(dt.UTC))


@hookimpl
def tenant_demo_accounts(tenant):
    return [
        DemoAccount("tenant_admin", "赵协会", "Admin-2026", mobile="13900139000"),
        DemoAccount("enterprise_admin", "钱企业", "Company-2026", mobile="13700137000",
                    enterprise="示范勘察设计院有限公司", enterprise_credit_code="91110108MA2600014K"),
        DemoAccount("learner", "孙学员", "Learner-2026", mobile="13600136000"),
    ]


@hookimpl
async def tenant_demo_data(tenant):
    from plugins.survey_association.company import demo

    return await demo.seed(tenant)
