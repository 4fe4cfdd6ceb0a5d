"""The survey association's flow end to end in headless Chromium, through the real pages:

company certifies → staff approve → the company imports a roster (3 good rows, 2 bad) and sees
exactly the 2 errors → imports the good ones → notifies → the learner registers with mobile +
SMS code → enters the ID number in 个人档案 → sees the company's details → confirms → the
company's learner list shows "已加入".

Every step is photographed at 1280 px and 375 px into docs/screenshots/survey-<nn>-<step>-*.png.
The SMS codes are read from the notification table, where the demo SMS channel records them.
"""

from __future__ import annotations

import io
import re
import secrets

import pytest
from openpyxl import Workbook
from PIL import Image

from core.testing.browser import screenshot
from core.testing.ids import fake_credit_code, fake_id_number, fake_mobile

pytestmark = pytest.mark.browser

STAFF = {"mobile": "13900139000", "password": "Admin-2026"}


async def sms_code(mobile: str) -> str:
    # The outbox stores codes masked: the clear code comes from the recording channel's memory.
    from core.testing.sms import last_sms_code

    return await last_sms_code(mobile)


def credit_code() -> str:
    return fake_credit_code(secrets.randbelow(10**6))


def licence_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 420), (235, 225, 200)).save(out, format="PNG")
    return out.getvalue()


def roster_xlsx(good: list[tuple[str, str, str, str]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["姓名", "身份证号", "手机号", "岗位"])
    for row in good:
        ws.append(list(row))
    ws.append(["错号码", "110105199001011231", fake_mobile(), "勘察员"])  # wrong check character
    ws.append(["错岗位", fake_id_number(), fake_mobile(), "厨师"])  # not one of the tenant's positions
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


async def snap(page, nn: int, step: str, *, phone_check: bool = False) -> None:
    """Desktop and phone screenshots of the current page; optionally assert no sideways scroll."""
    await screenshot(page, f"survey-{nn:02d}-{step}-desktop")
    await page.set_viewport_size({"width": 375, "height": 740})
    await page.wait_for_timeout(100)
    await screenshot(page, f"survey-{nn:02d}-{step}-phone")
    if phone_check:
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{step}: page is {width} px wide at 375 px"
    await page.set_viewport_size({"width": 1280, "height": 800})


async def sign_in(page, root: str, mobile: str, password: str) -> None:
    await page.goto(f"{root}/signin")
    await page.fill("input[name=mobile]", mobile)
    await page.fill("input[name=password]", password)
    await page.click("form button[type=submit]")
    await page.wait_for_url(re.compile(r"/(me|admin/dashboard)(\?|$)"))  # the tenant admin: their work page (数据看板)


async def test_survey_company_to_learner_flow(live_server, new_page, tmp_path):
    root = live_server.url("/t/survey")
    tag = secrets.token_hex(2).upper()
    firm = f"示例测绘{tag}有限公司"
    admin_mobile, admin_password = fake_mobile(), "Company-2026"
    learner = ("陈勘察", fake_id_number(), fake_mobile(), "勘察员")
    others = [("林测量", fake_id_number(), fake_mobile(), "测量员"), ("何资料", fake_id_number(), fake_mobile(), "资料员")]

    # 0. The learner-facing home and sign-in pages (news columns, QR entry).
    home = await new_page(1280, 800)
    await home.goto(f"{root}/")
    for label in ("新闻动态", "通知公告", "政策法规", "报名通知"):
        assert await home.locator(f"h2:has-text('{label}')").count() == 1
    assert await home.locator("svg.segno").count() == 1
    await snap(home, 0, "home", phone_check=True)

    # 1. The company administrator certifies the company.
    company = await new_page(1280, 800)
    await company.goto(f"{root}/enterprise/certify")
    await company.fill("input[name=name]", firm)
    await company.fill("input[name=credit_code]", credit_code())
    await company.fill("input[name=address]", "示例市示例区测绘路 1 号")
    licence = tmp_path / "licence.png"
    licence.write_bytes(licence_png())
    await company.set_input_files("input[name=licence]", str(licence))
    await company.fill("input[name=admin_name]", "钱管理")
    await company.fill("input[name=id_number]", fake_id_number())
    await company.fill("input[name=mobile]", admin_mobile)
    await company.click("button:has-text('获取验证码')")
    await company.wait_for_selector("#sms-status .ok")
    await company.fill("input[name=code]", await sms_code(admin_mobile))
    await company.fill("input[name=password]", admin_password)
    await company.fill("input[name=password_again]", admin_password)
    await snap(company, 1, "certify")
    await company.click("button:has-text('提交认证')")
    await company.wait_for_url(re.compile(r"/enterprise\?submitted=1"))
    await snap(company, 2, "certified")

    # 2. Association staff approve it.
    staff = await new_page(1280, 800)
    await sign_in(staff, root, STAFF["mobile"], STAFF["password"])
    await staff.goto(f"{root}/staff/enterprises")
    row = staff.locator("tr", has_text=firm)
    await snap(staff, 3, "staff-review")
    await row.locator("button:has-text('通过')").click()
    await staff.wait_for_selector("text=已通过认证")
    await snap(staff, 4, "staff-approved")

    # 3. The company imports 5 rows: exactly the 2 bad ones are shown as errors.
    await sign_in(company, root, admin_mobile, admin_password)
    await company.goto(f"{root}/company/learners/import")
    sheet = tmp_path / "学员名单.xlsx"
    sheet.write_bytes(roster_xlsx([learner, *others]))
    await company.set_input_files("input[name=file]", str(sheet))
    await company.click("button:has-text('上传并预览')")
    await company.wait_for_selector("#preview-table")
    assert await company.locator("#preview-table tr.row-error").count() == 2
    summary = await company.inner_text("#preview-summary")
    assert "共 5 行" in summary and "正确 3 行" in summary and "错误 2 行" in summary
    errors = await company.locator("#preview-table tr.row-error").all_inner_texts()
    assert any("校验位" in e for e in errors) and any("岗位" in e for e in errors)
    await snap(company, 5, "import-preview")
    await company.check("input[name=skip_errors]")
    await company.click("button:has-text('确认导入')")
    await company.wait_for_load_state()
    await company.wait_for_selector("#import-progress[data-status=done]", timeout=30_000)
    await snap(company, 6, "import-done")

    # 4. The company notifies the learner.
    await company.goto(f"{root}/company/learners")
    entry = company.locator("tr", has_text=learner[0])
    assert "未加入" in await entry.inner_text()
    await entry.locator("input[name=entry_id]").check()
    await company.click("button:has-text('通知所选学员')")
    await company.wait_for_selector("text=已通知 1 名学员")
    await snap(company, 7, "notified")

    # 5. The learner registers with mobile + SMS code.
    phone = await new_page(1280, 800)
    await phone.goto(f"{root}/signin")
    assert await phone.locator("svg.segno").count() == 1
    await snap(phone, 8, "signin-qr", phone_check=True)
    await phone.click("a:has-text('注册')")
    await phone.wait_for_url(re.compile(r"/register$"))
    await phone.fill("input[name=mobile]", learner[2])
    await phone.click("button:has-text('获取验证码')")
    await phone.wait_for_selector("#sms-status .ok")
    await phone.fill("input[name=code]", await sms_code(learner[2]))
    await phone.fill("input[name=real_name]", learner[0])
    await phone.fill("input[name=password]", "Learner-2026")
    await phone.fill("input[name=again]", "Learner-2026")
    await snap(phone, 9, "register", phone_check=True)
    await phone.click("form button[type=submit]")
    await phone.wait_for_url(re.compile(r"/me/profile\?welcome=1"))
    await snap(phone, 10, "profile-identity", phone_check=True)

    # 6. 个人档案: the ID number finds the company's entry; the learner confirms.
    await phone.fill("input[name=id_number]", learner[1])
    await phone.click("button:has-text('下一步')")
    await phone.wait_for_selector("#roster-match")
    box = await phone.inner_text("#roster-match")
    assert firm in box and "勘察员" in box and learner[1] not in box
    await snap(phone, 11, "profile-match", phone_check=True)
    await phone.click("#roster-match button:has-text('确认')")
    await phone.wait_for_url(re.compile(r"joined=1"))
    assert firm in await phone.inner_text("#enterprise")
    assert "已加入" in await phone.inner_text("body")
    await snap(phone, 12, "profile-joined", phone_check=True)

    # 7. The company's list shows 已加入.
    await company.goto(f"{root}/company/learners")
    entry = company.locator("tr", has_text=learner[0])
    assert "已加入" in await entry.inner_text()
    for name, *_ in others:
        assert "未加入" in await company.locator("tr", has_text=name).inner_text()
    await snap(company, 13, "company-joined")
