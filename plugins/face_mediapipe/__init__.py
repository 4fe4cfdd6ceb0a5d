"""Face provider plugin: MediaPipe FaceLandmarker (detection, portrait quality, liveness).

The model is vendored in ``models/`` with its licence notice; it is hash-checked and loaded on
first use, never downloaded.
"""

from core import hookimpl

from plugins.face_mediapipe.provider import MediaPipeProvider

__all__ = ["MediaPipeProvider", "face_providers"]


@hookimpl
def face_providers():
    return [MediaPipeProvider()]
