"""Portrait checks: separate biometric consent, then the tenant's face provider's quality gate.

Choice (documented in docs/survey_association.md): without the consent tick the portrait is
still stored — a company may need it for the certificate — but no face processing runs on it;
the page says so. With consent, a Consent row records the exact text version and its SHA-256,
and the provider named by ``rules.face.match_provider`` checks the portrait if it declares the
QUALITY capability; a refused portrait is not stored and the reason is shown at the field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

import anyio

from core import (
    Capability,
    CapabilityError,
    Consent,
    FaceError,
    collect,
    compare_with_id_photo,
    decode_image,
    scoped,
    select_provider,
)

log = logging.getLogger("xueshi.survey.portrait")

CONSENT_KIND = "face"
CONSENT_VERSION = "survey-face-2026-1"
CONSENT_TEXT = (
    "本人同意培训中心对本人上传的个人证件照进行人脸检测和质量核验，并在后续学习过程中用于人脸比对，"
    "以确认是本人学习。人脸信息属于敏感个人信息，仅用于培训身份核验，不作他用；本人可随时撤回同意，"
    "撤回后将无法使用需要人脸核验的课程。"
)
CONSENT_SHA256 = hashlib.sha256(CONSENT_TEXT.encode()).hexdigest()


async def has_consent(tenant, account) -> bool:
    return await scoped(Consent, tenant).exists(
        (Consent.account == account.id) & (Consent.kind == CONSENT_KIND)
        & (Consent.text_version == CONSENT_VERSION) & Consent.withdrawn_at.is_null()
    )


async def record_consent(tenant, account) -> None:
    if await has_consent(tenant, account):
        return
    await scoped(Consent, tenant).new(account=account.id, kind=CONSENT_KIND, text_version=CONSENT_VERSION,
                  text_sha256=CONSENT_SHA256, granted_at=dt.datetime.now(dt.UTC)).save()


async def quality_provider(hooks, tenant):
    """The tenant's matching provider if it can judge portraits, else None (no face plugin)."""
    try:
        return select_provider(await collect(hooks.face_providers), tenant.rules.face.match_provider,
                               Capability.QUALITY)
    except CapabilityError:
        return None


async def portrait_problem(provider, data: bytes) -> str:
    """The provider's first Chinese reason for refusing the portrait, or "" when it is fine."""

    def run() -> str:
        report = provider.check_portrait(decode_image(data))
        return "" if report.ok else report.message

    try:
        return await anyio.to_thread.run_sync(run)
    except FaceError as exc:
        return exc.message


async def id_card_problem(hooks, tenant, portrait: bytes, id_front: bytes) -> str:
    """Where the tenant enables it, the portrait must show the person on the ID card's photo
    (compared by the matching provider); returns the Chinese reason, or "" when they match."""
    try:
        matcher = select_provider(await collect(hooks.face_providers), tenant.rules.face.match_provider,
                                  Capability.ENCODE)
    except CapabilityError:
        return ""

    def run() -> str:
        problem, _distance = compare_with_id_photo(
            matcher, decode_image(portrait), decode_image(id_front), tenant.rules.face.match_tolerance
        )
        return problem.message if problem else ""

    try:
        return await anyio.to_thread.run_sync(run)
    except FaceError as exc:
        return exc.message
