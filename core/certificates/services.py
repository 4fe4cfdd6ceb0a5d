"""Issuing, renewing and verifying hours certificates (学时证明).

Eligibility is one function, ``eligibility``: the enrolment's review is approved
(``Enrollment.status == "approved"``) and the exam is cleared where the position needs one
(``core.exams.eligibility.exam_cleared``, decided by the tenant's ``exam_policy``).

Issuing and renewing are atomic through the unique key (tenant, enrollment, revision): the next
revision is rendered first (off the event loop), then inserted, in one transaction with the
conditional void of the old one (``UPDATE … WHERE status = 'valid' RETURNING``). Of two
concurrent renewals one inserts; the other finds the old certificate already void (or the
revision taken), rolls back, deletes the PDF it rendered and returns the winner's certificate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any


from core.accounts.tables import Account
from core.certificates.fields import certificate_fields, kept_fields
from core.certificates.render import CertificateView, certificate_html, render_pdf
from core.certificates.tables import Certificate
from core.courses.tables import Course, Enrollment, Position
from core.db import write_transaction
from core.db.scoped import scoped
from core.exams.eligibility import exam_cleared
from core.files.tables import StoredFile
from core.hookcalls import Hooks, notify, resolve
from core.identity import mask_id_number, mask_name
from core.study.services import hours as credited_hours
from core import tenant_time
from core.tenancy import Tenant

log = logging.getLogger("xueshi.certificates")
# Verification codes: 16 characters of Crockford's base 32 (no I, L, O, U): 80 random bits.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
STATUS_LABELS = {"valid": "有效", "void": "已作废"}


class NotEligible(Exception):
    """The enrolment may not have a certificate (yet); the message says why, in Chinese."""


@dataclass(frozen=True)
class Eligibility:
    ok: bool
    reason: str = ""


async def eligibility(hooks: Hooks, tenant: Tenant, enrollment: Enrollment) -> Eligibility:
    """The one rule for a certificate: review approved, and the exam cleared where needed."""
    if enrollment.status != "approved":
        return Eligibility(False, "学时审核通过后才可获取证书")
    if not await exam_cleared(tenant, enrollment, hooks):
        return Eligibility(False, "在线考核合格后才可获取证书")
    return Eligibility(True)


# --- numbers, codes, URLs --------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str | None:
    """A code as typed (any case, spaces or dashes, O for 0, I/L for 1) → canonical, or None."""
    raw = "".join(ch for ch in (text or "").upper() if ch not in " -\u3000")
    raw = raw.replace("O", "0").replace("I", "1").replace("L", "1")
    if len(raw) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in raw):
        return None
    return raw


def display_code(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def default_number(tenant: Tenant, enrollment: Enrollment, course: Course, revision: int) -> str:
    """The core's certificate number: tenant, year, enrolment and revision — unique per tenant
    because (enrolment, revision) is."""
    return f"{tenant.slug[:4].upper()}{course.year}{enrollment.id:07d}-{revision:02d}"


def verify_path(code: str) -> str:
    return f"/verify/{code}"


def verify_url(platform: Any, tenant: Tenant, code: str) -> str:
    """The public verification address printed on the certificate and in its QR code: the
    tenant's first host name when it has one, else the platform's public URL with /t/<slug>."""
    scheme = "https" if platform.settings.cookie_secure else "http"
    if tenant.spec.hosts:
        return f"{scheme}://{tenant.spec.hosts[0]}{verify_path(code)}"
    base = (getattr(platform.settings, "public_url", "") or "http://localhost:8000").rstrip("/")
    return f"{base}/t/{tenant.slug}{verify_path(code)}"


# --- issuing ---------------------------------------------------------------------------------


async def _facts(tenant: Tenant, enrollment: Enrollment) -> tuple[Account, Course, str, float]:
    account = await scoped(Account, tenant).get(enrollment.account)
    course = await scoped(Course, tenant).get(enrollment.course)
    if account is None or course is None:
        raise NotEligible("找不到该培训记录")
    position = await scoped(Position, tenant).get(course.position)
    hours = min(credited_hours(tenant, enrollment.credited_seconds), float(course.required_hours))
    return account, course, position.name if position else "", hours


def hours_text(value: float) -> str:
    return f"{float(value):.2f}".rstrip("0").rstrip(".")




async def current(tenant: Tenant, enrollment_id: int) -> Certificate | None:
    """The enrolment's valid certificate, if one was issued."""
    return await scoped(Certificate, tenant).objects(
        (Certificate.enrollment == enrollment_id) & (Certificate.status == "valid")).order_by(
        Certificate.revision, ascending=False).first()


async def _latest(tenant: Tenant, enrollment_id: int) -> Certificate | None:
    return await scoped(Certificate, tenant).objects(Certificate.enrollment == enrollment_id).order_by(
        Certificate.revision, ascending=False).first()


async def _prepare(platform: Any, hooks: Hooks, tenant: Tenant, enrollment: Enrollment,
                   revision: int) -> tuple[Certificate, bytes]:
    """The next certificate row (unsaved) and its PDF."""
    account, course, position, hours = await _facts(tenant, enrollment)
    number = await resolve(hooks.cert_number(tenant=tenant, enrollment=enrollment, course=course,
                                             revision=revision))
    if not number:
        number = default_number(tenant, enrollment, course, revision)
    code = new_code()
    now = dt.datetime.now(dt.UTC)
    row = scoped(Certificate, tenant).new(
        enrollment=enrollment.id, account=account.id, revision=revision, number=str(number)[:64], code=code,
        status="valid", holder_name=(account.real_name or "")[:64], id_masked=mask_id_number(account.id_number),
        position=position[:64], year=course.year, hours=hours, institution=tenant.name[:200], issued_at=now)
    fields, row.fields = await certificate_fields(platform, hooks, tenant, row, account)
    view = CertificateView(
        holder_name=row.holder_name, id_masked=row.id_masked, position=row.position, year=row.year,
        hours=hours_text(hours), institution=row.institution, issued_on=tenant_time.document_date(now, tenant_time.zone(tenant)),
        number=row.number, code=display_code(code), verify_url=verify_url(platform, tenant, code),
        course_title=course.title, fields=fields)
    html = await certificate_html(platform.templates, tenant, view)
    return row, await render_pdf(html)


async def _store(platform: Any, tenant: Tenant, row: Certificate, pdf: bytes):
    stored = await platform.storage.save(pdf, tenant_id=tenant.id, kind="certificate", media_type="application/pdf",
                                         owner_id=row.account)
    row.file, row.sha256 = stored.id, stored.sha256
    return stored


async def _insert(platform: Any, tenant: Tenant, row: Certificate, stored: Any, void_id: int | None) -> bool:
    """Insert ``row`` (and void ``void_id``) in one transaction; False when another request won."""
    try:
        async with write_transaction(Certificate):
            if void_id is not None:
                voided = await scoped(Certificate, tenant).update(
                    {Certificate.status: "void", Certificate.voided_at: dt.datetime.now(dt.UTC)}
                ).where((Certificate.id == void_id) & (Certificate.status == "valid")).returning(Certificate.id)
                if not voided:
                    raise _Lost()
            await row.save()
            if void_id is not None:
                await scoped(Certificate, tenant).update({Certificate.replaced_by: row.id}).where(
                    Certificate.id == void_id)
        return True
    except _Lost:
        pass
    except Exception as exc:  # the unique (tenant, enrollment, revision) key: another insert won
        if not _is_unique_violation(exc):
            await platform.storage.delete(stored)
            raise
    await platform.storage.delete(stored)
    return False


class _Lost(Exception):
    pass


def _is_unique_violation(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return "unique" in text or "duplicate" in text


async def issue(platform: Any, hooks: Hooks, tenant: Tenant, enrollment: Enrollment) -> Certificate:
    """The enrolment's valid certificate: the one already issued, or a new one (revision 1, or
    the next after a voided one). Raises ``NotEligible``. Concurrent calls make one."""
    found = await current(tenant, enrollment.id)
    if found is not None:
        return found
    verdict = await eligibility(hooks, tenant, enrollment)
    if not verdict.ok:
        raise NotEligible(verdict.reason)
    latest = await _latest(tenant, enrollment.id)
    row, pdf = await _prepare(platform, hooks, tenant, enrollment, (latest.revision + 1) if latest else 1)
    stored = await _store(platform, tenant, row, pdf)
    if await _insert(platform, tenant, row, stored, None):
        await notify(hooks.cert_issued, tenant=tenant, certificate=row, replaced=None)
        return row
    found = await current(tenant, enrollment.id)
    if found is None:
        raise NotEligible("证书正在生成，请稍后刷新")
    return found


async def renew(platform: Any, hooks: Hooks, tenant: Tenant, certificate: Certificate) -> Certificate:
    """重新生成证书: a new certificate (new number and code) for the same enrolment; the old one is
    voided in the same transaction. Renewing a void certificate returns its live successor."""
    if certificate.status != "valid":
        found = await current(tenant, certificate.enrollment)
        if found is None:
            raise NotEligible("该证书已作废")
        return found
    enrollment = await scoped(Enrollment, tenant).get(certificate.enrollment)
    if enrollment is None:
        raise NotEligible("找不到该培训记录")
    verdict = await eligibility(hooks, tenant, enrollment)
    if not verdict.ok:
        raise NotEligible(verdict.reason)
    row, pdf = await _prepare(platform, hooks, tenant, enrollment, certificate.revision + 1)
    stored = await _store(platform, tenant, row, pdf)
    if await _insert(platform, tenant, row, stored, certificate.id):
        certificate.status, certificate.replaced_by = "void", row.id
        await notify(hooks.cert_issued, tenant=tenant, certificate=row, replaced=certificate)
        return row
    found = await current(tenant, certificate.enrollment)
    if found is None:
        raise NotEligible("证书正在更新，请稍后刷新")
    return found


async def pdf_bytes(platform: Any, tenant: Tenant, certificate: Certificate) -> bytes:
    """The stored PDF, exactly as issued (its SHA-256 is checked against the certificate's)."""
    stored = await scoped(StoredFile, tenant).get(certificate.file)
    if stored is None:
        raise FileNotFoundError("certificate file missing")
    data = await platform.storage.read(stored)
    if hashlib.sha256(data).hexdigest() != certificate.sha256:
        raise RuntimeError(f"certificate {certificate.id}: stored file does not match its SHA-256")
    return data


# --- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What the public page shows of a certificate: masked, never the full ID number."""

    status: str
    number: str
    name_masked: str
    id_masked: str
    position: str
    year: int
    hours: str
    institution: str
    issued_on: str
    voided_on: str
    replaced_by: str  # the successor's certificate number (已由 … 替代), or ""
    replaces: str  # the predecessor's number, or ""
    fields: tuple[tuple[str, str], ...] = ()  # the plugins' public fields as issued: (label, value)


async def verify(tenant: Tenant, code: str) -> Verification | None:
    row = await scoped(Certificate, tenant).objects(Certificate.code == code).first()
    if row is None:
        return None
    successor = await scoped(Certificate, tenant).get(row.replaced_by) if row.replaced_by else None
    if successor is not None:  # follow the chain to the live one
        for _ in range(50):
            if successor.replaced_by is None:
                break
            nxt = await scoped(Certificate, tenant).get(successor.replaced_by)
            if nxt is None:
                break
            successor = nxt
    previous = await scoped(Certificate, tenant).objects(Certificate.replaced_by == row.id).first()
    id_masked = row.id_masked if "*" in row.id_masked else mask_id_number(row.id_masked)
    return Verification(
        status=row.status, number=row.number, name_masked=mask_name(row.holder_name), id_masked=id_masked,
        position=row.position, year=row.year, hours=hours_text(row.hours), institution=row.institution,
        issued_on=tenant_time.format_date(row.issued_at, tenant_time.zone(tenant)),
        voided_on=tenant_time.format_date(row.voided_at, tenant_time.zone(tenant)),
        replaced_by=successor.number if successor else "", replaces=previous.number if previous else "",
        fields=kept_fields(row))


async def printable_enrolments(hooks: Hooks, tenant: Tenant, enrolments: list[Enrollment]) -> set[int]:
    """The ids of ``enrolments`` whose certificate may be printed (the 获取证书 button)."""
    return {e.id for e in enrolments if (await eligibility(hooks, tenant, e)).ok}
