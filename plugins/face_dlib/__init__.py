"""Face provider plugin on face_recognition (dlib): matching, detection, portrait quality (not
liveness: see plugins/face_dlib/provider.py). Models load on first use."""

from core import hookimpl

from plugins.face_dlib.provider import DEFAULT_TOLERANCE, DlibProvider

__all__ = ["DEFAULT_TOLERANCE", "DlibProvider", "face_providers"]


@hookimpl
def face_providers():
    return [DlibProvider()]
