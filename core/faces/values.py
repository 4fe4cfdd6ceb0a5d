"""Value types of the face contract: capabilities, actions, boxes, observations, reports.

Everything here is plain data (dataclasses and enums) so that both providers, the liveness judge,
the web layer and tests speak the same language. Chinese texts shown to learners live in
:mod:`core.faces.messages`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.faces import messages as M

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


class Capability(enum.StrEnum):
    """What a face provider can do (declared in ``provider.capabilities``)."""

    DETECT = "detect"  # find faces: detect(image) -> list[FaceBox]
    QUALITY = "quality"  # portrait quality gate: check_portrait(image) -> QualityReport
    LIVENESS = "liveness"  # per-frame signals: observe(image) -> list[FaceObservation]
    ENCODE = "encode"  # identity: encode(image) -> vector, distance(a, b), default_tolerance


class Action(enum.StrEnum):
    """A liveness action the server may ask for."""

    BLINK = "blink"
    OPEN_MOUTH = "open_mouth"
    TURN_LEFT = "turn_left"  # the person's own left (positive yaw; see docs/faces.md)
    TURN_RIGHT = "turn_right"
    NOD = "nod"

    @property
    def prompt(self) -> str:
        """The Chinese prompt shown to the learner."""
        return M.ACTION_PROMPTS[self.value]


class FaceError(ValueError):
    """Base class of face errors; ``message`` is a short Chinese text for the learner."""

    message: str = M.FACE_ERROR

    def __init__(self, detail: str = "", message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(detail or self.message)


class InvalidImageError(FaceError):
    """The bytes are not a decodable image (or too large / too small)."""

    message = M.INVALID_IMAGE


class NoFaceError(FaceError):
    message = M.Q_NO_FACE


class MultipleFacesError(FaceError):
    message = M.Q_MULTIPLE_FACES


class ModelIntegrityError(RuntimeError):
    """A vendored model file is missing or its SHA-256 differs from the pinned one."""


class ChallengeError(ValueError):
    """The caller broke the liveness protocol (wrong nonce, time going backwards, ...)."""


class CapabilityError(LookupError):
    """No provider with the asked name/capability is registered."""


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A face rectangle in pixels of the image it was found in."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)

    @property
    def area(self) -> float:
        return max(self.w, 0.0) * max(self.h, 0.0)

    def iou(self, other: FaceBox) -> float:
        x1, y1 = max(self.x, other.x), max(self.y, other.y)
        x2 = min(self.x + self.w, other.x + other.w)
        y2 = min(self.y + self.h, other.y + other.h)
        inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def overlap(self, other: FaceBox) -> float:
        """Intersection over the smaller box (1.0 when one contains the other)."""
        x1, y1 = max(self.x, other.x), max(self.y, other.y)
        x2 = min(self.x + self.w, other.x + other.w)
        y2 = min(self.y + self.h, other.y + other.h)
        inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
        small = min(self.area, other.area)
        return inter / small if small > 0 else 0.0

    def scaled(self, factor: float) -> FaceBox:
        return FaceBox(self.x * factor, self.y * factor, self.w * factor, self.h * factor, self.score)

    def clipped(self, width: int, height: int) -> FaceBox:
        x1, y1 = max(0.0, self.x), max(0.0, self.y)
        x2, y2 = min(float(width), self.x + self.w), min(float(height), self.y + self.h)
        return FaceBox(x1, y1, max(0.0, x2 - x1), max(0.0, y2 - y1), self.score)


@dataclass(frozen=True, slots=True, eq=False)
class FaceObservation:
    """What a provider measured on one face of one image.

    Fields a provider cannot measure stay ``None``. Angles are degrees: ``yaw`` > 0 when the
    person turns to their own left in an unmirrored camera image, ``pitch`` > 0 when the head
    tilts so that the nose moves down in the image. ``eye_openness`` is an eye aspect ratio
    (open eyes ≈ 0.25–0.35, closed < 0.15); ``mouth_open`` is the inner-lip gap over the mouth
    width. ``anchors`` (K×2) are near-rigid landmarks and ``nose`` (2,) the nose tip, in
    pixels: the liveness judge fits a plane-to-plane homography on the anchors between two frames
    and measures how far the nose tip leaves it (a flat photo has no such parallax).
    ``eye_distance`` is the outer eye-corner distance in pixels (scale of the face).
    ``face_aspect`` is a rigid vertical/horizontal proportion of the face (eye line to nose base
    over the eye distance): a photo tilted about either axis changes it exactly as it changes
    eye and mouth openness, so the judge divides it out (tested: a flicked photo is not a blink).
    """

    box: FaceBox
    yaw: float | None = None
    pitch: float | None = None
    roll: float | None = None
    eye_openness: float | None = None
    mouth_open: float | None = None
    anchors: np.ndarray | None = None
    nose: np.ndarray | None = None
    eye_distance: float | None = None
    face_aspect: float | None = None


@dataclass(frozen=True, slots=True, eq=False)
class FrameSignals:
    """One video frame as the liveness judge sees it (caller's timestamp in ms)."""

    t_ms: int
    width: int
    height: int
    faces: tuple[FaceObservation, ...]
    brightness: float | None = None  # mean luma 0–255 of the face (or whole frame if no face)
    # the JPEG the frame came in, when the measured image is exactly its decoded pixels: kept as
    # the frame's evidence instead of encoding the image again (core.faces.session)
    source: bytes | None = None

    @property
    def face(self) -> FaceObservation | None:
        return self.faces[0] if len(self.faces) == 1 else None


class QualityCode(enum.StrEnum):
    OK = "ok"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    INCOMPLETE = "incomplete"  # the face is cut by the image border
    TOO_SMALL = "too_small"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"
    BLURRY = "blurry"
    NOT_FRONTAL = "not_frontal"
    EYES_CLOSED = "eyes_closed"
    ID_MISMATCH = "id_mismatch"
    ID_UNREADABLE = "id_unreadable"

    @property
    def message(self) -> str:
        return M.QUALITY_MESSAGES[self.value]


@dataclass(frozen=True, slots=True)
class QualityIssue:
    code: QualityCode
    message: str
    value: float | None = None  # the measured figure that failed, for logs and tuning


@dataclass(frozen=True, slots=True, eq=False)
class QualityReport:
    """Result of the portrait gate. ``ok`` only if ``issues`` is empty."""

    issues: tuple[QualityIssue, ...]
    faces: int
    box: FaceBox | None = None
    measures: dict[str, float] = field(default_factory=dict)
    provider: str = ""

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def codes(self) -> list[QualityCode]:
        return [i.code for i in self.issues]

    @property
    def reasons(self) -> list[str]:
        return [i.message for i in self.issues]

    @property
    def message(self) -> str:
        """The first (most important) reason, or the OK text."""
        return self.issues[0].message if self.issues else M.Q_OK


class GuidanceCode(enum.StrEnum):
    """Per-frame feedback to show under the webcam picture."""

    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    TOO_DARK = "too_dark"
    TOO_FAR = "too_far"
    FACE_CAMERA = "face_camera"
    WAIT_PROMPT = "wait_prompt"  # face is fine; waiting for the page to show the next prompt
    DO_ACTION = "do_action"  # keep doing the prompted action
    TURN_MORE = "turn_more"  # a turn in the asked direction that is not far enough yet
    ACTION_DONE = "action_done"  # current action recognised; show the next prompt
    WRONG_ACTION = "wrong_action"
    TOO_SLOW = "too_slow"
    FINISHED = "finished"  # all actions done; call finish()
    FAILED = "failed"  # the challenge cannot pass any more; call finish()


@dataclass(frozen=True, slots=True)
class FrameGuidance:
    t_ms: int
    code: GuidanceCode
    message: str  # Chinese, ready to show
    action_index: int  # index of the action now expected (== len(actions) when all done)
    next_prompt: str | None = None  # prompt text to show now (after ACTION_DONE / at start)
    done: bool = False  # True when the page should stop sending frames and call finish()


class VerdictCode(enum.StrEnum):
    NO_FRAMES = "no_frames"
    MULTIPLE_FACES = "multiple_faces"
    FACE_LOST = "face_lost"
    ACTION_TIMEOUT = "action_timeout"
    ACTION_NOT_PROMPTED = "action_not_prompted"
    WRONG_ACTION = "wrong_action"
    NO_PARALLAX = "no_parallax"
    DISCONTINUITY = "discontinuity"
    IDENTITY_MISMATCH = "identity_mismatch"
    IDENTITY_INCONSISTENT = "identity_inconsistent"
    IDENTITY_UNAVAILABLE = "identity_unavailable"

    @property
    def message(self) -> str:
        return M.VERDICT_MESSAGES[self.value]


@dataclass(frozen=True, slots=True)
class ActionResult:
    action: Action
    prompt_ms: int | None
    start_ms: int | None  # first frame of the movement (after the prompt)
    done_ms: int | None  # frame where it was recognised
    passed: bool
    score: float = 0.0  # action-specific strength (blink depth, mouth gap, degrees)
    parallax: float | None = None  # nose parallax for turns and nods (fraction of eye distance)
    reason: VerdictCode | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    t_ms: int
    label: str  # e.g. "baseline", "blink", "sample"
    jpeg: bytes
    distance: float | None = None  # identity distance to the portrait, when checked


@dataclass(frozen=True, slots=True)
class Verdict:
    nonce: str
    passed: bool
    codes: tuple[VerdictCode, ...]
    actions: tuple[ActionResult, ...]
    scores: dict[str, float]
    evidence: tuple[Evidence, ...] = ()
    frames: int = 0

    @property
    def reasons(self) -> list[str]:
        """Chinese reasons, one per failed rule (empty when passed)."""
        return [c.message for c in self.codes]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (evidence frames reduced to timestamps and labels)."""
        return {
            "nonce": self.nonce,
            "passed": self.passed,
            "codes": [str(c) for c in self.codes],
            "reasons": self.reasons,
            "scores": dict(self.scores),
            "frames": self.frames,
            "actions": [
                {
                    "action": str(a.action),
                    "prompt_ms": a.prompt_ms,
                    "start_ms": a.start_ms,
                    "done_ms": a.done_ms,
                    "passed": a.passed,
                    "score": round(a.score, 4),
                    "parallax": None if a.parallax is None else round(a.parallax, 4),
                    "reason": None if a.reason is None else str(a.reason),
                }
                for a in self.actions
            ],
            "evidence": [
                {"t_ms": e.t_ms, "label": e.label, "distance": e.distance} for e in self.evidence
            ],
        }
