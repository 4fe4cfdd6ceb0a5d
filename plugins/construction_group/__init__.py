"""Construction group training centre: continuing education for site professionals.

Learners sign in with their national ID number and an initial password that must be changed at
first sign-in; only staff may change a learner's phone number.
"""

from pathlib import Path

from core import DemoAccount, IdNumberPassword, MenuLink, TenantSpec, hookimpl

HERE = Path(__file__).parent
SLUG = "construction"


@hookimpl
def tenant_declare() -> TenantSpec:
    return TenantSpec(
        slug=SLUG,
        name="示范建工集团培训中心",
        short_name="建工培训",
        name_en="Demo Construction Group Training Centre",
        hosts=("construction.xueshi.local",),
        theme="construction_red",
        rules_file=HERE / "rules.toml",
    )


@hookimpl
def signin_methods(tenant):
    return [IdNumberPassword(label="身份证号登录")]


@hookimpl
def template_dirs():
    return [HERE / "templates"]


@hookimpl
def menu_links(tenant, account):
    return [MenuLink("我的培训", "/study", roles=("learner",), order=20),
            MenuLink("我的档案", "/me/archive", roles=("learner",), order=25)]


@hookimpl
def tenant_demo_accounts(tenant):
    return [
        DemoAccount("tenant_admin", "王管理", "Admin-2026", id_number="110102198505050020"),
        DemoAccount("reviewer", "李审核", "Review-2026", id_number="110101198001010010"),
        DemoAccount("learner", "张学员", "111111", id_number="110105199001011232",
                    mobile="13800138000", must_change_password=True,
                    note="初始密码 111111，首次登录须修改"),
    ]
