"""Face provider plugin on OpenCV Zoo's SFace (identity encodings) with YuNet (detection and
the five alignment points), run by OpenCV's FaceRecognizerSF / FaceDetectorYN. Matching and
detection, not liveness or the portrait gate. The models are vendored in ``models/`` with their
licences, hash-checked and loaded on first use, never downloaded."""

from core import hookimpl

from plugins.face_sface.provider import DEFAULT_TOLERANCE, SFaceProvider

__all__ = ["DEFAULT_TOLERANCE", "SFaceProvider", "face_providers"]


@hookimpl
def face_providers():
    return [SFaceProvider()]
