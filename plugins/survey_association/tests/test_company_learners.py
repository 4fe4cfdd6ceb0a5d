"""学员管理: single registration, notify, details, and who may see which entry."""

from core.identity import mask_mobile
from core.audit.tables import AuditEntry
from core.notify.tables import Notification
from core.roster.tables import RosterEntry
from core.testing.ids import fake_id_number, fake_mobile
from core.testing.pytest_plugin import shared_dir
from plugins.survey_association.tables import RosterConfirmation
from plugins.survey_association.tests._company_helpers import company, jpeg, signed_in_admin


async def _add(client, **over):
    form = {"real_name": "王勘察", "id_number": fake_id_number(), "mobile": fake_mobile(), "position": "勘察员"}
    form.update(over)
    return form, await client.post("/t/survey/company/learners/new", form)


async def test_single_registration_and_each_error_at_its_field(client, tenant, make_account):
    enterprise, _ = await signed_in_admin(client, tenant("survey"), make_account)
    form, r = await _add(client)
    assert r.status_code == 303
    entry = await RosterEntry.objects().where(
        (RosterEntry.enterprise == enterprise.id) & (RosterEntry.id_number == form["id_number"])).first()
    assert entry.status == "pending" and entry.position == "勘察员"
    page = await client.get("/t/survey/company/learners")
    assert "王勘察" in page.text and "未加入" in page.text
    assert form["id_number"] not in page.text and form["mobile"] not in page.text
    cases = [
        ({"real_name": ""}, "姓名不能为空"),
        ({"id_number": "110105199001011231"}, "身份证号校验位不正确"),
        ({"id_number": form["id_number"]}, "该身份证号已在本企业学员名单中"),
        ({"mobile": "12345"}, "手机号格式不正确"),
        ({"position": "厨师"}, "不在可选岗位中"),
        ({"position": ""}, "请选择岗位"),  # a list to choose from, not a cell to fill in (issue 8 #15)
    ]
    before = await RosterEntry.count().where(RosterEntry.enterprise == enterprise.id)
    for over, message in cases:
        _, r = await _add(client, **over)
        assert r.status_code == 400 and message in r.text, (over, r.text[-2000:])
        assert 'has-error' in r.text
    assert await RosterEntry.count().where(RosterEntry.enterprise == enterprise.id) == before


async def test_person_on_another_company_roster_is_refused(client, tenant, make_account):
    t = tenant("survey")
    other = await company(t)
    id_number = fake_id_number()
    await RosterEntry(tenant=t.id, enterprise=other.id, real_name="赵某", id_number=id_number).save()
    await signed_in_admin(client, t, make_account)
    _, r = await _add(client, id_number=id_number)
    assert r.status_code == 400 and "已被其他企业登记" in r.text


async def test_notify_one_and_all_selected(client, tenant, make_account):
    t = tenant("survey")
    enterprise, admin = await signed_in_admin(client, t, make_account)
    learner, _ = await make_account("survey", role="learner")
    a, _ = await _add(client)
    b, _ = await _add(client)
    c, _ = await _add(client, id_number=learner.id_number, mobile=learner.mobile)
    rows = {e.id_number: e for e in await RosterEntry.objects().where(RosterEntry.enterprise == enterprise.id)}
    await RosterEntry.update({RosterEntry.account: learner.id}).where(RosterEntry.id == rows[c["id_number"]].id)
    r = await client.post("/t/survey/company/learners/notify", {"entry_id": str(rows[a["id_number"]].id)})
    assert r.status_code == 303 and r.headers["location"].endswith("notified=1")
    sms = await Notification.objects().where(
        (Notification.recipient == a["mobile"]) & (Notification.channel == "sms")).first()
    assert sms is not None and sms.status == "recorded" and sms.template == "roster_added"
    assert "个人档案" in sms.body and enterprise.name in sms.body and sms.body.startswith("【勘察设计培训】")
    r = await client.post("/t/survey/company/learners/notify",
                          {"entry_id": [str(rows[b["id_number"]].id), str(rows[c["id_number"]].id)]})
    assert r.headers["location"].endswith("notified=2")
    assert await Notification.count().where(Notification.recipient == b["mobile"]) == 1
    inbox = await Notification.objects().where(
        (Notification.account == learner.id) & (Notification.channel == "inbox")).first()
    assert inbox is not None and enterprise.name in inbox.body
    notified = await RosterEntry.select(RosterEntry.notified_at).where(RosterEntry.enterprise == enterprise.id)
    assert all(n["notified_at"] is not None for n in notified)
    assert await AuditEntry.count().where(
        (AuditEntry.action == "roster.notified") & (AuditEntry.actor == admin.id)) == 2


async def test_notifying_again_warns_first_and_sends_only_when_confirmed(client, tenant, make_account):
    """Issue 8 #15: a repeat notification is not sent on the first click: the page names who was
    already notified and when, and sends only after 确认再次通知."""
    t = tenant("survey")
    enterprise, _ = await signed_in_admin(client, t, make_account)
    a, _ = await _add(client, real_name="甲勘察")
    b, _ = await _add(client)
    rows = {e.id_number: e for e in await RosterEntry.objects().where(RosterEntry.enterprise == enterprise.id)}
    first, second = rows[a["id_number"]], rows[b["id_number"]]
    r = await client.post("/t/survey/company/learners/notify", {"entry_id": str(first.id)})
    assert r.headers["location"].endswith("notified=1")

    async def sms_to(mobile):
        return await Notification.count().where((Notification.recipient == mobile) & (Notification.channel == "sms"))

    r = await client.post("/t/survey/company/learners/notify", {"entry_id": [str(first.id), str(second.id)]})
    assert r.status_code == 200 and 'id="repeat-warning"' in r.text
    assert "以下 1 名学员已经通知过" in r.text and a["real_name"] in r.text and "确认再次通知" in r.text
    assert await sms_to(a["mobile"]) == 1 and await sms_to(b["mobile"]) == 0  # nothing sent yet
    r = await client.post("/t/survey/company/learners/notify",
                          {"entry_id": [str(first.id), str(second.id)], "confirm_repeat": "1"})
    assert r.status_code == 303 and r.headers["location"].endswith("notified=2")
    assert await sms_to(a["mobile"]) == 2 and await sms_to(b["mobile"]) == 1


async def test_details_filled_by_the_company(client, tenant, make_account):
    enterprise, _ = await signed_in_admin(client, tenant("survey"), make_account)
    form, _ = await _add(client)
    entry = await RosterEntry.objects().where(
        (RosterEntry.enterprise == enterprise.id) & (RosterEntry.id_number == form["id_number"])).first()
    url = f"/t/survey/company/learners/{entry.id}"
    page = await client.get(url)
    assert page.status_code == 200 and "身份证人像面" in page.text and form["id_number"] not in page.text
    assert form["mobile"] not in page.text and mask_mobile(form["mobile"]) in page.text
    fields = {"real_name": "王勘察", "mobile": form["mobile"], "position": "测量员"}
    r = await client.post(url, fields, files={"id_front": ("a.txt", b"not an image", "image/jpeg")})
    assert r.status_code == 400 and "身份证人像面" in r.text and "不是有效的图片" in r.text
    files = {"id_front": ("f.jpg", jpeg(), "image/jpeg"), "id_back": ("b.jpg", jpeg(), "image/jpeg"),
             "photo": ("p.jpg", (shared_dir() / "faces" / "obama" / "obama_1.jpg").read_bytes(), "image/jpeg")}
    r = await client.post(url, fields, files=files)
    assert r.status_code == 303, r.text[-1500:]
    await entry.refresh()
    assert entry.id_front and entry.id_back and entry.photo and entry.position == "测量员"
    checks = await RosterConfirmation.objects().where(RosterConfirmation.entry == entry.id).first()
    assert checks.tenant == entry.tenant and checks.company_filled_at and checks.learner_confirmed_at is None
    assert "待学员确认" in (await client.get(url)).text
    # The field is empty on the page; submitting it empty keeps the mobile, a new one replaces it.
    r = await client.post(url, {"real_name": "王勘察", "mobile": "", "position": "测量员"})
    assert r.status_code == 303
    await entry.refresh()
    assert entry.mobile == form["mobile"]
    img = await client.get(f"{url}/files/id_front")
    assert img.status_code == 200 and img.headers["content-type"].startswith("image/jpeg")
    assert (await client.get(f"{url}/files/passport")).status_code == 404


async def test_another_company_entry_and_wrong_roles_get_404(client, tenant, make_account):
    t = tenant("survey")
    other = await company(t)
    foreign = RosterEntry(tenant=t.id, enterprise=other.id, real_name="外企业", id_number=fake_id_number())
    await foreign.save()
    await signed_in_admin(client, t, make_account)
    assert (await client.get(f"/t/survey/company/learners/{foreign.id}")).status_code == 404
    assert (await client.get(f"/t/survey/company/learners/{foreign.id}/files/id_front")).status_code == 404
    r = await client.post(f"/t/survey/company/learners/{foreign.id}", {"real_name": "改名", "position": "勘察员"})
    assert r.status_code == 404
    r = await client.post("/t/survey/company/learners/notify", {"entry_id": str(foreign.id)})
    assert r.status_code == 404
    assert await Notification.count().where(Notification.body.like("%外企业%")) == 0
    await client.post("/t/survey/signout")
    learner, pw = await make_account("survey", role="learner")
    await client.signin("survey", "mobile", pw, mobile=learner.mobile)
    for url in ("/t/survey/company/learners", "/t/survey/company/certificates", "/t/survey/company/learners/import",
                f"/t/survey/company/learners/{foreign.id}"):
        assert (await client.get(url)).status_code == 404, url
    await client.post("/t/survey/signout")
    r = await client.get("/t/survey/company/learners")
    assert r.status_code == 303 and "/signin" in r.headers["location"]
    # The construction tenant has no company pages at all.
    assert (await client.get("/t/construction/company/learners")).status_code == 404


async def test_company_photo_goes_through_the_portrait_gate(client, tenant, make_account):
    """Issue 8 #13: a two-person photo uploaded by the company was accepted as 证件照."""
    enterprise, _ = await signed_in_admin(client, tenant("survey"), make_account)
    form, _ = await _add(client)
    entry = await RosterEntry.objects().where(
        (RosterEntry.enterprise == enterprise.id) & (RosterEntry.id_number == form["id_number"])).first()
    url = f"/t/survey/company/learners/{entry.id}"
    fields = {"real_name": "王勘察", "mobile": form["mobile"], "position": "测量员"}
    faces = shared_dir() / "faces"
    for picture, reason in ((faces / "groups" / "two_people.jpg", "照片中有多张人脸"), (None, "未检测到人脸")):
        data = picture.read_bytes() if picture else jpeg((600, 800))
        r = await client.post(url, fields, files={"id_front": ("f.jpg", jpeg(), "image/jpeg"),
                                                  "photo": ("p.jpg", data, "image/jpeg")})
        assert r.status_code == 400 and "证件照不合格：" in r.text and reason in r.text, r.text[-1500:]
        await entry.refresh()
        assert entry.photo is None and entry.id_front is None  # nothing stored on refusal
    r = await client.post(url, fields, files={"photo": ("p.jpg", (faces / "obama" / "obama_1.jpg").read_bytes(),
                                                        "image/jpeg")})
    assert r.status_code == 303, r.text[-1500:]
    await entry.refresh()
    assert entry.photo


def _phone_photo(seed: int, size=(3000, 2250)) -> bytes:
    """A JPEG as large as a phone's (noise compresses badly): about 6 MB."""
    import io

    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=92)
    return out.getvalue()


async def test_two_phone_photos_fit_and_a_body_over_the_limit_is_told_in_chinese(client, tenant, make_account):
    """Issue 8 #10: two phone photos (~12 MB together) got Litestar's English JSON 413."""
    from core.files.limits import PHOTO_FORM_MAX_BODY

    enterprise, _ = await signed_in_admin(client, tenant("survey"), make_account)
    form, _ = await _add(client)
    entry = await RosterEntry.objects().where(
        (RosterEntry.enterprise == enterprise.id) & (RosterEntry.id_number == form["id_number"])).first()
    url = f"/t/survey/company/learners/{entry.id}"
    page = await client.get(url)
    assert 'data-max-bytes="15728640"' in page.text and "每张不超过 15 MB" in page.text  # the limit at the field
    assert f'data-max-body="{PHOTO_FORM_MAX_BODY}"' in page.text
    front, back = _phone_photo(1), _phone_photo(2)
    assert len(front) + len(back) > 10_500_000, len(front) + len(back)
    fields = {"real_name": "王勘察", "mobile": form["mobile"], "position": "测量员"}
    r = await client.post(url, fields, files={"id_front": ("f.jpg", front, "image/jpeg"),
                                              "id_back": ("b.jpg", back, "image/jpeg")})
    assert r.status_code == 303, r.text[-1500:]
    await entry.refresh()
    assert entry.id_front and entry.id_back  # stored, resized by the server
    r = await client.post(url, fields, files={"id_front": ("f.jpg", b"\xff" * (PHOTO_FORM_MAX_BODY + 1), "image/jpeg")})
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert "上传的文件太大" in r.text and "最多可上传 46 MB" in r.text and "每张照片不超过 15 MB" in r.text
    assert "Request Entity Too Large" not in r.text
