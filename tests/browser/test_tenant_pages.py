"""Both tenants in headless Chromium through the real forms, as the demo prints them.

Screenshots of each learner's home page (desktop 1280 px and phone 375 px) go to
docs/screenshots/. Fixtures: core/testing/browser.py.
"""

from __future__ import annotations

import re

import pytest

from core.testing.browser import screenshot

pytestmark = pytest.mark.browser

SURVEY = "示范勘察设计协会培训中心"
CONSTRUCTION = "示范建工集团培训中心"
SURVEY_LEARNER = {"mobile": "13600136000", "password": "Learner-2026", "name": "孙学员"}
CONSTRUCTION_LEARNER = {"initial": "111111", "new": "Learner-2026a"}
CJK = re.compile(r"[\u4e00-\u9fff]")


async def _sign_in_survey(page, root: str) -> None:
    await page.goto(f"{root}/signin")
    await page.fill("input[name=mobile]", SURVEY_LEARNER["mobile"])
    await page.fill("input[name=password]", SURVEY_LEARNER["password"])
    await page.click("form button[type=submit]")
    await page.wait_for_url(re.compile(r"/me(\?|$)"))


async def _new_construction_learner(live_server, name: str) -> str:
    """A learner of its own for each test that needs one (imported, with the tenant's initial
    password still to change), so no test depends on what another did; returns the ID number."""
    from core.accounts.services import upsert_account
    from core.testing.ids import fake_id_number

    id_number = fake_id_number()
    await upsert_account(live_server.app.state.platform.tenants.get("construction"), role="learner",
                         password=CONSTRUCTION_LEARNER["initial"], real_name=name, id_number=id_number,
                         must_change_password=True)
    return id_number


async def _change_initial_password(page, root: str, id_number: str) -> None:
    await _sign_in_construction(page, root, id_number, CONSTRUCTION_LEARNER["initial"])
    await page.wait_for_url(re.compile(r"/password\?first=1$"))
    await page.fill("input[name=current]", CONSTRUCTION_LEARNER["initial"])
    await page.fill("input[name=new]", CONSTRUCTION_LEARNER["new"])
    await page.fill("input[name=again]", CONSTRUCTION_LEARNER["new"])
    await page.click("form.form button")
    await page.wait_for_url(re.compile(r"/me/archive\?changed=1$"))


async def _sign_in_construction(page, root: str, id_number: str, password: str) -> None:
    await page.goto(f"{root}/signin")
    await page.fill("input[name=id_number]", id_number)
    await page.fill("input[name=password]", password)
    await page.click("form button[type=submit]")


async def _header_colour(page) -> str:
    return await page.eval_on_selector(".site-header", "el => getComputedStyle(el).backgroundColor")


async def _no_horizontal_scroll(page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"page is {width} px wide at 375 px: horizontal scrolling on phones"


async def _shows_tenant_in_chinese(page, tenant_name: str) -> None:
    header = await page.inner_text(".site-header")
    assert tenant_name in header
    assert await page.get_attribute("html", "lang") == "zh-CN"
    body = await page.inner_text("body")
    assert len(CJK.findall(body)) > 10, body


async def test_survey_learner_home(live_server, new_page):
    root = live_server.url("/t/survey")
    desktop = await new_page(1280, 800)
    await _sign_in_survey(desktop, root)
    await _shows_tenant_in_chinese(desktop, SURVEY)
    assert SURVEY_LEARNER["name"] in await desktop.inner_text("main")
    body = await desktop.inner_text("body")
    assert "13600136000" not in body and "136****6000" in body  # the phone number is masked
    await screenshot(desktop, "survey-learner-home-desktop")

    phone = await new_page(375, 740)
    await _sign_in_survey(phone, root)
    await _no_horizontal_scroll(phone)
    await screenshot(phone, "survey-learner-home-phone")


async def test_construction_learner_changes_initial_password_then_sees_home(live_server, new_page):
    root = live_server.url("/t/construction")
    name = "钱学员"
    id_number = await _new_construction_learner(live_server, name)
    desktop = await new_page(1280, 800)
    await _sign_in_construction(desktop, root, id_number, CONSTRUCTION_LEARNER["initial"])
    await desktop.wait_for_url(re.compile(r"/password\?first=1$"))
    assert "首次登录请修改初始密码" in await desktop.inner_text("main")
    # Any other page sends the learner back to the password form.
    await desktop.goto(f"{root}/me")
    assert desktop.url.endswith("/password?first=1")
    # A weak new password is refused at its field, in Chinese.
    await desktop.fill("input[name=current]", CONSTRUCTION_LEARNER["initial"])
    await desktop.fill("input[name=new]", "abcdefgh")
    await desktop.fill("input[name=again]", "abcdefgh")
    await desktop.click("form.form button")
    assert "密码需同时包含字母和数字" in await desktop.inner_text(".field.has-error")
    await desktop.fill("input[name=current]", CONSTRUCTION_LEARNER["initial"])
    await desktop.fill("input[name=new]", CONSTRUCTION_LEARNER["new"])
    await desktop.fill("input[name=again]", CONSTRUCTION_LEARNER["new"])
    await desktop.click("form.form button")
    await desktop.wait_for_url(re.compile(r"/me/archive\?changed=1$"))  # first change: 我的档案
    await _shows_tenant_in_chinese(desktop, CONSTRUCTION)
    main = await desktop.inner_text("main")
    assert "密码已修改" in main and name in main
    assert id_number not in await desktop.content()  # masked on the page
    await desktop.goto(f"{root}/me")
    await screenshot(desktop, "construction-learner-home-desktop")

    phone = await new_page(375, 740)
    await _sign_in_construction(phone, root, id_number, CONSTRUCTION_LEARNER["new"])
    await phone.wait_for_url(re.compile(r"/me$"))
    await _no_horizontal_scroll(phone)
    await screenshot(phone, "construction-learner-home-phone")


async def test_the_initial_password_no_longer_works_after_the_change(live_server, new_page):
    # Its own learner, who changes the initial password first (no test relies on another's change).
    root = live_server.url("/t/construction")
    id_number = await _new_construction_learner(live_server, "李学员")
    page = await new_page()
    await _change_initial_password(page, root, id_number)
    page = await new_page()
    await _sign_in_construction(page, root, id_number, CONSTRUCTION_LEARNER["initial"])
    assert "账号或密码错误" in await page.inner_text("main")
    assert page.url.endswith("/signin/id")


async def test_the_two_tenants_look_different(live_server, new_page):
    page = await new_page()
    colours, logos = {}, {}
    for slug in ("survey", "construction"):
        await page.goto(live_server.url(f"/t/{slug}/signin"))
        colours[slug] = await _header_colour(page)
        logos[slug] = await page.get_attribute(".site-header img.logo", "src")
        assert await page.eval_on_selector(".site-header img.logo", "img => img.naturalWidth") > 0
    assert colours["survey"] != colours["construction"], colours
    assert logos["survey"] != logos["construction"], logos
    await page.goto(live_server.url("/t/survey/signin"))
    assert SURVEY in await page.inner_text(".site-header")
    await page.goto(live_server.url("/t/construction/signin"))
    assert CONSTRUCTION in await page.inner_text(".site-header")


@pytest.mark.parametrize("path", ["/t/survey/", "/t/survey/signin", "/t/construction/", "/t/construction/signin"])
async def test_public_pages_fit_a_phone_and_load_nothing_from_elsewhere(live_server, new_page, path):
    page = await new_page(375, 740)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    await page.goto(live_server.url(path))
    await _no_horizontal_scroll(page)
    # htmx comes from our static files (learners' networks may block CDNs), and it is running.
    assert await page.evaluate("typeof window.htmx") == "object"
    assert live_server.url("/static/core/vendor/htmx.min.js") in requested
    elsewhere = [url for url in requested if not url.startswith((live_server.base_url, "data:"))]
    assert not elsewhere, elsewhere


async def test_english_switch_changes_the_sign_in_button(live_server, new_page):
    page = await new_page()
    await page.goto(live_server.url("/t/survey/signin"))
    assert (await page.inner_text("form button[type=submit]")).strip() == "登录"
    await page.click("a.lang")
    await page.wait_for_url(re.compile(r"lang=en"))
    assert (await page.inner_text("form button[type=submit]")).strip() == "Sign in"
    assert await page.get_attribute("html", "lang") == "en"
    await page.click("a.lang")  # and back to Chinese
    assert (await page.inner_text("form button[type=submit]")).strip() == "登录"


async def test_survey_by_host_name(live_server, new_page):
    page = await new_page()
    root = live_server.host_url("survey", "")
    await page.goto(root + "/")
    assert SURVEY in await page.inner_text(".site-header")
    await _sign_in_survey(page, root)
    assert page.url == live_server.host_url("survey", "/me")
    assert SURVEY_LEARNER["name"] in await page.inner_text("main")
    # The other tenant's host does not know this session (cookies and sessions are per tenant).
    await page.goto(live_server.host_url("construction", "/me"))
    assert "/signin" in page.url


_BROKEN_CELLS = """() => {
  const cells = [...document.querySelectorAll('table.data td')]
    .filter(td => /^[0-9*Xx:\\-]{8,}$/.test(td.innerText.trim()));  // dates, ID numbers, mobiles
  const lines = td => { const r = document.createRange(); r.selectNodeContents(td);
    return new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top))).size; };
  return {checked: cells.length, broken: cells.filter(td => lines(td) > 1).map(td => td.innerText)};
}"""


async def test_tables_keep_dates_and_id_numbers_on_one_line_on_a_phone(live_server, new_page):
    """Issue 8 #15: at 375 px a date or a masked ID number was one character per line; now such a
    cell stays on one line and a wide table scrolls inside its own box, never the page."""
    root = live_server.url("/t/survey")
    page = await new_page(375, 740)
    await page.goto(f"{root}/signin")
    await page.fill("input[name=mobile]", "13700137000")  # the demo company's administrator
    await page.fill("input[name=password]", "Company-2026")
    await page.click("form button[type=submit]")
    await page.wait_for_url(lambda url: "/signin" not in url)
    checked = 0
    for path in ("/company/learners", "/company/certificates", "/company/certificates/confirmed"):
        await page.goto(root + path)
        await _no_horizontal_scroll(page)
        cells = await page.evaluate(_BROKEN_CELLS)
        assert not cells["broken"], (path, cells["broken"])
        checked += cells["checked"]
    assert checked >= 3  # the demo's roster and certificates have such cells
