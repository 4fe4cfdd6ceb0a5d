"""企业管理员实名认证 and the staff's approval, through the real pages."""

from core.accounts.tables import Account, Enterprise
from core.audit.tables import AuditEntry
from core.testing.ids import fake_id_number, fake_mobile
from plugins.survey_association.tables import CompanyCertification
from plugins.survey_association.tests._company_helpers import credit_code, jpeg, last_code

CERTIFY = "/t/survey/enterprise/certify"


def _form(**over):
    form = {"name": "某某勘察测绘有限公司", "credit_code": credit_code(), "address": "某市某区某路 8 号",
            "admin_name": "李管理", "id_number": fake_id_number(), "mobile": fake_mobile(),
            "password": "Company-2027", "password_again": "Company-2027"}
    form.update(over)
    return form


async def _submit(client, form, licence=None, with_code=True):
    await client.get(CERTIFY)
    if with_code:
        r = await client.hx_post(f"{CERTIFY}/code", {"mobile": form["mobile"]})
        assert "验证码已发送" in r.text, r.text
        form.setdefault("code", await last_code(form["mobile"]))
    files = {"licence": ("licence.jpg", licence if licence is not None else jpeg(), "image/jpeg")}
    return await client.post(CERTIFY, form, files=files)


async def test_certify_then_staff_approves_then_admin_signs_in(client, tenant, make_account):
    form = _form()
    r = await _submit(client, form)
    assert r.status_code == 303 and r.headers["location"] == "/t/survey/enterprise?submitted=1"
    t = tenant("survey")
    enterprise = await Enterprise.objects().where(
        (Enterprise.tenant == t.id) & (Enterprise.credit_code == form["credit_code"])).first()
    applied = await CompanyCertification.objects().where(CompanyCertification.enterprise == enterprise.id).first()
    assert applied.tenant == t.id and applied.status == "pending" and applied.licence is not None
    admin = await Account.objects().where((Account.tenant == t.id) & (Account.mobile == form["mobile"])).first()
    assert admin.role == "enterprise_admin" and admin.active is False and admin.enterprise == enterprise.id
    # Pending: sign-in refuses, the entry page's status check says why.
    r = await client.signin("survey", "mobile", form["password"], mobile=form["mobile"])
    assert r.status_code == 400
    r = await client.post("/t/survey/enterprise/status", {"mobile": form["mobile"], "password": form["password"]})
    assert r.status_code == 200 and "待审核" in r.text
    # Staff approve.
    staff, pw = await make_account("survey", role="tenant_admin")
    assert (await client.signin("survey", "mobile", pw, mobile=staff.mobile)).status_code == 303
    page = await client.get("/t/survey/staff/enterprises")
    assert page.status_code == 200 and form["name"] in page.text
    assert form["id_number"] not in page.text and form["mobile"] not in page.text  # masked
    lic = await client.get(f"/t/survey/staff/enterprises/{enterprise.id}/licence")
    assert lic.status_code == 200 and lic.headers["content-type"].startswith("image/jpeg")
    r = await client.post(f"/t/survey/staff/enterprises/{enterprise.id}/approve")
    assert r.status_code == 303
    await applied.refresh()
    assert applied.status == "approved" and applied.decided_by == staff.id and applied.decided_at is not None
    await client.post("/t/survey/signout")
    r = await client.signin("survey", "mobile", form["password"], mobile=form["mobile"])
    assert r.status_code == 303
    assert (await client.get("/t/survey/company/learners")).status_code == 200
    assert await AuditEntry.count().where(
        (AuditEntry.action == "enterprise.approved") & (AuditEntry.object_id == str(enterprise.id))) == 1


async def test_rejected_applicant_sees_the_reason_and_may_apply_again(client, tenant, make_account):
    form = _form()
    assert (await _submit(client, form)).status_code == 303
    t = tenant("survey")
    enterprise = await Enterprise.objects().where(
        (Enterprise.tenant == t.id) & (Enterprise.credit_code == form["credit_code"])).first()
    staff, pw = await make_account("survey", role="tenant_admin")
    await client.signin("survey", "mobile", pw, mobile=staff.mobile)
    r = await client.post(f"/t/survey/staff/enterprises/{enterprise.id}/reject", {"reason": ""})
    assert r.status_code == 400 and "请填写驳回原因" in r.text
    r = await client.post(f"/t/survey/staff/enterprises/{enterprise.id}/reject", {"reason": "营业执照照片不清晰"})
    assert r.status_code == 303
    await client.post("/t/survey/signout")
    r = await client.post("/t/survey/enterprise/status", {"mobile": form["mobile"], "password": form["password"]})
    assert "未通过" in r.text and "营业执照照片不清晰" in r.text
    r = await client.post("/t/survey/enterprise/status", {"mobile": form["mobile"], "password": "Wrong-2027"})
    assert r.status_code == 400 and "营业执照照片不清晰" not in r.text
    # Apply again with the same code and mobile: the same rows go back to pending.
    again = _form(credit_code=form["credit_code"], mobile=form["mobile"], id_number=form["id_number"])
    assert (await _submit(client, again)).status_code == 303
    applied = await CompanyCertification.objects().where(CompanyCertification.enterprise == enterprise.id)
    assert len(applied) == 1 and applied[0].status == "pending" and applied[0].reject_reason == ""
    assert applied[0].decided_at is None and applied[0].decided_by is None
    assert await Enterprise.count().where(Enterprise.credit_code == form["credit_code"]) == 1


async def test_bad_credit_code_and_bad_id_number_are_shown_at_their_fields(client):
    code = credit_code()
    bad_check = code[:17] + ("0" if code[17] != "0" else "1")
    r = await _submit(client, _form(credit_code=bad_check, id_number="110105199001011231"), with_code=False)
    assert r.status_code == 400
    assert "统一社会信用代码校验位不正确" in r.text and "身份证号校验位不正确" in r.text
    r = await _submit(client, _form(credit_code="91110000ABC"), with_code=False)
    assert r.status_code == 400 and "统一社会信用代码应为18位" in r.text


async def test_wrong_sms_code_is_refused_and_nothing_is_created(client, tenant):
    form = _form()
    real = None
    await client.get(CERTIFY)
    await client.hx_post(f"{CERTIFY}/code", {"mobile": form["mobile"]})
    real = await last_code(form["mobile"])
    form["code"] = "000000" if real != "000000" else "111111"
    r = await _submit(client, form, with_code=False)
    assert r.status_code == 400 and "验证码不正确" in r.text
    assert await Enterprise.count().where(Enterprise.credit_code == form["credit_code"]) == 0


async def test_licence_must_be_a_real_image_of_limited_size(client):
    r = await _submit(client, _form(), licence=b"%PDF-1.4 not an image", with_code=False)
    assert r.status_code == 400 and "不是有效的图片" in r.text
    # One photo up to 15 MB (a phone's, resized on the server); over it, the limit at the field.
    r = await _submit(client, _form(), licence=b"\xff\xd8" + b"0" * (15 * 1024 * 1024 + 10), with_code=False)
    assert r.status_code == 400 and "图片过大，请上传不超过 15 MB 的图片" in r.text


async def test_taken_credit_code_is_refused(client, tenant):
    form = _form()
    assert (await _submit(client, form)).status_code == 303
    r = await _submit(client, _form(credit_code=form["credit_code"]))  # with a valid code of its own
    assert r.status_code == 400 and "该企业已提交认证或已通过认证" in r.text


def _shape(html: str) -> str:
    import re

    html = re.sub(r'name="_csrf_token" value="[^"]*"', "", html)
    return re.sub(r'"x-csrftoken": "[^"]*"', "", html)


async def test_without_the_sms_code_taken_and_free_details_get_the_same_answer(client, tenant, make_account):
    """Issue 8 #7: whether a credit code, mobile or ID number is registered is told only after
    the mobile's SMS code is verified."""
    form = _form()
    assert (await _submit(client, form)).status_code == 303
    holder, _ = await make_account("survey")
    taken = _form(credit_code=form["credit_code"], mobile=form["mobile"], id_number=holder.id_number)
    free = _form()
    answers = []
    for probe in (taken, free):
        probe = {**probe, "mobile": probe["mobile"], "code": "000000"}
        await client.hx_post(f"{CERTIFY}/code", {"mobile": probe["mobile"]})
        r = await _submit(client, probe, with_code=False)
        # The fields the form echoes back differ; the verdict and everything else must not.
        text = r.text
        for key in ("name", "credit_code", "address", "admin_name", "id_number", "mobile"):
            text = text.replace(str(probe[key]), "")
        answers.append((r.status_code, _shape(text)))
    assert answers[0][0] == 400 and "验证码不正确" in answers[0][1]
    assert "已注册" not in answers[0][1] and "已提交认证" not in answers[0][1]
    assert answers[0] == answers[1]


async def test_staff_pages_are_not_for_company_admins_nor_other_tenants(client, tenant, make_account):
    admin, pw = await make_account("survey", role="enterprise_admin")
    await client.signin("survey", "mobile", pw, mobile=admin.mobile)
    assert (await client.get("/t/survey/staff/enterprises")).status_code == 404
    assert (await client.get("/t/construction/enterprise")).status_code == 404


async def test_entry_is_linked_and_pending_company_is_told_waiting_not_wrong_password(client, tenant):
    """Issue 8 #11: 企业管理员入口 was linked from nowhere; a pending company's administrator was told
    the password was wrong (counted toward lockout) instead of 待审核."""
    for page in ("/t/survey/", "/t/survey/signin"):
        r = await client.get(page)
        assert r.status_code == 200 and 'href="/t/survey/enterprise"' in r.text, page
    form = _form()
    assert (await _submit(client, form)).status_code == 303
    for _ in range(8):  # more than the lockout threshold: the right password never counts
        r = await client.signin("survey", "mobile", form["password"], mobile=form["mobile"])
        assert r.status_code == 400 and "待审核" in r.text, r.text[-2000:]
        assert "密码错误" not in r.text and "还可尝试" not in r.text and "锁定" not in r.text
    r = await client.signin("survey", "mobile", "Wrong-2027", mobile=form["mobile"])
    assert r.status_code == 400 and "账号或密码错误" in r.text and "待审核" not in r.text
    # By SMS code: the code proves the mobile, so the status is told (not "尚未注册").
    r = await client.hx_post("/t/survey/sms/code", {"mobile": form["mobile"]})
    assert 'data-sms-sent' in r.text
    r = await client.post("/t/survey/signin/sms", {"mobile": form["mobile"], "code": await last_code(form["mobile"])})
    assert r.status_code == 400 and "待审核" in r.text and "尚未注册" not in r.text, r.text[-1500:]
    t = tenant("survey")
    enterprise = await Enterprise.objects().where(
        (Enterprise.tenant == t.id) & (Enterprise.credit_code == form["credit_code"])).first()
    await CompanyCertification.update({CompanyCertification.status: "rejected"}).where(
        CompanyCertification.enterprise == enterprise.id)
    r = await client.signin("survey", "mobile", form["password"], mobile=form["mobile"])
    assert r.status_code == 400 and "未通过" in r.text
    await CompanyCertification.update({CompanyCertification.status: "approved"}).where(
        CompanyCertification.enterprise == enterprise.id)
    await Account.update({Account.active: True}).where(
        (Account.tenant == t.id) & (Account.mobile == form["mobile"]))
    assert (await client.signin("survey", "mobile", form["password"], mobile=form["mobile"])).status_code == 303


async def test_company_pages_need_the_associations_approval_not_just_an_active_admin(client, tenant, make_account):
    """An active administrator whose company never applied, or is pending or rejected, gets 404
    on every company page; approving that company opens them."""
    t = tenant("survey")
    company = Enterprise(tenant=t.id, name="未认证测试企业", credit_code=credit_code())
    await company.save()
    admin, password = await make_account("survey", role="enterprise_admin", enterprise_id=company.id)
    assert (await client.signin("survey", "mobile", password, mobile=admin.mobile)).status_code == 303
    assert (await client.get("/t/survey/company/learners")).status_code == 404  # never applied
    applied = CompanyCertification(tenant=t.id, enterprise=company.id, status="pending")
    await applied.save()
    for status in ("pending", "rejected"):
        await CompanyCertification.update({CompanyCertification.status: status}).where(
            CompanyCertification.id == applied.id)
        assert (await client.get("/t/survey/company/learners")).status_code == 404, status
    await CompanyCertification.update({CompanyCertification.status: "approved"}).where(
        CompanyCertification.id == applied.id)
    assert (await client.get("/t/survey/company/learners")).status_code == 200
