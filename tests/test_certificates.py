"""Hours certificates: the PDF (text, glyphs, QR code), storage, eligibility, renewal and its
atomicity, and the public verification page (masking, rate limits)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import textwrap

import pytest

from certificate_helpers import approved_enrolment, ink, missing_glyphs, pdf_text, pdf_to_png, sign_in
from core.certificates import fonts, services
from core.certificates.tables import Certificate
from core.courses.tables import Course
from core.db.scoped import scoped
from core.files.tables import StoredFile


async def _issued(platform, make_account, **kw):
    tenant, account, password, enrollment = await approved_enrolment(platform, make_account, **kw)
    cert = await services.issue(platform, platform.hooks(tenant), tenant, enrollment)
    return tenant, account, password, enrollment, cert


async def test_pdf_holds_name_hours_code_and_a_qr_code_to_the_verification_url(client, platform, make_account):
    import cv2

    tenant, account, password, enrollment = await approved_enrolment(platform, make_account, name="欧阳明华",
                                                                     hours=32.0)
    await sign_in(client, "construction", account, password)
    page = await client.get(f"/t/construction/study")
    assert f'/certificates/{enrollment.id}"' in page.text and "打印证书" in page.text
    r = await client.post(f"/t/construction/certificates/{enrollment.id}")
    assert r.status_code == 303
    pdf = await client.get(f"/t/construction/certificates/{enrollment.id}/pdf?download=true")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert "attachment" in pdf.headers["content-disposition"]
    cert = await services.current(tenant, enrollment.id)
    text = pdf_text(pdf.content)
    assert "欧阳明华" in text and "32" in text and services.display_code(cert.code) in text
    assert cert.number in text and "资料员" in text and tenant.name in text
    assert account.id_number not in text and account.id_number[-4:] in text  # masked ID only
    assert "继续教育学时证明" in text.replace(" ", "")
    # Stored with its hash; a second download is the same bytes.
    assert hashlib.sha256(pdf.content).hexdigest() == cert.sha256
    again = await client.get(f"/t/construction/certificates/{enrollment.id}/pdf")
    assert again.content == pdf.content
    stored = await scoped(StoredFile, tenant).get(cert.file)
    assert stored.sha256 == cert.sha256 and stored.kind == "certificate"
    # The QR code decodes to the public verification URL.
    png = pdf_to_png(pdf.content, dpi=200)
    value, points, _ = cv2.QRCodeDetector().detectAndDecode(cv2.imread(str(png)))
    assert value == services.verify_url(platform, tenant, cert.code)
    assert value.endswith(f"/verify/{cert.code}") and value.startswith("http://construction.xueshi.local")
    assert missing_glyphs(pdf.content) == []


async def test_theme_layout_differs_between_tenants(platform, make_account):
    _, _, _, _, red = await _issued(platform, make_account)
    survey, account, _, enrollment = await approved_enrolment(platform, make_account, "survey")
    blue = await services.issue(platform, platform.hooks(survey), survey, enrollment)
    from core.certificates.render import certificate_html
    from core.certificates.render import CertificateView

    view = CertificateView("张三", "1101**********1234", "资料员", 2026, "32", "机构", "2026年01月01日", "N1", "C", "http://x/v")
    red_html = await certificate_html(platform.templates, platform.tenants.get("construction"), view)
    blue_html = await certificate_html(platform.templates, survey, view)
    assert "#b3261e" in red_html and "#1f5fa8" in blue_html
    assert red.number.startswith("CONS") and blue.number.startswith("SURV")


async def test_rare_name_characters_render_without_missing_glyph_boxes(platform, make_account):
    """䶮 (Ext A) and 𠀾 (Ext B) are outside the shipped subset: they fall back to an installed
    CJK font glyph by glyph; nothing is a box or a blank."""
    assert 0x4DAE not in fonts.covered() and 0x2003E not in fonts.covered()
    if not (fonts.system_covers("䶮") and fonts.system_covers("𠀾")):
        from core.testing.browser import in_ci

        if in_ci():
            pytest.fail("CI installs fonts-noto-cjk (.ci/run), which draws 䶮 and 𠀾")
        pytest.skip("no installed CJK font draws 䶮 and 𠀾 (apt-get install fonts-noto-cjk)")
    tenant, _, _, _, rare = await _issued(platform, make_account, name="刘岩䶮𠀾")
    rare_pdf = await services.pdf_bytes(platform, tenant, rare)
    assert missing_glyphs(rare_pdf) == []
    assert "刘岩䶮𠀾" in pdf_text(rare_pdf)
    # Each of the two extra characters adds ink (×2: the name is printed twice): not blanks. The
    # two documents differ in the name alone (an issued one's random code and QR code would move
    # the ink more than two characters do). The fallback face fontconfig picks varies, and with
    # it the ink: a small bound, not a face's.
    from core.certificates.render import CertificateView, certificate_html, render_pdf

    def view(name: str) -> CertificateView:
        return CertificateView(name, "110105********1234", "资料员", 2026, "32", tenant.name, "2026年11月26日",
                               "CONS20260000001-01", "ABCD-EFGH-JKMN-PQRS", "http://construction.xueshi.local/verify/X")

    plain_png, rare_png = [pdf_to_png(await render_pdf(await certificate_html(platform.templates, tenant, view(n))))
                           for n in ("刘岩", "刘岩䶮𠀾")]
    assert ink(rare_png) > ink(plain_png) + 2 * 2 * 10


FRESH = textwrap.dedent("""
    import asyncio, sys
    from core.certificates import render
    from core.certificates.render import CertificateView
    from core.templating import Templates
    class T:
        slug = "construction"; name = "北京建工培训中心"
    html = asyncio.run(render.certificate_html(Templates({"construction": []}, [], {"construction": "construction_red"}),
        T(), CertificateView(sys.argv[1], "110105********1234", "资料员", 2026, "32", "北京建工培训中心",
        "2026年11月26日", "CONS20260000001-01", "ABCD-EFGH-JKMN-PQRS", "http://construction.xueshi.local/verify/X")))
    sys.stdout.buffer.write(render.html_to_pdf(html))
""")


def _render_without_system_fonts(tmp_path, name: str) -> bytes:
    """Render in a process whose fontconfig knows no font at all (a fresh machine)."""
    conf = tmp_path / "fonts.conf"
    conf.write_text(f'<?xml version="1.0"?><fontconfig><cachedir>{tmp_path}/fc</cachedir></fontconfig>')
    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
    out = subprocess.run([sys.executable, "-c", FRESH, name], capture_output=True, env=env, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    return out.stdout


def test_chinese_renders_from_the_shipped_font_alone(tmp_path):
    pdf = _render_without_system_fonts(tmp_path, "欧阳明华")
    text = pdf_text(pdf)
    assert "欧阳明华" in text and "学时证明" in text.replace(" ", "") and "北京建工培训中心" in text
    assert missing_glyphs(pdf) == []


def test_a_character_no_font_has_becomes_the_missing_character_mark_not_a_box(tmp_path):
    pdf = _render_without_system_fonts(tmp_path, "王𠀾")
    text = pdf_text(pdf)
    assert "王〓" in text and "学时证明" in text.replace(" ", "")
    assert missing_glyphs(pdf) == []


def test_the_shipped_font_is_the_recorded_one_and_small():
    data = fonts.FONT_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == fonts.expected_sha256()
    assert len(data) < 3 * 1024 * 1024
    assert (fonts.FONT_DIR / "OFL.txt").read_text().count("SIL OPEN FONT LICENSE Version 1.1") == 1
    assert {ord(c) for c in "继续教育学时证明资料员施工员质量员验证码"} <= fonts.covered()


async def test_only_an_approved_enrolment_gets_a_certificate(client, platform, make_account):
    tenant, account, password, enrollment = await approved_enrolment(platform, make_account, status="review")
    await sign_in(client, "construction", account, password)
    assert f"/certificates/{enrollment.id}" not in (await client.get("/t/construction/study")).text
    r = await client.post(f"/t/construction/certificates/{enrollment.id}")
    assert r.status_code == 409 and "学时审核通过后才可打印证书" in r.text
    assert (await client.get(f"/t/construction/certificates/{enrollment.id}/pdf")).status_code == 404
    assert await scoped(Certificate, tenant).count(Certificate.enrollment == enrollment.id) == 0


async def test_the_exam_gate_refuses_until_the_exam_is_passed(client, platform, make_account):
    """施工员 needs the online exam (the construction rules' ``exam.positions``): an approved
    enrolment prints no certificate until a passing attempt exists; a failed one is not enough."""
    import datetime as dt

    from core.exams.tables import ExamAttempt

    tenant, account, password, enrollment = await approved_enrolment(platform, make_account, position_name="施工员")
    await sign_in(client, "construction", account, password)
    assert "打印证书" not in (await client.get("/t/construction/study")).text
    r = await client.post(f"/t/construction/certificates/{enrollment.id}")
    assert r.status_code == 409 and "在线考核合格后才可打印证书" in r.text
    course = await Course.objects().where(Course.id == enrollment.course).first()
    now = dt.datetime.now(dt.UTC)

    async def attempt(number: int, score: int) -> None:
        await ExamAttempt(tenant=tenant.id, account=account.id, enrollment=enrollment.id, course=course.id,
                          position=course.position, year=course.year, number=number, status="submitted",
                          started_at=now, deadline=now, submitted_at=now, submitted_by="learner",
                          score_centi=score, passed=score >= 6000).save()

    await attempt(1, 5800)
    assert (await client.post(f"/t/construction/certificates/{enrollment.id}")).status_code == 409
    await attempt(2, 6000)
    assert "打印证书" in (await client.get("/t/construction/study")).text
    assert (await client.post(f"/t/construction/certificates/{enrollment.id}")).status_code == 303
    assert await services.current(tenant, enrollment.id) is not None


async def test_renewal_voids_the_old_certificate_and_verification_shows_the_chain(client, platform, make_account):
    tenant, account, password, enrollment, old = await _issued(platform, make_account)
    await sign_in(client, "construction", account, password)
    r = await client.post(f"/t/construction/certificates/{enrollment.id}/renew")
    assert r.status_code == 303
    new = await services.current(tenant, enrollment.id)
    assert new.id != old.id and new.number != old.number and new.code != old.code and new.revision == 2
    old = await scoped(Certificate, tenant).get(old.id)
    assert old.status == "void" and old.replaced_by == new.id and old.voided_at is not None
    page = await client.get(f"/t/construction/verify/{old.code}")
    assert page.status_code == 200 and "已作废" in page.text and f"已由 <b class=\"successor\">{new.number}</b> 替代" in page.text
    live = await client.get(f"/t/construction/verify/{new.code}")
    assert "证书有效" in live.text and old.number in live.text
    # The download now is the new certificate.
    pdf = await client.get(f"/t/construction/certificates/{enrollment.id}/pdf")
    assert new.number in pdf_text(pdf.content)


async def test_two_concurrent_renewals_make_one_new_certificate(platform, make_account):
    tenant, _, _, enrollment, old = await _issued(platform, make_account)
    hooks = platform.hooks(tenant)
    a, b = await asyncio.gather(services.renew(platform, hooks, tenant, old), services.renew(platform, hooks, tenant, old))
    assert a.id == b.id
    rows = await scoped(Certificate, tenant).objects(Certificate.enrollment == enrollment.id)
    assert len(rows) == 2
    assert sorted(r.status for r in rows) == ["valid", "void"]
    # The loser's PDF was not left behind: one certificate file per certificate.
    files = await scoped(StoredFile, tenant).count((StoredFile.kind == "certificate") &
                                                    StoredFile.id.is_in([r.file for r in rows]))
    assert files == 2


async def test_concurrent_first_issues_make_one_certificate(platform, make_account):
    tenant, _, _, enrollment = await approved_enrolment(platform, make_account)
    hooks = platform.hooks(tenant)
    results = await asyncio.gather(*(services.issue(platform, hooks, tenant, enrollment) for _ in range(3)))
    assert len({r.id for r in results}) == 1
    assert await scoped(Certificate, tenant).count(Certificate.enrollment == enrollment.id) == 1


async def test_verification_never_shows_the_full_id_number(client, platform, make_account):
    tenant, account, _, _, cert = await _issued(platform, make_account, name="张三丰")
    r = await client.get(f"/t/construction/verify/{cert.code}")
    assert r.status_code == 200 and "证书有效" in r.text
    assert account.id_number not in r.text and "张三丰" not in r.text and "张**" in r.text
    assert account.id_number[:6] + "********" + account.id_number[-4:] in r.text
    # The form, with the code typed in lower case with dashes, finds it too.
    typed = services.display_code(cert.code).lower()
    assert "证书有效" in (await client.get(f"/t/construction/verify?code={typed}")).text
    # No sign-in needed, and the other tenant does not know the code.
    assert (await client.get(f"/t/survey/verify/{cert.code}")).status_code == 404


def test_codes_are_not_guessable():
    codes = {services.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == 16 and set(c) <= set(services.CODE_ALPHABET) for c in codes)
    assert len(services.CODE_ALPHABET) ** services.CODE_LENGTH >= 2 ** 80
    assert services.normalize_code("abcd-efgh-jkmn-pqrs") == "ABCDEFGHJKMNPQRS"
    assert services.normalize_code("' OR 1=1 --") is None and services.normalize_code("") is None


async def test_guessing_codes_is_rate_limited_under_concurrency(client, platform, make_account):
    _, _, _, _, cert = await _issued(platform, make_account)
    limit = platform.counters["verify_unknown"].limit
    guesses = [services.new_code() for _ in range(limit * 3)]
    answers = await asyncio.gather(*(client.get(f"/t/construction/verify/{g}") for g in guesses))
    codes = [a.status_code for a in answers]
    assert codes.count(404) == limit and codes.count(429) == len(guesses) - limit
    assert "查询过于频繁" in answers[codes.index(429)].text
    # Once over the limit, even a valid code gets no answer from that address.
    assert (await client.get(f"/t/construction/verify/{cert.code}")).status_code == 429


async def test_the_verification_page_has_a_form(client):
    r = await client.get("/t/construction/verify")
    assert r.status_code == 200 and 'name="code"' in r.text and "证书查验" in r.text


async def test_isolation_probe_objects_are_reachable_in_their_own_tenant(client, platform, make_account):
    """Positive control for the certificate probes: the learner reaches their own certificate
    page and its code verifies in its own tenant (so the probes' 404s are about the tenant)."""
    from isolation_probes import Ctx, _certified

    enrollment, cert = await _certified(Ctx(platform, make_account), "construction")
    from core.accounts.tables import Account

    account = await Account.objects().where(Account.id == enrollment.account).first()
    await sign_in(client, "construction", account, "Passw0rd-1")
    page = await client.get(f"/t/construction/certificates/{enrollment.id}")
    assert page.status_code == 200 and cert.number in page.text
    assert (await client.get(f"/t/construction/verify/{cert.code}")).status_code == 200


async def test_lookups_of_valid_codes_are_rate_limited_too(client, platform, make_account):
    _, _, _, _, cert = await _issued(platform, make_account)
    # A hostile "code" is just an unknown one: a clear page, escaped, never a server error.
    r = await client.get("/t/construction/verify?code=" + "%3Cscript%3Ealert(1)%3C/script%3E" * 3)
    assert r.status_code == 404 and "<script>alert" not in r.text and "未找到该验证码对应的证书" in r.text
    limit = platform.counters["verify_client"].limit
    answers = await asyncio.gather(*(client.get(f"/t/construction/verify/{cert.code}") for _ in range(limit + 5)))
    codes = [a.status_code for a in answers]
    assert codes.count(200) == limit - 1 and codes.count(429) == 6  # the hostile look-up counted too


async def test_a_certificate_file_gone_from_disk_is_a_404_page_not_a_server_error(client, platform, make_account):
    tenant, account, password, enrollment, cert = await _issued(platform, make_account)
    stored = await StoredFile.objects().where(StoredFile.id == cert.file).first()
    platform.storage._path(stored.key).unlink()  # lost or purged outside the app
    await sign_in(client, "construction", account, password)
    r = await client.get(f"/t/construction/certificates/{enrollment.id}/pdf")
    assert r.status_code == 404 and "页面不存在" in r.text
