"""账号管理: a tenant admin creates, edits and deactivates staff, resets a learner's password to
the tenant's initial password and corrects a learner's name and position; the CLI does the same.
From the attacker's side: other roles, another tenant's ids, a deactivated account's live session,
forms without the CSRF token."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

from core import cli
from core.accounts import staff
from core.accounts.tables import Account
from core.audit.tables import AuditEntry
from core.roster.tables import LearnerProfile
from core.testing.pytest_plugin import fake_id_number, fake_mobile

C = "/t/construction"


class Sessions:
    """Several signed-in sessions in one test client, as several browsers would hold them: the
    session cookie is swapped (the CSRF cookie, to which a session is bound, is shared)."""

    def __init__(self, client, slug: str = "construction") -> None:
        self.client, self.name = client, f"xs_{slug}"

    def current(self) -> str | None:
        return self.client.http.cookies.get(self.name)

    def use(self, sid: str | None) -> None:
        self.client.http.cookies.delete(self.name)
        if sid:
            self.client.http.cookies.set(self.name, sid, domain="testserver.local", path="/")


@contextlib.asynccontextmanager
async def other_browser(client):
    """Another browser beside ``client``: its own session, the same app."""
    yield _Other(client, Sessions(client))


class _Other:
    """The other browser: each call runs with its own session cookie, then gives the admin's back."""

    def __init__(self, client, jar: Sessions) -> None:
        self.client, self.jar, self.sid = client, jar, None

    async def _run(self, method: str, *args, **kw):
        admin = self.jar.current()
        self.jar.use(self.sid)
        try:
            return await getattr(self.client, method)(*args, **kw)
        finally:
            self.sid = self.jar.current()
            self.jar.use(admin)

    async def signin(self, *args, **kw):
        return await self._run("signin", *args, **kw)

    async def get(self, *args, **kw):
        return await self._run("get", *args, **kw)


async def _admin(client, make_account, slug="construction"):
    admin, password = await make_account(slug, role="tenant_admin", real_name="王管理")
    if slug == "construction":
        r = await client.signin(slug, "id", password, id_number=admin.id_number)
    else:
        r = await client.signin(slug, "mobile", password, mobile=admin.mobile)
    assert r.status_code == 303
    return admin


async def _audit(action: str, object_id: int) -> AuditEntry | None:
    return await AuditEntry.objects().where((AuditEntry.action == action)
                                            & (AuditEntry.object_id == str(object_id))).first()


async def test_admin_creates_a_reviewer_who_signs_in_and_must_change_the_password(client, xs_app, platform,
                                                                                  make_account):
    admin = await _admin(client, make_account)
    page = await client.get(f"{C}/admin/staff")
    assert page.status_code == 200 and "添加工作人员" in page.text
    assert "/admin/staff" in (await client.get(f"{C}/me")).text  # in the admin menu
    id_number = fake_id_number()
    r = await client.post(f"{C}/admin/staff", {"real_name": "周审核", "role": "reviewer", "id_number": id_number,
                                               "mobile": "", "password": "Start-2026x"})
    assert r.status_code == 303
    reviewer = await Account.objects().where(Account.id_number == id_number).first()
    assert (reviewer.role, reviewer.real_name, reviewer.tenant, reviewer.must_change_password) == (
        "reviewer", "周审核", platform.tenants.get("construction").id, True)
    entry = await _audit("staff.created", reviewer.id)
    assert entry.actor == admin.id
    async with other_browser(client) as other:
        r = await other.signin("construction", "id", "Start-2026x", id_number=id_number)
        assert r.status_code == 303 and r.headers["location"].endswith("/password?first=1")
    # The same ID number again: refused at the field, in Chinese.
    again = await client.post(f"{C}/admin/staff", {"real_name": "周审核", "role": "reviewer", "id_number": id_number,
                                                   "password": "Start-2026x"})
    assert again.status_code == 400 and "该身份证号已有本机构的账号" in again.text


@pytest.mark.parametrize("form, field, message", [
    ({"real_name": "", "role": "reviewer"}, "real_name", "请填写姓名"),
    ({"real_name": "甲", "role": "learner"}, "role", "请选择本机构允许的角色"),
    ({"real_name": "甲", "role": "operator"}, "role", "请选择本机构允许的角色"),
    ({"real_name": "甲", "role": "reviewer", "id_number": "123"}, "id_number", ""),
    ({"real_name": "甲", "role": "reviewer", "id_number": "", "mobile": ""}, "id_number", "请填写登录用的身份证号"),
    ({"real_name": "甲", "role": "reviewer", "password": "short"}, "password", "密码至少 8 位"),
])
async def test_bad_staff_forms_answer_at_the_field(client, make_account, form, field, message):
    await _admin(client, make_account)
    before = await Account.count().where(Account.real_name == "甲")  # other tests share the database
    data = {"id_number": fake_id_number(), "password": "Start-2026x", **form}
    r = await client.post(f"{C}/admin/staff", data)
    assert r.status_code == 400
    assert f'id="f-{field}"' in r.text and 'class="field has-error"' in r.text
    assert message in r.text
    assert await Account.count().where(Account.real_name == "甲") == before  # nobody was created


async def test_deactivated_account_is_signed_out_at_once_and_cannot_sign_in(client, xs_app, make_account):
    admin = await _admin(client, make_account)
    reviewer, password = await make_account("construction", role="reviewer", real_name="李审核")
    async with other_browser(client) as other:
        assert (await other.signin("construction", "id", password, id_number=reviewer.id_number)).status_code == 303
        assert (await other.get(f"{C}/review")).status_code == 200
        r = await client.post(f"{C}/admin/staff/{reviewer.id}/active", {"active": "0"})
        assert r.status_code == 303
        gone = await other.get(f"{C}/review")
        assert gone.status_code == 303 and "/signin" in gone.headers["location"]
        again = await other.signin("construction", "id", password, id_number=reviewer.id_number)
        assert again.status_code == 400 and "账号或密码错误" in again.text
    assert (await Account.objects().get(Account.id == reviewer.id)).active is False
    assert (await _audit("staff.deactivated", reviewer.id)).actor == admin.id
    # Reactivated, it signs in again.
    assert (await client.post(f"{C}/admin/staff/{reviewer.id}/active", {"active": "1"})).status_code == 303
    async with other_browser(client) as other:
        assert (await other.signin("construction", "id", password, id_number=reviewer.id_number)).status_code == 303


async def test_admin_edits_name_and_role_but_not_their_own_role_or_activity(client, make_account):
    admin = await _admin(client, make_account)
    reviewer, _ = await make_account("construction", role="reviewer", real_name="李审核")
    r = await client.post(f"{C}/admin/staff/{reviewer.id}", {"real_name": "李审核员", "role": "tenant_admin"})
    assert r.status_code == 303
    row = await Account.objects().get(Account.id == reviewer.id)
    assert (row.real_name, row.role) == ("李审核员", "tenant_admin")
    entry = await _audit("staff.updated", reviewer.id)
    assert entry.actor == admin.id
    own = await client.post(f"{C}/admin/staff/{admin.id}", {"real_name": "王管理", "role": "reviewer"})
    assert own.status_code == 400 and "不能更改自己的角色" in own.text
    off = await client.post(f"{C}/admin/staff/{admin.id}/active", {"active": "0"})
    assert off.status_code == 400 and "不能停用自己的账号" in off.text
    assert (await Account.objects().get(Account.id == admin.id)).active is True


async def test_reviewer_learner_and_other_tenant_cannot_use_staff_pages(client, platform, make_account):
    reviewer, password = await make_account("construction", role="reviewer")
    learner, _ = await make_account("construction", role="learner")
    await client.signin("construction", "id", password, id_number=reviewer.id_number)
    for url in ("/admin/staff", f"/admin/staff/{reviewer.id}", "/admin/staff/learners", f"/admin/staff/learners/{learner.id}"):
        assert (await client.get(C + url)).status_code == 404
    r = await client.post(f"{C}/admin/staff", {"real_name": "冒名", "role": "tenant_admin", "id_number": fake_id_number(),
                                               "password": "Start-2026x"})
    assert r.status_code == 404
    assert (await client.post(f"{C}/admin/staff/learners/{learner.id}/password")).status_code == 404
    assert await Account.count().where(Account.real_name == "冒名") == 0
    await client.post(f"{C}/signout")
    # A tenant admin of the survey association names construction's accounts: not found.
    await _admin(client, make_account, "survey")
    S = "/t/survey"
    assert (await client.get(f"{S}/admin/staff/{reviewer.id}")).status_code == 404
    assert (await client.post(f"{S}/admin/staff/{reviewer.id}/active", {"active": "0"})).status_code == 404
    assert (await client.post(f"{S}/admin/staff/{reviewer.id}", {"real_name": "x", "role": "tenant_admin"})).status_code == 404
    assert (await client.post(f"{S}/admin/staff/learners/{learner.id}", {"real_name": "x"})).status_code == 404
    assert (await client.post(f"{S}/admin/staff/learners/{learner.id}/password")).status_code == 404
    row = await Account.objects().get(Account.id == reviewer.id)
    assert row.active and row.role == "reviewer"


async def test_staff_forms_need_the_csrf_token(client, make_account):
    await _admin(client, make_account)
    reviewer, _ = await make_account("construction", role="reviewer")
    r = await client.post(f"{C}/admin/staff/{reviewer.id}/active", {"active": "0"}, csrf=False)
    assert r.status_code == 403
    assert (await Account.objects().get(Account.id == reviewer.id)).active is True


async def test_reset_learner_password_to_the_tenants_initial_password(client, xs_app, platform, make_account):
    admin = await _admin(client, make_account)
    learner, password = await make_account("construction", role="learner", real_name="张学员")
    initial = platform.tenants.get("construction").rules.signin.initial_password
    assert initial == "111111"  # the guide's service desk default, from the tenant's rules
    async with other_browser(client) as other:
        assert (await other.signin("construction", "id", password, id_number=learner.id_number)).status_code == 303
        assert (await other.get(f"{C}/me")).status_code == 200
        r = await client.post(f"{C}/admin/staff/learners/{learner.id}/password")
        assert r.status_code == 303
        assert (await other.get(f"{C}/me")).status_code == 303  # that session ended at once
        old = await other.signin("construction", "id", password, id_number=learner.id_number)
        assert old.status_code == 400
        new = await other.signin("construction", "id", initial, id_number=learner.id_number)
        assert new.status_code == 303 and new.headers["location"].endswith("/password?first=1")
    assert (await Account.objects().get(Account.id == learner.id)).must_change_password is True
    assert (await _audit("learner.password_reset", learner.id)).actor == admin.id
    # A staff account is not a learner: this page does not reset it.
    assert (await client.post(f"{C}/admin/staff/learners/{admin.id}/password")).status_code == 404


async def test_reset_is_refused_where_the_tenant_has_no_initial_password(client, platform, make_account):
    assert platform.tenants.get("survey").rules.signin.initial_password == ""
    await _admin(client, make_account, "survey")
    learner, _ = await make_account("survey", role="learner")
    before = (await Account.objects().get(Account.id == learner.id)).password_hash
    r = await client.post(f"/t/survey/admin/staff/learners/{learner.id}/password")
    assert r.status_code == 400 and "本机构未设置初始密码" in r.text
    assert (await Account.objects().get(Account.id == learner.id)).password_hash == before


async def test_correct_learner_name_and_position_is_audited(client, platform, make_account):
    admin = await _admin(client, make_account)
    learner, _ = await make_account("construction", role="learner", real_name="张学元")
    found = await client.get(f"{C}/admin/staff/learners", params={"q": "张学"})
    assert found.status_code == 200 and f"/admin/staff/learners/{learner.id}" in found.text
    assert learner.id_number not in found.text  # masked
    by_id = await client.get(f"{C}/admin/staff/learners", params={"q": learner.id_number})
    assert f"/admin/staff/learners/{learner.id}" in by_id.text
    bad = await client.post(f"{C}/admin/staff/learners/{learner.id}", {"real_name": "张学员", "position": "厨师"})
    assert bad.status_code == 400 and "请选择本机构的岗位" in bad.text
    r = await client.post(f"{C}/admin/staff/learners/{learner.id}", {"real_name": "张学员", "position": "安全员"})
    assert r.status_code == 303
    assert (await Account.objects().get(Account.id == learner.id)).real_name == "张学员"
    profile = await LearnerProfile.objects().where(LearnerProfile.account == learner.id).first()
    assert (profile.real_name, profile.position) == ("张学员", "安全员")
    entry = await _audit("learner.corrected", learner.id)
    detail = entry.detail if isinstance(entry.detail, dict) else json.loads(entry.detail)
    assert entry.actor == admin.id
    assert detail["real_name"] == {"old": "张学元", "new": "张学员"} and detail["position"]["new"] == "安全员"


async def test_reviewer_count_notice_on_the_staff_page(client, platform, make_account):
    await _admin(client, make_account)
    tenant_id = platform.tenants.get("construction").id  # (the database is shared by the session's tests)
    await Account.update({Account.active: False}).where((Account.tenant == tenant_id) & (Account.role == "reviewer"))
    await make_account("construction", role="reviewer")
    page = await client.get(f"{C}/admin/staff")
    assert "清除学时须由两位审核员完成" in page.text
    await make_account("construction", role="reviewer")
    assert "清除学时须由两位审核员完成" not in (await client.get(f"{C}/admin/staff")).text


async def test_staff_roles_come_from_the_tenants_rules(tmp_path):
    from core.tenancy import RulesError, load_rules

    path = tmp_path / "rules.toml"
    path.write_text('[staff]\nroles = ["reviewer"]\n', encoding="utf-8")
    assert load_rules(path).staff.roles == ["reviewer"]
    path.write_text('[staff]\nroles = ["operator"]\n', encoding="utf-8")
    with pytest.raises(RulesError, match="staff.roles"):
        load_rules(path)


async def test_service_refuses_a_role_outside_the_rules(platform):
    tenant = platform.tenants.get("construction")
    with pytest.raises(staff.StaffError) as exc:
        await staff.create_staff(platform.hooks(tenant), tenant, None, staff.StaffForm(
            real_name="甲", role="enterprise_admin", mobile=fake_mobile(), password="Start-2026x"), {"id_number"})
    assert exc.value.field == "role"


# --- the CLI ------------------------------------------------------------------------------------


@pytest.fixture
def run_cli(xs_settings, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", xs_settings.database_url)
    monkeypatch.setenv("XUESHI_VAR_DIR", str(xs_settings.var_dir))
    monkeypatch.setenv("XUESHI_DB_POOL_SIZE", "0")  # the CLI's loop is another thread's (see test_cli)

    async def run(*argv: str) -> int:
        return await asyncio.to_thread(cli.main, list(argv))

    return run


async def test_cli_adds_deactivates_and_resets(run_cli, client, platform, make_account, capsys):
    id_number = fake_id_number()
    assert await run_cli("staff", "add", "--tenant", "construction", "--role", "reviewer", "--name", "吴审核",
                         "--id-number", id_number, "--password", "Start-2026x") == 0
    assert "reviewer" in capsys.readouterr().out
    reviewer = await Account.objects().where(Account.id_number == id_number).first()
    assert reviewer.role == "reviewer" and reviewer.must_change_password
    assert (await client.signin("construction", "id", "Start-2026x", id_number=id_number)).status_code == 303
    assert (await client.get(f"{C}/password")).status_code == 200
    assert await run_cli("staff", "deactivate", "--tenant", "construction", "--id-number", id_number) == 0
    gone = await client.get(f"{C}/password")  # the CLI ended the session the browser holds
    assert gone.status_code == 303 and "/signin" in gone.headers["location"]
    assert (await client.signin("construction", "id", "Start-2026x", id_number=id_number)).status_code == 400
    assert await _audit("staff.deactivated", reviewer.id) is not None
    with pytest.raises(SystemExit, match="role"):
        await run_cli("staff", "add", "--tenant", "construction", "--role", "operator", "--name", "甲",
                      "--id-number", fake_id_number(), "--password", "Start-2026x")
    learner, password = await make_account("construction", role="learner")
    assert await run_cli("staff", "reset-password", "--tenant", "construction", "--id-number", learner.id_number) == 0
    r = await client.signin("construction", "id", "111111", id_number=learner.id_number)
    assert r.status_code == 303 and r.headers["location"].endswith("/password?first=1")
    with pytest.raises(SystemExit, match="no learner"):
        await run_cli("staff", "reset-password", "--tenant", "construction", "--id-number", id_number)


async def test_simultaneous_creations_of_one_person_make_one_account(platform):
    tenant = platform.tenants.get("construction")
    id_number = fake_id_number()
    form = staff.StaffForm(real_name="并发", role="reviewer", id_number=id_number, password="Start-2026x")
    results = await asyncio.gather(*(staff.create_staff(platform.hooks(tenant), tenant, None, form, {"id_number"})
                                     for _ in range(3)), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, staff.StaffError) and r.field == "id_number" for r in results if isinstance(r, Exception))
    assert await Account.count().where(Account.id_number == id_number) == 1
