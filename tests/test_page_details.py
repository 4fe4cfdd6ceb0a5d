"""Small things a new user met (issue 8 #15): 404 pages in the tenant's theme, a favicon, the
60-second wait after 获取验证码 (static script, no inline script)."""

from core.testing.ids import fake_mobile


async def test_404_keeps_the_tenants_header_and_theme(client, make_account):
    for url, host, base in (("/t/survey/no-such-page", None, "/t/survey"), ("/no-such-page", "survey.localhost", "")):
        r = await client.get(url, headers={"host": host} if host else {})
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        assert "页面不存在" in r.text and "示范勘察设计协会培训中心" in r.text
        assert '<link rel="stylesheet" href="/static/themes/survey_blue/static/tokens.css">' in r.text
        assert 'class="site-header"' in r.text and "/static/themes/survey_blue/static/logo.svg" in r.text
        assert f'<a class="brand" href="{base}/">' in r.text and 'rel="icon"' in r.text
        assert "<script" not in r.text
    # A 404 raised by a page's guard (another role's page) is themed too; another tenant's theme
    # for the construction tenant.
    learner, pw = await make_account("survey")
    await client.signin("survey", "mobile", pw, mobile=learner.mobile)
    r = await client.get("/t/survey/company/learners")
    assert r.status_code == 404 and "survey_blue/static/tokens.css" in r.text
    r = await client.get("/t/construction/nothing-here")
    assert r.status_code == 404 and "construction_red/static/tokens.css" in r.text
    # No tenant: the platform's name, no theme.
    r = await client.get("/t/nobody/x")
    assert r.status_code == 404 and "学时培训平台" in r.text and "/static/themes/" not in r.text


async def test_favicon_is_linked_and_served(client):
    page = await client.get("/t/survey/signin")
    assert '<link rel="icon" href="/static/core/favicon.svg" type="image/svg+xml">' in page.text
    icon = await client.get("/static/core/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg") and b"<svg" in icon.content


async def test_sms_code_button_counts_down_60_seconds_after_a_code_is_sent(client, make_account):
    page = await client.get("/t/survey/signin?m=sms")
    assert '<script src="/static/core/js/countdown.js" defer></script>' in page.text
    script = await client.get("/static/core/js/countdown.js")
    assert script.status_code == 200 and "data-sms-sent" in script.text and "htmx:afterSwap" in script.text
    account, _ = await make_account("survey")
    r = await client.hx_post("/t/survey/sms/code", {"mobile": account.mobile})
    assert r.status_code == 200 and 'data-sms-sent="60"' in r.text and "秒后重新获取" in r.text
    r = await client.hx_post("/t/survey/sms/code", {"mobile": "12345"})
    assert "data-sms-sent" not in r.text  # nothing sent: no wait
    r = await client.hx_post("/t/survey/sms/code", {"mobile": fake_mobile()})  # unknown number: same answer
    assert 'data-sms-sent="60"' in r.text


async def test_upload_limits_script_is_on_every_page(client):
    page = await client.get("/t/survey/signin")
    assert '<script src="/static/core/js/uploads.js" defer></script>' in page.text
    script = await client.get("/static/core/js/uploads.js")
    assert script.status_code == 200 and "data-max-bytes" in script.text
