"""The SFace provider runs the shared face-provider contract."""

import pytest

from core.testing.face_contract import FaceProviderContract
from plugins.face_sface import SFaceProvider


class TestSFaceContract(FaceProviderContract):
    @pytest.fixture(scope="class")
    @classmethod
    def provider(cls):
        return SFaceProvider()
