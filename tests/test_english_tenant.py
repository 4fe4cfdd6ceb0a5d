"""An English tenant (Acme, ``TenantSpec.language="en"``) gets its error pages and its form's
field errors in English; a visitor who picks Chinese, and the Chinese tenants, get Chinese."""

from __future__ import annotations

import re

from core.accounts.tables import Account
from test_third_tenant import employee

CJK = re.compile(r"[\u4e00-\u9fff]")


def _visible(html: str, tenant_name: str) -> str:
    """The page's text without the tenant's name (Acme's name is Chinese in every language)."""
    return re.sub(r"<[^>]+>", " ", html).replace(tenant_name, "")


async def test_error_pages_of_the_english_tenant_are_english(client, platform):
    name = platform.tenants.get("acme").name
    r = await client.get("/t/acme/no-such-page")
    assert r.status_code == 404 and '<html lang="en">' in r.text
    assert "Page not found" in r.text and "Back to the home page" in r.text and "页面不存在" not in r.text
    assert not CJK.search(_visible(r.text, name))
    r = await client.get("/t/acme/no-such-page", headers={"Accept": "application/json"})
    assert r.json()["detail"] == "What you are looking for does not exist, or you may not see it."
    r = await client.http.delete("/t/acme/")  # a page that only reads
    assert r.status_code == 405 and "Not supported" in r.text
    r = await client.http.post("/t/acme/signout", data={"_csrf_token": "forged"})
    assert r.status_code == 403 and "The action could not be completed" in r.text

    # A visitor who picks Chinese gets Chinese; a Chinese tenant's page stays Chinese.
    r = await client.get("/t/acme/no-such-page?lang=zh_CN")
    assert r.status_code == 404 and '<html lang="zh-CN">' in r.text and "页面不存在" in r.text
    client.http.cookies.clear()
    r = await client.get("/t/survey/no-such-page")
    assert '<html lang="zh-CN">' in r.text and "页面不存在" in r.text and "Page not found" not in r.text


async def test_field_errors_of_the_english_tenant_are_english(client, platform, make_account):
    account, password, number = await employee(platform, make_account)
    assert (await client.signin("acme", "employee", password, username=number)).status_code == 303
    form = {"current": password, "new": "Another-2026x", "again": "Another-2026y"}
    r = await client.post("/t/acme/password", form)
    assert r.status_code == 400 and "The two new passwords do not match" in r.text and "两次输入" not in r.text
    r = await client.post("/t/acme/password", {**form, "new": "short", "again": "short"})
    assert r.status_code == 400 and "The password needs at least 8 characters" in r.text
    stored = await Account.objects().where(Account.id == account.id).first()
    assert stored.password_hash == account.password_hash  # refused: nothing changed
    r = await client.post("/t/acme/password?lang=zh_CN", form)
    assert r.status_code == 400 and "两次输入的新密码不一致" in r.text


async def test_a_refused_sign_in_says_the_attempts_left_in_english(client, platform, make_account):
    """A message with a value in it (the attempts left, then the lockout) is translated from its
    template, with the value put in, on the English tenant; the Chinese tenant keeps Chinese."""
    account, password, number = await employee(platform, make_account)
    limit = platform.counters["signin_failures"].limit
    r = await client.signin("acme", "employee", "Wrong-2026x", username=number)
    assert r.status_code == 400 and f"Wrong account or password; {limit - 1} attempts left" in r.text
    assert "还可尝试" not in r.text and "账号或密码错误" not in r.text
    for _ in range(limit - 1):
        r = await client.signin("acme", "employee", "Wrong-2026x", username=number)
    assert r.status_code == 429 and f"{limit} failed sign-ins in a row: the account is locked for now" in r.text
    r = await client.post("/t/acme/signin/employee?lang=zh_CN", {"username": number, "password": "Wrong-2026x"})
    assert f"连续 {limit} 次登录失败，账号已被临时锁定" in r.text
