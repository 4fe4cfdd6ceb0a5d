"""Construction group training centre: continuing education for site professionals.

Learners sign in with their national ID number and an initial password that must be changed at
first sign-in; only staff may change a learner's phone number.
"""

from pathlib import Path

from core import DemoAccount, DemoCourse, DemoLesson, IdNumberPassword, MenuLink, TenantSpec, hookimpl, seed_question_bank

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
    return [MenuLink("我的培训", "/study", roles=("learner",), order=20, flow="courses"),
            MenuLink("我的档案", "/me/archive", roles=("learner",), order=25)]


@hookimpl
def tenant_demo_accounts(tenant):
    return [
        DemoAccount("tenant_admin", "王管理", "Admin-2026", id_number="110102198505050020"),
        DemoAccount("reviewer", "李审核", "Review-2026", id_number="110101198001010010"),
        DemoAccount("learner", "张学员", "111111", id_number="110105199001011232",
                    mobile="13800138000", must_change_password=True,
                    note="初始密码 111111，首次登录须修改", position="施工员"),
        DemoAccount("learner", "赵学员", "Learn-2026", id_number="110105199203041237",
                    mobile="13800138001", note="已学完示范课程，学时待审核", position="施工员",
                    awaiting_review=True),
        DemoAccount("learner", "陈学员", "Learn-2026", id_number="110105198807151248",
                    mobile="13800138002", note="学时已审核通过、考核合格，已有电子证书", position="安全员",
                    certified=True),
    ]


# The guide's SMS texts (section 一 and 三), word for word; ${name}, ${position}, ${year} filled in.
SMS_TEXTS = {
    "hours_approved": "尊敬的学员，恭喜您的继续教育学时已通过审核，可登录管理系统查看学时记录获取最新电子证书。",
    "hours_cleared": ("尊敬的 ${name} 学员您好，因您在继续教育学习课程中存在作弊行为，按照有关要求，"
                      "您的 ${position} 岗位 ${year} 年度学时将被清除，请重新学习（教育培训网）"),
}


@hookimpl
def notify_templates(tenant):
    return dict(SMS_TEXTS)


DEMO_BANKS = {"施工员": HERE / "demo" / "exam_bank_shigongyuan.csv", "安全员": HERE / "demo" / "exam_bank_anquanyuan.csv"}


@hookimpl
async def tenant_demo_data(tenant):
    """The online exam's question banks of the demo positions (在线考核: 施工员, 安全员)."""
    return [await seed_question_bank(tenant, position, path) for position, path in DEMO_BANKS.items()]


@hookimpl
def tenant_demo_courses(tenant):
    """A real small course for two positions; its videos are made at demo time (core.courses.demo_media)."""
    return [DemoCourse(
        title="2026 年度继续教育（示范课程）", year=2026, required_hours=0.05, positions=("施工员", "安全员"),
        lessons=(
            DemoLesson("第一讲 施工现场安全管理", ("安全生产责任制", "三级安全教育", "班前安全讲话", "现场安全检查"), 90),
            DemoLesson("第二讲 质量控制要点", ("施工质量验收", "隐蔽工程检查", "材料进场复验", "质量问题整改"), 90),
        ),
    )]
