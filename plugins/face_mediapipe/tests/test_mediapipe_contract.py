"""The MediaPipe provider runs the shared face-provider contract on the real photos and clips."""

import pytest

from core.testing.face_contract import FaceProviderContract
from plugins.face_mediapipe import MediaPipeProvider


class TestMediaPipeContract(FaceProviderContract):
    @pytest.fixture(scope="class")
    @classmethod
    def provider(cls):
        p = MediaPipeProvider()
        yield p
        p.close()
