"""The separate consent to biometric processing (PIPL art. 29): one text for every tenant and every
use of the face (the portrait check, the face check before study, snapshots), its version and
hash, and whether an account holds an active consent."""

from __future__ import annotations

import datetime as dt
import hashlib

from core.db.scoped import scoped
from core.proctoring.tables import Consent

FACE_KIND = "face"
FACE_TEXT_VERSION = "face-v1"


def face_consent_text(tenant) -> list[tuple[str, str]]:
    """(heading, paragraph) pairs of the consent text for ``tenant`` (what is shown, exactly)."""
    days = tenant.rules.retention.face_evidence_days
    return [
        ("收集什么", "在人脸核验时，本平台通过您设备的摄像头采集您的面部图像（视频画面），"
                    "并与您在个人档案中上传的本人头像进行比对。"),
        ("为什么收集", f"用于确认参加培训学习的是您本人（{tenant.name}要求学时由学员本人完成），"
                      "防止他人代学、替考。核验结果将计入您的学习记录。"),
        ("保存多久", f"核验时留存的少量画面截图及比对分数保存 {days} 天，到期后删除。"
                    "视频画面不会整段保存。"),
        ("谁可以查看", "仅您本人、培训机构的审核人员和平台管理员可以查看核验记录，"
                      "不会向其他单位或个人提供，也不会用于其他目的。"),
        ("您的权利", "人脸信息属于敏感个人信息。是否同意由您单独决定；您可以随时撤回同意，"
                    "撤回后将无法进行需要人脸核验的学习，已留存的记录按上述期限处理。"),
    ]


def text_sha256(paragraphs: list[tuple[str, str]]) -> str:
    joined = "\n".join(f"{h}：{p}" for h, p in paragraphs)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


async def active_consent(tenant, account_id: int) -> Consent | None:
    """``tenant``: a Tenant or its id."""
    return (
        await scoped(Consent, tenant).objects(
            (Consent.account == account_id) & (Consent.kind == FACE_KIND)
            & (Consent.text_version == FACE_TEXT_VERSION) & Consent.withdrawn_at.is_null())
        .order_by(Consent.id, ascending=False)
        .first()
    )


async def grant(tenant, account_id: int, sha256: str) -> Consent:
    row = scoped(Consent, tenant).new(account=account_id, kind=FACE_KIND, text_version=FACE_TEXT_VERSION,
                                      text_sha256=sha256, granted_at=dt.datetime.now(dt.UTC))
    await row.save()
    return row


async def ensure(tenant, account_id: int) -> Consent:
    """The account's active consent, granted now to the current text when it has none (the learner
    ticked the box under that text)."""
    return await active_consent(tenant, account_id) or await grant(
        tenant, account_id, text_sha256(face_consent_text(tenant)))


async def for_portrait(tenant, account_id: int, *, ticked: bool, uploading_portrait: bool) -> bool:
    """May face processing run on the portrait being uploaded? A tick under the text, with a
    portrait, grants the consent; otherwise an earlier active consent decides."""
    if ticked and uploading_portrait:
        await ensure(tenant, account_id)
        return True
    return await active_consent(tenant, account_id) is not None


async def withdraw(tenant, account_id: int) -> None:
    await scoped(Consent, tenant).update({Consent.withdrawn_at: dt.datetime.now(dt.UTC)}).where(
        (Consent.account == account_id) & (Consent.kind == FACE_KIND) & Consent.withdrawn_at.is_null())
