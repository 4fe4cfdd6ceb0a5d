"""The platform operator: /platform/signin (username + password, shared lockout) and /platform/
listing tenants with account counts. Not tenant-scoped; tenant accounts cannot use it."""

from __future__ import annotations

import itertools
import random
import re

from core.accounts.services import upsert_account
from core.accounts.tables import Account
from core.audit.tables import AuditEntry

_n = itertools.count(random.SystemRandom().randrange(1000, 9000))


async def _operator(password="Operator-2026"):
    name = f"op{next(_n)}"
    await upsert_account(None, role="operator", password=password, username=name, real_name="运营测试")
    return name, password


async def test_platform_requires_an_operator_session(client):
    r = await client.get("/platform/")
    assert r.status_code == 303 and r.headers["location"] == "/platform/signin"
    page = await client.get("/platform/signin")
    assert page.status_code == 200 and "平台运营登录" in page.text and 'name="_csrf_token"' in page.text


async def test_operator_signs_in_and_sees_tenants_with_account_counts(client, make_account, platform):
    username, password = await _operator()
    await make_account("survey")
    r = await client.post("/platform/signin", {"username": username, "password": password})
    assert r.status_code == 303 and r.headers["location"] == "/platform/"
    page = await client.get("/platform/")
    assert page.status_code == 200
    for slug in ("survey", "construction"):
        tenant = platform.tenants.get(slug)
        expected = await Account.count().where(Account.tenant == tenant.id)
        cell = re.search(rf'<tr data-slug="{slug}">.*?<td class="count">(\d+)</td>', page.text, re.S)
        assert cell and int(cell.group(1)) == expected >= (1 if slug == "survey" else 0)
        assert tenant.name in page.text
    # Sign-out ends it.
    r = await client.post("/platform/signout")
    assert r.status_code == 303
    assert (await client.get("/platform/")).status_code == 303


async def test_wrong_password_counts_down_then_locks(client):
    username, password = await _operator()
    for left in (4, 3, 2, 1):
        r = await client.post("/platform/signin", {"username": username, "password": "nope"})
        assert r.status_code == 400 and f"用户名或密码错误，还可尝试 {left} 次" in r.text
    r = await client.post("/platform/signin", {"username": username, "password": "nope"})
    assert r.status_code == 429 and "账号已被临时锁定" in r.text
    r = await client.post("/platform/signin", {"username": username, "password": password})
    assert r.status_code == 429 and "账号已被临时锁定" in r.text
    assert (await client.get("/platform/")).status_code == 303


async def test_tenant_accounts_cannot_sign_in_as_operator(client, make_account):
    admin, password = await make_account("survey", role="tenant_admin", username=f"admin{next(_n)}")
    r = await client.post("/platform/signin", {"username": admin.username, "password": password})
    assert r.status_code == 400 and "用户名或密码错误" in r.text
    # A tenant session cookie does not open the platform pages either.
    await client.signin("survey", "mobile", password, mobile=admin.mobile)
    assert (await client.get("/platform/")).status_code == 303


async def test_empty_username_is_reported_at_the_field(client):
    r = await client.post("/platform/signin", {"username": "  ", "password": "x"})
    assert r.status_code == 400 and "请输入用户名" in r.text


async def test_platform_signin_needs_csrf(client):
    username, password = await _operator()
    operator = await Account.objects().where(Account.tenant.is_null() & (Account.username == username)).first()
    before = await AuditEntry.count().where((AuditEntry.actor == operator.id) & (AuditEntry.action == "platform.signin"))
    await client.get("/platform/signin")
    r = await client.post("/platform/signin", {"username": username, "password": password}, csrf=False)
    assert r.status_code == 403
    assert await AuditEntry.count().where((AuditEntry.actor == operator.id)
                                          & (AuditEntry.action == "platform.signin")) == before  # no sign-in
    assert (await client.get("/platform/", follow_redirects=False)).headers["location"] == "/platform/signin"
