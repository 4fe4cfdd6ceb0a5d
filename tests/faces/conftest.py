"""Cross-provider face tests: real models on ../shared; providers shared per session."""

import pytest

from core.testing import face_media as media


def pytest_collection_modifyitems(config, items):
    if not media.faces_dir().is_dir():
        skip = pytest.mark.skip(reason="../shared/faces is not available")
        for item in items:
            if "tests/faces" in str(item.fspath) and "judge" not in item.name:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def mediapipe():
    from plugins.face_mediapipe import MediaPipeProvider

    p = MediaPipeProvider()
    yield p
    p.close()


@pytest.fixture(scope="session")
def dlib():
    from plugins.face_dlib import DlibProvider

    return DlibProvider()
