"""Survey & design association training centre: member companies, their staff rosters, and
learners who register with a phone number and join their company by ID number."""

from pathlib import Path

from core import DemoAccount, MenuLink, MobilePassword, MobileSmsCode, TenantSpec, hookimpl

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
def signin_methods(tenant):
    return [MobilePassword(), MobileSmsCode()]


@hookimpl
def register_routes():
    from plugins.survey_association import company, learner

    return [*company.ROUTES, *learner.ROUTES]


@hookimpl
def template_dirs():
    return [HERE / "templates"]


@hookimpl
def menu_links(tenant, account):
    return [
        MenuLink("个人档案", "/me/profile", roles=("learner",), order=20),
        MenuLink("新闻公告", "/staff/articles", roles=("tenant_admin",), order=40),
    ]


@hookimpl
def extra_template_vars(request, tenant):
    from plugins.survey_association.learner import home

    return home.template_vars(request, tenant)


@hookimpl
async def tenant_onboard(tenant):
    from plugins.survey_association.learner import home

    return await home.seed_demo(tenant)


@hookimpl
def tenant_demo_accounts(tenant):
    return [
        DemoAccount("tenant_admin", "赵协会", "Admin-2026", mobile="13900139000"),
        DemoAccount("enterprise_admin", "钱企业", "Company-2026", mobile="13700137000",
                    enterprise="示范勘察设计院有限公司"),
        DemoAccount("learner", "孙学员", "Learner-2026", mobile="13600136000"),
    ]
