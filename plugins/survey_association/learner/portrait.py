"""Portrait checks: separate biometric consent, then the tenant's face provider's quality gate.

The checks themselves are the core's portrait enrolment (``core.proctoring.portrait``).
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

from core import Consent, enrol_images  # noqa: F401  (the core's portrait enrolment)

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
    return await Consent.exists().where(
        (Consent.tenant == tenant.id) & (Consent.account == account.id) & (Consent.kind == CONSENT_KIND)
        & (Consent.text_version == CONSENT_VERSION) & Consent.withdrawn_at.is_null()
    )


async def record_consent(tenant, account) -> None:
    if await has_consent(tenant, account):
        return
    await Consent(tenant=tenant.id, account=account.id, kind=CONSENT_KIND, text_version=CONSENT_VERSION,
                  text_sha256=CONSENT_SHA256, granted_at=dt.datetime.now(dt.UTC)).save()
