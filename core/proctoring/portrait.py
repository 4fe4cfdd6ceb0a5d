"""Portrait enrolment, one for every tenant: ID-card images and the portrait a learner's face is
later compared with.

Every image goes through the core upload gate (``clean_image``: type by content, size and pixel
limits, re-encoded JPEG, no metadata) in a worker thread. With the learner's consent to face
processing, the portrait then goes through the portrait gate of the tenant's matching provider,
or of its liveness provider when the matcher cannot judge portraits (``assess_portrait`` via
``check_portrait``), and, where the tenant's rules ask for it, is compared with the photo on the
ID card. Nothing is stored when any image is refused; the reasons are
Chinese, per field. Without consent the images are stored but no face processing runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


from core.audit.services import record
from core.courses.tables import Enrollment
from core.db.scoped import scoped
from core.faces import Capability, CapabilityError, FaceError, compare_with_id_photo, decode_image, select_provider
from core.faces.quality import small_face_report
from core.files.images import ImageRejected, clean_image_async
from core.files.tables import StoredFile
from core.offload import run_cpu
from core.proctoring.encodings import encode_uploaded
from core.proctoring.gate import event
from core.proctoring.verdicts import flag
from core.roster.tables import LearnerProfile
from core.study.tables import StudySession

IMAGES = {"id_front": "身份证人像面", "id_back": "身份证国徽面", "portrait": "个人证件照"}
NO_CONSENT_NOTICE = "您未勾选同意人脸信息处理，照片已保存但未做人脸质量检测。"


async def quality_provider(platform, tenant):
    """The provider that judges the tenant's portraits: its matching provider if it can, else its
    liveness provider (a matcher such as SFace finds five points, too few to see closed eyes or a
    turned head); None when neither can (no face plugin)."""
    found = await platform.face_providers()
    rules = tenant.rules.face
    for name in (rules.match_provider, rules.liveness_provider):
        try:
            return select_provider(found, name, Capability.QUALITY)
        except CapabilityError:
            continue
    return None


async def small_face_finder(platform, tenant, provider):
    """The tenant's matching provider when it detects faces and is not ``provider`` (the gate's):
    its detector is asked where the gate found no face, to tell a tiny face from none."""
    try:
        finder = select_provider(await platform.face_providers(), tenant.rules.face.match_provider,
                                 Capability.DETECT)
    except CapabilityError:
        return None
    return None if finder is provider else finder


async def portrait_problem(provider, data: bytes, finder=None) -> str:
    """The provider's first Chinese reason for refusing the portrait, or "" when it is fine; where
    it finds no face, ``finder`` (a detector) may show the face is only too small."""


    def run() -> str:
        image = decode_image(data)
        report = provider.check_portrait(image)
        if finder is not None:
            report = small_face_report(report, image, finder.detect(image) if not report.faces else [])
        return "" if report.ok else report.message

    try:
        return await run_cpu("face", run)
    except FaceError as exc:
        return exc.message


async def portrait_gate(platform, tenant, data: bytes) -> str:
    """The tenant's portrait gate on a cleaned image (``clean_image``'s output) for any upload of a
    portrait, whoever uploads it (the learner, or a company on the learner's behalf): the
    provider's Chinese reason for refusing it, or "" when it is fine or no provider can judge it."""
    provider = await quality_provider(platform, tenant)
    if provider is None:
        return ""
    return await portrait_problem(provider, data, await small_face_finder(platform, tenant, provider))


async def id_card_problem(platform, tenant, portrait: bytes, id_front: bytes) -> str:
    """Where the tenant enables it, the portrait must show the person on the ID card's photo
    (compared by the matching provider); returns the Chinese reason, or "" when they match."""
    try:
        matcher = select_provider(await platform.face_providers(), tenant.rules.face.match_provider,
                                  Capability.ENCODE)
    except CapabilityError:
        return ""


    def run() -> str:
        problem, _distance = compare_with_id_photo(
            matcher, decode_image(portrait), decode_image(id_front), tenant.rules.face.match_tolerance
        )
        return problem.message if problem else ""

    try:
        return await run_cpu("face", run)
    except FaceError as exc:
        return exc.message


async def _stored(storage, tenant, file_id: int | None) -> bytes | None:
    row = await scoped(StoredFile, tenant).get(file_id)
    return await storage.read(row) if row else None


@dataclass
class Enrolment:
    errors: dict[str, str] = field(default_factory=dict)
    saved: list[str] = field(default_factory=list)
    notice: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


async def enrol_images(platform, tenant, account, profile: LearnerProfile, uploads: dict[str, bytes | None], *,
                       faces_allowed: bool) -> Enrolment:
    """Check and store the uploaded ID-card images and portrait on ``profile`` (all or nothing)."""
    out = Enrolment()
    cleaned: dict[str, bytes] = {}
    for name, label in IMAGES.items():
        raw = uploads.get(name)
        if not raw:
            continue
        try:
            cleaned[name] = (await clean_image_async(raw)).data
        except ImageRejected as exc:
            out.errors[name] = f"{label}：{exc}"
    if "portrait" in cleaned and "portrait" not in out.errors:
        if faces_allowed:
            provider = await quality_provider(platform, tenant)
            if provider is not None:
                problem = await portrait_problem(provider, cleaned["portrait"],
                                                 await small_face_finder(platform, tenant, provider))
                if problem:
                    out.errors["portrait"] = f"个人证件照不合格：{problem}"
            id_front = cleaned.get("id_front") or await _stored(platform.storage, tenant, profile.id_front)
            if "portrait" not in out.errors and tenant.rules.face.compare_portrait_with_id_card and id_front:
                problem = await id_card_problem(platform, tenant, cleaned["portrait"], id_front)
                if problem:
                    out.errors["portrait"] = f"个人证件照与身份证照片不一致：{problem}"
        else:
            out.notice = NO_CONSENT_NOTICE
    if not cleaned and not out.errors:
        out.errors["id_front"] = "请选择要上传的照片"
    if out.errors:
        return out
    columns = {"id_front": LearnerProfile.id_front, "id_back": LearnerProfile.id_back,
               "portrait": LearnerProfile.portrait}
    previous = {name: getattr(profile, name) for name in IDENTITY if getattr(profile, name)}
    stored: dict[str, tuple[int, bytes]] = {}
    for name, data in cleaned.items():
        row = await platform.storage.save(data, tenant_id=tenant.id, kind=name, media_type="image/jpeg",
                                          owner_id=account.id)
        setattr(profile, name, row.id)
        stored[name] = (row.id, data)
    profile.updated_at = dt.datetime.now(dt.UTC)
    await profile.save([*(columns[n] for n in cleaned), LearnerProfile.updated_at])
    if faces_allowed:  # the face check and the snapshot job find the encodings ready
        await encode_uploaded(platform, tenant, account.id, stored)
    await record("profile.images", tenant_id=tenant.id, actor_id=account.id, object_type="learner_profile",
                 object_id=profile.id, images=sorted(cleaned))
    out.saved = sorted(cleaned)
    changed = sorted(name for name in previous if name in cleaned)
    if changed:
        await identity_changed(platform, tenant, account.id, changed, previous, profile)
    return out


IDENTITY = ("portrait", "id_front")  # the images a learner's face is compared with


async def identity_changed(platform, tenant, account_id: int, changed: list[str], previous: dict[str, int],
                           profile: LearnerProfile) -> int:
    """The portrait or the ID-card photo was replaced: once study has started, the learner's hours
    are held for review. Every enrolment still studying or in review gets a ``portrait_changed``
    event (the images before and after, by file id, for the case page's portrait history) and is
    flagged. Returns the enrolments held."""
    if not await scoped(StudySession, tenant).exists(StudySession.account == account_id):
        return 0
    held = 0
    for e in await scoped(Enrollment, tenant).objects(
            (Enrollment.account == account_id) & Enrollment.status.is_in(["studying", "review", "cleared"])):
        await event(tenant, account_id, "portrait_changed", enrollment=e.id, changed=changed,
                    previous={k: previous[k] for k in changed}, current={k: getattr(profile, k) for k in changed})
        await flag(platform, tenant, account_id, e.id, "portrait_changed")
        held += 1
    return held
