"""The core's pages speak neutral Chinese; a tenant plugin brings its organisation's words. The
construction group's guide says 打印证书, 证书更新 and its own 面部识别的温馨提醒: its Chinese
catalogue (plugins/construction_group/locale/zh_CN) and its face-check template give them on its
pages only, and the core's words stay on the other tenants' (the face tests' tenant here)."""

from __future__ import annotations

import pytest

from certificate_helpers import approved_enrolment, pdf_text, sign_in
from test_proctoring import learner
from tests.face_tenant import FACE, FaceTenant

GUIDE_TIPS = ("面部与摄像头采集区域尽量保持平视", "注意环境的光线不要过明或过暗", "听到动作提示语后在 3 秒钟内匀速完成指定动作",
              "保证网络通畅")
NEUTRAL_TIPS = ("请正对摄像头，画面中只出现本人", "请在光线适中的地方核验", "按屏幕上的提示完成指定动作")


@pytest.fixture
def xs_plugins():
    return [FaceTenant()]  # a tenant of the core's words, with certificates and face checks


async def _certificate_pages(client, platform, make_account, slug: str) -> dict[str, str]:
    """The learner's pages of one tenant, before and after the certificate, and while not eligible."""
    _, account, password, enrollment = await approved_enrolment(platform, make_account, slug)
    _, waiting, waiting_password, pending = await approved_enrolment(platform, make_account, slug, status="review")
    client.http.cookies.clear()
    await sign_in(client, slug, account, password)
    pages = {"study": (await client.get(f"/t/{slug}/study")).text,
             "before": (await client.get(f"/t/{slug}/certificates/{enrollment.id}")).text}
    assert (await client.post(f"/t/{slug}/certificates/{enrollment.id}")).status_code == 303
    pages["after"] = (await client.get(f"/t/{slug}/certificates/{enrollment.id}")).text
    pdf = await client.get(f"/t/{slug}/certificates/{enrollment.id}/pdf?download=true")
    assert pdf.status_code == 200
    pages["pdf"] = pdf_text(pdf.content).replace(" ", "")
    pages["hours"] = (await client.get(f"/t/{slug}/hours")).text
    client.http.cookies.clear()
    await sign_in(client, slug, waiting, waiting_password)
    r = await client.post(f"/t/{slug}/certificates/{pending.id}")
    assert r.status_code == 409
    pages["refused"] = r.text
    return pages


async def test_certificate_buttons_are_the_construction_guides_words_there_and_neutral_elsewhere(
        client, platform, make_account):
    built = await _certificate_pages(client, platform, make_account, "construction")
    assert "打印证书" in built["study"] and "打印证书" in built["before"]
    assert "可点击【打印证书】查看或下载学时证明" in built["before"]
    assert ">证书更新</button>" in built["after"] and "点击【证书更新】，系统将自动生成电子证书，同时原证书作废" in built["after"]
    assert "学时审核通过后才可打印证书" in built["refused"]  # a message from Python, reworded too
    assert not any("获取证书" in page or "重新生成证书" in page for page in built.values())
    assert "继续教育学时证明" in built["pdf"] and "岗位继续教育，经审核合格" in built["pdf"]
    assert "上报住建部培训管理信息系统" in built["hours"]

    neutral = await _certificate_pages(client, platform, make_account, FACE)
    assert "获取证书" in neutral["study"] and ">获取证书</button>" in neutral["before"]
    assert ">重新生成证书</button>" in neutral["after"]
    assert "学时审核通过后才可获取证书" in neutral["refused"]
    assert not any("打印证书" in page or "证书更新" in page for page in neutral.values())
    assert "培训学时证明" in neutral["pdf"] and "岗位培训，经审核合格" in neutral["pdf"]
    assert "上报主管部门的培训管理系统" in neutral["hours"]
    assert "继续教育" not in neutral["pdf"] and not any("住建部" in page for page in neutral.values())


async def test_face_check_tips_are_the_construction_guides_there_and_neutral_elsewhere(client, platform,
                                                                                       make_account):
    await learner(platform, make_account, client, slug="construction")
    page = (await client.get("/t/construction/face/check")).text
    assert all(tip in page for tip in GUIDE_TIPS) and not any(tip in page for tip in NEUTRAL_TIPS)
    assert "拍照识别" in page
    client.http.cookies.clear()
    await learner(platform, make_account, client, slug=FACE)
    page = (await client.get(f"/t/{FACE}/face/check")).text
    assert all(tip in page for tip in NEUTRAL_TIPS) and not any(tip in page for tip in GUIDE_TIPS)
    assert "拍照识别" not in page and "开始核验" in page
