"""Plain values shared by the core and plugins: no web, database or face imports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AccountRole:
    """A role an account of a tenant holds: the core's (``TENANT_ROLES``) or one a plugin declares
    with the ``account_roles`` hook."""

    name: str  # stored in Account.role
    label: str  # Chinese, shown in the header, 账号管理 and 操作日志
    landing: str | None = None  # where sign-in lands (relative to the tenant's base); None: the
    # first menu link of this role (as the tenant's plugins order it), or 我的 when it has none


TENANT_ROLES = (
    AccountRole("tenant_admin", "机构管理员"),
    AccountRole("reviewer", "审核员"),
    AccountRole("learner", "学员", landing="/me"),
)

ROLES = ("operator", *(r.name for r in TENANT_ROLES))  # the core's roles; plugins add their own

ROLE_LABELS = {"operator": "平台运营", **{r.name: r.label for r in TENANT_ROLES}}


@dataclass(frozen=True)
class MenuLink:
    label: str
    href: str  # relative to the tenant's base, e.g. "/inbox"
    roles: tuple[str, ...] = ()  # empty: everyone signed in
    order: int = 100
    flow: str | None = None  # a flow of core.tenancy.FLOWS: shown only where the tenant offers it


@dataclass(frozen=True)
class DemoAccount:
    """An account the demo creates and prints; ``signin`` says what to type where."""

    role: str
    real_name: str
    password: str
    id_number: str | None = None
    mobile: str | None = None
    username: str | None = None
    must_change_password: bool = False
    enterprise: str | None = None  # enterprise name, created if missing
    enterprise_credit_code: str | None = None  # its 统一社会信用代码 (certificates are matched by it)
    note: str = ""
    position: str = ""  # a learner's 岗位: the demo enrols them on that position's demo courses
    awaiting_review: bool = False  # the demo credits their demo courses in full: 待审核 for the reviewer
    certified: bool = False  # … and takes them on through approval and the exam to an issued certificate

    @property
    def signin(self) -> str:
        if self.username:  # a tenant that signs in by a name or number of its own (Acme's 工号)
            return f"用户名 {self.username}"
        if self.id_number:
            return f"身份证号 {self.id_number}"
        if self.mobile:
            return f"手机号 {self.mobile}"
        return f"用户名 {self.username}"


@dataclass(frozen=True)
class DemoLesson:
    """A lesson video the demo makes on the spot (slides: ``title`` and one line at a time)."""

    title: str
    lines: tuple[str, ...]
    seconds: int = 90


@dataclass(frozen=True)
class DemoCourse:
    """A course the demo creates (idempotent by title) for each of ``positions``."""

    title: str
    year: int
    required_hours: float
    positions: tuple[str, ...]
    lessons: tuple[DemoLesson, ...]
