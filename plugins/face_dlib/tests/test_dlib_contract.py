"""The face_recognition (dlib) provider runs the shared face-provider contract."""

import pytest

from core.testing.face_contract import FaceProviderContract
from plugins.face_dlib import DlibProvider


class TestDlibContract(FaceProviderContract):
    @pytest.fixture(scope="class")
    @classmethod
    def provider(cls):
        return DlibProvider()
