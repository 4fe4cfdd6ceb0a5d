"""Portrait quality gate: the generic rules applied to what a provider observed.

A provider finds the faces and measures pose and eye openness (``FaceObservation``); the
thresholds, the order of the checks and the Chinese reasons are decided here, identically for
every provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from core.faces import imaging
from core.faces.values import FaceBox, FaceObservation, QualityCode, QualityIssue, QualityReport

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


@dataclass(frozen=True, slots=True)
class PortraitRules:
    """Thresholds of the portrait gate (a tenant may pass its own)."""

    max_outside_px: float = 0.0  # how far the face's landmark box may leave the image
    min_face_px: int = 90  # face box width in pixels of the uploaded image
    min_face_share: float = 0.08  # face width over the image's shorter side
    min_brightness: float = 60.0  # mean luma of the face
    max_brightness: float = 205.0
    max_clipped_share: float = 0.25  # share of face pixels blown out (or crushed to black)
    min_sharpness: float = 40.0  # imaging.sharpness() of the face
    max_yaw: float = 25.0  # degrees
    max_pitch: float = 25.0
    min_eye_openness: float = 0.15  # eye aspect ratio; closed eyes < 0.12


def issue(code: QualityCode, value: float | None = None) -> QualityIssue:
    return QualityIssue(code, code.message, None if value is None else round(float(value), 4))


def assess_portrait(
    image: np.ndarray,
    faces: Sequence[FaceObservation],
    rules: PortraitRules | None = None,
    *,
    provider: str = "",
) -> QualityReport:
    """Apply the gate to a provider's observations of ``image`` (RGB uint8).

    Order: face count first (nothing else makes sense without exactly one face), then a face
    cut by the image border (its landmark box leaves the frame), size, exposure, sharpness, pose
    and eyes; every failing check is reported, most important first.
    """
    rules = rules or PortraitRules()
    image = imaging.ensure_rgb(image)
    h, w = image.shape[:2]
    if not faces:
        return QualityReport((issue(QualityCode.NO_FACE),), 0, provider=provider)
    if len(faces) > 1:
        return QualityReport((issue(QualityCode.MULTIPLE_FACES, len(faces)),), len(faces), provider=provider)
    face = faces[0]
    issues: list[QualityIssue] = []
    outside = max(-face.box.x, -face.box.y, face.box.x + face.box.w - w, face.box.y + face.box.h - h)
    if outside > rules.max_outside_px:
        issues.append(issue(QualityCode.INCOMPLETE, outside))
    found, measures = image_issues(image, face.box, rules)
    issues += found
    if face.yaw is not None:
        measures["yaw"] = face.yaw
        measures["pitch"] = face.pitch if face.pitch is not None else 0.0
        if abs(face.yaw) > rules.max_yaw or (face.pitch is not None and abs(face.pitch) > rules.max_pitch):
            issues.append(issue(QualityCode.NOT_FRONTAL, face.yaw))
    if face.eye_openness is not None:
        measures["eye_openness"] = face.eye_openness
        if face.eye_openness < rules.min_eye_openness:
            issues.append(issue(QualityCode.EYES_CLOSED, face.eye_openness))
    return QualityReport(
        tuple(issues), 1, box=face.box, measures={k: round(float(v), 4) for k, v in measures.items()}, provider=provider
    )


def image_issues(image: np.ndarray, box: FaceBox, rules: PortraitRules) -> tuple[list[QualityIssue], dict[str, float]]:
    """Size, exposure and sharpness of the face in ``box`` (the part of the gate that needs
    only pixels; liveness sessions apply it as a floor to the frames they encode)."""
    h, w = image.shape[:2]
    box = box.clipped(w, h)
    expo = imaging.exposure(image, box)
    sharp = imaging.sharpness(image, box)
    measures = {"face_px": box.w, "face_share": box.w / min(h, w), **expo, "sharpness": sharp}
    issues: list[QualityIssue] = []
    if box.w < rules.min_face_px or box.w / min(h, w) < rules.min_face_share:
        issues.append(issue(QualityCode.TOO_SMALL, box.w))
    if expo["brightness"] < rules.min_brightness or expo["dark_share"] > rules.max_clipped_share:
        issues.append(issue(QualityCode.TOO_DARK, expo["brightness"]))
    elif expo["brightness"] > rules.max_brightness or expo["bright_share"] > rules.max_clipped_share:
        issues.append(issue(QualityCode.TOO_BRIGHT, expo["brightness"]))
    if sharp < rules.min_sharpness:
        issues.append(issue(QualityCode.BLURRY, sharp))
    return issues, measures


def small_face_report(report: QualityReport, image: np.ndarray, boxes: Sequence[FaceBox],
                      rules: PortraitRules | None = None) -> QualityReport:
    """``report`` (the gate found no face), told 人脸太小 instead when ``boxes`` — from a detector
    that sees faces down to ~10 px, which a landmark model misses — hold a face below the size
    floor: the learner is asked to come closer, not told there is no face."""
    if report.codes != [QualityCode.NO_FACE] or not boxes:
        return report
    rules = rules or PortraitRules()
    h, w = image.shape[:2]
    box = max(boxes, key=lambda b: b.w * b.h).clipped(w, h)
    if box.w >= rules.min_face_px and box.w / min(h, w) >= rules.min_face_share:
        return report
    return QualityReport((issue(QualityCode.TOO_SMALL, box.w),), 1, box=box,
                         measures={"face_px": round(float(box.w), 4)}, provider=report.provider)
