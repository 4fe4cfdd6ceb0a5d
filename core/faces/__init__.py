"""Face engine contract: what face provider plugins offer, and the provider-independent rules.

Plugins import these names from ``core`` (``core/__init__.py`` re-exports ``__all__``).
See docs/faces.md for how the contract, the portrait gate and the liveness judge work.
"""

from core.faces import messages
from core.faces.imaging import (
    brightness,
    decode_image,
    downscale,
    encode_jpeg,
    ensure_rgb,
    euler_from_rotation,
    exposure,
    eye_aspect_ratio,
    nose_parallax,
    sharpness,
)
from core.faces.planarity import movement_planarity, planar_residual
from core.faces.landmarks import LandmarkLayout
from core.faces.challenge import Challenge, draw_challenge
from core.faces.liveness import HistoryNeeded, LivenessJudge, LivenessRules, PosesNeeded
from core.faces.session import IdentityCheck, LivenessSession, frame_signals, portrait_encoding
from core.faces.provider import FaceProvider, FaceProviderBase, compare_with_id_photo, select_provider
from core.faces.quality import PortraitRules, assess_portrait
from core.faces.values import (
    Action,
    ActionResult,
    Capability,
    CapabilityError,
    ChallengeError,
    Evidence,
    FaceBox,
    FaceError,
    FaceObservation,
    FrameGuidance,
    FrameSignals,
    GuidanceCode,
    InvalidImageError,
    ModelIntegrityError,
    MultipleFacesError,
    NoFaceError,
    QualityCode,
    QualityIssue,
    QualityReport,
    Verdict,
    VerdictCode,
)

__all__ = [
    # values
    "Action",
    "ActionResult",
    "Capability",
    "Evidence",
    "FaceBox",
    "FaceObservation",
    "FrameGuidance",
    "FrameSignals",
    "GuidanceCode",
    "QualityCode",
    "QualityIssue",
    "QualityReport",
    "Verdict",
    "VerdictCode",
    # errors
    "CapabilityError",
    "ChallengeError",
    "FaceError",
    "InvalidImageError",
    "ModelIntegrityError",
    "MultipleFacesError",
    "NoFaceError",
    # contract and selection
    "FaceProvider",
    "LandmarkLayout",
    "FaceProviderBase",
    "select_provider",
    # portrait gate
    "PortraitRules",
    "assess_portrait",
    "compare_with_id_photo",
    # liveness
    "Challenge",
    "IdentityCheck",
    "HistoryNeeded",
    "LivenessJudge",
    "PosesNeeded",
    "LivenessRules",
    "LivenessSession",
    "draw_challenge",
    "frame_signals",
    "portrait_encoding",
    # image helpers
    "brightness",
    "decode_image",
    "downscale",
    "encode_jpeg",
    "ensure_rgb",
    "euler_from_rotation",
    "exposure",
    "eye_aspect_ratio",
    "nose_parallax",
    "movement_planarity",
    "planar_residual",
    "sharpness",
    "face_messages",
]

face_messages = messages
