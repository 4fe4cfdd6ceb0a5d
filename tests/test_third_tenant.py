"""The third tenant, ``tests/fixtures/xs_tenant_acme``: a tenant installed as its own package (a
path dependency of the dev group), found through the ``xueshi`` entry point, that brings its own
sign-in (employee number + password), theme, English catalogue and language, menu and certificate
fields through the generic hooks — no core code names it. docs/plugins.md walks through writing it.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import io
import json
import re
from pathlib import Path

import pypdf
import pytest
from PIL import Image

from core.accounts.tables import Account
from core.audit.tables import AuditEntry
from core.certificates.fields import CertificateField
from core.certificates.tables import Certificate
from core.hookspecs import hookimpl
from core.db.scoped import scoped
from core.kernel import build_platform
from core.roster.tables import LearnerProfile
from core.tenancy import TenantSpec
from core.tenants.tables import TenantRow
from tests.certificate_helpers import approved_enrolment, pdf_text
import xs_tenant_acme
from xs_tenant_acme.signin import BAD_NUMBER

TOKENS = "/static/themes/acme_green/static/tokens.css"
PHOTO_SIZE = (90, 120)  # the portrait's pixels: found again among the PDF's images
_numbers = iter(range(10_000, 99_999))


def employee_number() -> str:
    return f"T{next(_numbers)}"


async def employee(platform, make_account, role: str = "learner", **fields):
    number = employee_number()
    account, password = await make_account("acme", role=role, username=number, real_name="钱员工", **fields)
    return account, password, number


def test_acme_is_an_installed_distribution_with_an_entry_point():
    """Installed (not on a test's path): its distribution names the entry point xueshi loads."""
    dist = importlib.metadata.distribution("xs-tenant-acme")
    assert [(e.name, e.value) for e in dist.entry_points if e.group == "xueshi"] == [("acme", "xs_tenant_acme")]
    assert "acme" in {e.name for e in importlib.metadata.entry_points(group="xueshi")}


async def test_acme_arrives_through_the_entry_point_group_and_is_onboarded(client, platform):
    acme = platform.tenants.get("acme")
    assert acme is not None and acme.id is not None
    assert acme.spec.language == "en" and acme.section("acme").company == "艾克美机械有限公司"
    row = await TenantRow.objects().where(TenantRow.slug == "acme").first()
    assert row.name == "艾克美机械培训中心" and json.loads(row.hosts) == ["acme.example.test"]
    r = await client.get("/", headers={"host": "acme.example.test"})
    assert r.status_code == 200 and "艾克美机械培训中心" in r.text


async def test_an_employee_signs_in_with_the_employee_number(client, platform, make_account):
    account, password, number = await employee(platform, make_account)
    r = await client.get("/t/acme/signin")
    assert 'name="username"' in r.text and "Employee number" in r.text
    assert 'name="id_number"' not in r.text and 'name="mobile"' not in r.text  # the core's methods are not offered
    assert (await client.signin("acme", "employee", "wrong-Passw0rd", username=number)).status_code == 400
    r = await client.signin("acme", "employee", password, username=f"  {number.lower()} ")  # trimmed, any case
    assert r.status_code == 303
    r = await client.get("/t/acme/me")
    assert r.status_code == 200 and account.real_name in r.text


async def test_a_malformed_employee_number_is_refused_at_its_field(client):
    r = await client.signin("acme", "employee", "Passw0rd-1", username="工号<script>")
    assert r.status_code == 400
    # At its field, in the tenant's English (its own catalogue translates the plugin's message).
    assert '<p class="error" role="alert">An employee number has 2 to 32 letters, digits or dashes</p>' in r.text
    assert BAD_NUMBER not in r.text
    await client.get("/t/acme/signin?lang=zh_CN")  # a visitor who picks Chinese (remembered) reads it in Chinese
    r = await client.signin("acme", "employee", "Passw0rd-1", username="工号<script>")
    assert f'<p class="error" role="alert">{BAD_NUMBER}</p>' in r.text


async def test_the_employee_number_signs_in_to_acme_only(client, platform, make_account):
    """The same number and password are no account in another tenant (which has no such method)."""
    account, password, number = await employee(platform, make_account)
    assert (await client.post(f"/t/survey/signin/employee", {"username": number, "password": password})
            ).status_code == 404
    assert client.cookies.get("xs_survey") is None  # no session in the other tenant
    assert (await Account.objects().where(Account.id == account.id).first()).last_signin_at is None
    assert await AuditEntry.count().where(AuditEntry.actor == account.id) == 0


async def test_theme_dirs_serve_acmes_own_theme_on_its_pages_and_error_pages(client):
    r = await client.get("/t/acme/")
    assert f'<link rel="stylesheet" href="{TOKENS}">' in r.text
    assert "/static/themes/acme_green/static/logo.svg" in r.text
    css = await client.get(TOKENS)
    assert css.status_code == 200 and "--brand: #2e7d32" in css.text
    assert (await client.get("/static/themes/acme_green/static/logo.svg")).status_code == 200
    assert (await client.get("/static/themes/acme_green/templates/_footer.html")).status_code == 404  # static/ only
    footer = r.text.split('class="site-footer"')[1]
    assert "Employee job training" in footer  # the theme's own footer, in English from its catalogue
    missing = await client.get("/t/acme/no-such-page")
    assert missing.status_code == 404 and TOKENS in missing.text and "acme_green/static/logo.svg" in missing.text
    assert "acme_green" not in (await client.get("/t/survey/")).text


class ThemeClash:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def theme_dirs(self):
        return [("survey_blue", self.folder)]


class ThemeMissing:
    @hookimpl
    def tenant_declare(self):
        return TenantSpec(slug="nameless", name="无主题", name_en="No theme", theme="nowhere")


def test_theme_dirs_refuse_a_theme_name_twice_and_a_missing_theme(xs_settings, tmp_path):
    (tmp_path / "static").mkdir()
    with pytest.raises(ValueError, match="two themes are named 'survey_blue'"):
        build_platform(xs_settings, [ThemeClash(tmp_path)])
    with pytest.raises(ValueError, match="'nowhere', which no folder provides"):
        build_platform(xs_settings, [ThemeMissing()])


def test_a_tenant_language_must_be_one_the_platform_has():
    with pytest.raises(ValueError, match="language 'fr'"):
        TenantSpec(slug="x", name="x", name_en="x", language="fr")


async def test_acme_speaks_english_by_default_from_its_catalogue_and_the_cores(client):
    r = await client.get("/t/acme/verify")
    assert '<html lang="en">' in r.text
    assert "Check an Acme certificate" in r.text  # its catalogue rewords the core's message on its pages
    assert "Sign in" in r.text  # the core's catalogue for the rest
    r = await client.get("/t/acme/verify?lang=zh_CN")  # a visitor may still pick Chinese
    assert '<html lang="zh-CN">' in r.text and "证书查验" in r.text and "Check an Acme" not in r.text
    client.http.cookies.clear()
    other = await client.get("/t/construction/verify")  # other tenants keep zh-CN …
    assert '<html lang="zh-CN">' in other.text and "证书查验" in other.text
    other = await client.get("/t/construction/verify?lang=en")  # … and the core's English, not Acme's
    assert "Verify a certificate" in other.text and "Check an Acme" not in other.text
    client.http.cookies.clear()


async def test_menu_hidden_takes_the_sms_log_off_acmes_menu_only(client, platform, make_account):
    admin, password, number = await employee(platform, make_account, role="tenant_admin")
    assert (await client.signin("acme", "employee", password, username=number)).status_code == 303
    page = await client.get("/t/acme/me?lang=zh_CN")
    menu = page.text.split('<nav class="menu">')[1].split("</nav>")[0]
    assert 'href="/t/acme/admin/jobs"' in menu and "/admin/sms" not in menu
    assert (await client.get("/t/acme/admin/sms")).status_code == 200  # hidden from the menu, still there
    client.http.cookies.clear()
    other, other_password = await make_account("construction", role="tenant_admin")
    assert (await client.signin("construction", "id", other_password, id_number=other.id_number)).status_code == 303
    menu = (await client.get("/t/construction/me")).text.split('<nav class="menu">')[1].split("</nav>")[0]
    assert 'href="/t/construction/admin/sms"' in menu
    client.http.cookies.clear()


def _jpeg(size: tuple[int, int]) -> bytes:
    image = Image.new("RGB", size, (200, 160, 120))
    for x in range(size[0]):
        image.putpixel((x, x % size[1]), (20, 40, 60))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


async def _portrait(platform, tenant, account, size=PHOTO_SIZE) -> int:
    stored = await platform.storage.save(_jpeg(size), tenant_id=tenant.id, kind="portrait", media_type="image/jpeg",
                                         owner_id=account.id)
    profile = await scoped(LearnerProfile, tenant).objects(LearnerProfile.account == account.id).first()
    if profile is None:
        now = dt.datetime.now(dt.UTC)
        profile = scoped(LearnerProfile, tenant).new(account=account.id, real_name=account.real_name,
                                                      created_at=now, updated_at=now)
    profile.portrait = stored.id
    await profile.save()
    return stored.id


def _image_sizes(pdf: bytes) -> set[tuple[int, int]]:
    return {(img.image.width, img.image.height) for page in pypdf.PdfReader(io.BytesIO(pdf)).pages
            for img in page.images}


async def _issued_pdf(client, platform, make_account, *, with_photo: bool = True, **fields):
    number = employee_number()
    tenant, account, password, enrollment = await approved_enrolment(
        platform, make_account, "acme", name="孙装配", username=number, **fields)
    if with_photo:
        await _portrait(platform, tenant, account)
    assert (await client.signin("acme", "employee", password, username=number)).status_code == 303
    assert (await client.post(f"/t/acme/certificates/{enrollment.id}")).status_code in (200, 303)
    r = await client.get(f"/t/acme/certificates/{enrollment.id}/pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    certificate = await scoped(Certificate, tenant).objects(Certificate.enrollment == enrollment.id).first()
    client.http.cookies.clear()
    return tenant, account, certificate, r.content


async def test_certificate_fields_print_the_company_and_the_photo_and_verify_shows_the_company(
        client, platform, make_account):
    tenant, account, certificate, pdf = await _issued_pdf(client, platform, make_account)
    text = re.sub(r"\s+", "", pdf_text(pdf))
    assert "所属公司艾克美机械有限公司" in text and "照片" in text
    assert PHOTO_SIZE in _image_sizes(pdf)  # the portrait, beside the QR code
    assert json.loads(certificate.fields) == [{"label": "所属公司", "value": "艾克美机械有限公司"}]  # the photo is not kept
    code = certificate.code
    page = await client.get(f"/t/acme/verify/{code}")  # public, in Acme's English
    assert page.status_code == 200
    facts = page.text.split('class="facts"')[1]
    assert "<dt>Company</dt><dd>艾克美机械有限公司</dd>" in facts
    assert "data:image" not in page.text and "Photo" not in facts  # the photo is never on the public page
    page = await client.get(f"/t/acme/verify/{code}?lang=zh_CN")
    assert "<dt>所属公司</dt><dd>艾克美机械有限公司</dd>" in page.text
    client.http.cookies.clear()


async def test_certificate_fields_without_a_portrait_print_no_photo(client, platform, make_account):
    _, _, certificate, pdf = await _issued_pdf(client, platform, make_account, with_photo=False)
    assert "艾克美机械有限公司" in pdf_text(pdf)
    assert PHOTO_SIZE not in _image_sizes(pdf) and "照片" not in pdf_text(pdf)


async def test_certificate_fields_never_print_another_persons_image(client, platform, make_account, monkeypatch):
    """A field naming a stored image that is not the holder's own (a bug, or another learner's
    portrait id) prints nothing."""
    tenant = platform.tenants.get("acme")
    someone, _, _ = await employee(platform, make_account)
    foreign = await _portrait(platform, tenant, someone, size=(70, 100))
    original = xs_tenant_acme.certificate_fields

    async def with_foreign_photo(tenant, certificate, account):
        return [*await original(tenant, certificate, account), CertificateField("他人照片", image_file=foreign)]

    hooks = platform.hooks(tenant)
    impl = next(i for i in hooks.certificate_fields.get_hookimpls() if i.plugin is xs_tenant_acme)
    monkeypatch.setattr(impl, "function", with_foreign_photo)
    _, _, _, pdf = await _issued_pdf(client, platform, make_account, with_photo=False)
    assert (70, 100) not in _image_sizes(pdf) and "他人照片" not in pdf_text(pdf)
