"""How the face engine behaves in a process: cheap imports, models read once, one lock for dlib."""

import subprocess
import sys
import threading
import types
from pathlib import Path

import numpy as np

from core.testing import face_media as media

HEAVY = ("cv2", "numpy", "mediapipe", "dlib", "face_recognition")


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))\n"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=media.REPO_ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    return set(out.stdout.split())


def test_importing_the_contract_and_the_face_plugins_loads_no_image_library():
    loaded = _loaded_after("import core.faces\nfrom core import hookimpl\nimport plugins.face_mediapipe, plugins.face_dlib, plugins.face_sface")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_importing_core_loads_no_pil():
    """core/__init__ loads its names on first use, so the API module itself loads no image library."""
    assert "PIL" not in _loaded_after("import core.faces\nfrom core import hookimpl")


def test_face_modules_import_no_pil_themselves():
    """core.faces and the face plugins import no PIL at module level either."""
    for path in [*Path(media.REPO_ROOT / "core" / "faces").glob("*.py"), *Path(media.REPO_ROOT / "plugins").glob("face_*/*.py")]:
        top = [ln for ln in path.read_text().splitlines() if ln.startswith(("import ", "from "))]
        assert not [ln for ln in top if any(f" {m}" in ln or f" {m}." in ln for m in (*HEAVY, "PIL"))], path


def test_mediapipe_model_is_read_once_per_process_with_one_exit_handler(monkeypatch):
    import plugins.face_mediapipe.provider as mpp

    reads, exits = [], []
    real_read = Path.read_bytes

    def counting_read(self):
        if self.name == mpp.MODEL_PATH.name:
            reads.append(self)
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", counting_read)
    monkeypatch.setattr(mpp, "_MODELS", {})
    monkeypatch.setattr(mpp, "_LANDMARKERS", {})
    monkeypatch.setattr(mpp, "_EXIT_REGISTERED", False)
    real_register = mpp.atexit.register

    def counting_register(fn, *args, **kwargs):  # mediapipe registers handlers of its own too
        if getattr(fn, "__module__", None) == mpp.__name__:
            exits.append(fn)
            return fn
        return real_register(fn, *args, **kwargs)

    monkeypatch.setattr(mpp.atexit, "register", counting_register)
    frame = media.read_clip(media.videos_dir() / "grid_id2_blinks.mpg", step=40)[0][1]
    providers = [mpp.MediaPipeProvider() for _ in range(3)]
    try:
        for p in providers:
            assert len(p.observe(frame)) == 1
        # One landmarker for the process, shared by every provider object.
        assert len(mpp._LANDMARKERS) == 1 and len({id(p._get()[0]) for p in providers}) == 1
    finally:
        mpp._close_all()  # explicitly, here: never by the garbage collector mid-run
    assert len(reads) == 1 and len(exits) == 1


def test_dlib_models_and_lock_are_shared_by_every_instance(monkeypatch):
    import plugins.face_dlib.provider as dlp

    a, b = dlp.DlibProvider(), dlp.DlibProvider(detect_side=320)
    real = a._get()
    assert b._get() is real and not hasattr(a, "_lock")
    seen: list[bool] = []

    def guarded(fn):
        def call(*args, **kwargs):
            seen.append(dlp.LOCK.locked())
            return fn(*args, **kwargs)

        return call

    wrapped = types.SimpleNamespace(
        face_detector=guarded(real.face_detector),
        pose_predictor_68_point=guarded(real.pose_predictor_68_point),
        pose_predictor_5_point=guarded(real.pose_predictor_5_point),
        face_encoder=types.SimpleNamespace(compute_face_descriptor=guarded(real.face_encoder.compute_face_descriptor)),
    )
    monkeypatch.setattr(dlp, "_API", wrapped)
    photo = media.load_photo(media.faces_dir() / "obama" / "obama_1.jpg")
    errors: list[BaseException] = []

    def work(p):
        try:
            assert len(p.observe(photo)) == 1
            assert p.encode(photo).shape == (128,)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(seen) >= 8 and all(seen), "every dlib call must hold the module-global lock"
    assert np.isfinite(a.distance(a.encode(photo), b.encode(photo)))


def _pytest(env_extra: dict, tmp_path, *paths):
    import os

    env = {k: v for k, v in os.environ.items() if k != "CI"} | env_extra | {"XUESHI_SHARED_DIR": str(tmp_path / "no-shared")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths],
        cwd=media.REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


def test_missing_shared_media_fails_under_ci_and_skips_elsewhere(tmp_path):
    paths = ("tests/faces/test_face_imaging.py", "plugins/face_dlib/tests/test_dlib_contract.py")
    ci = _pytest({"CI": "true"}, tmp_path, *paths)
    assert ci.returncode != 0 and "under CI the face tests must run" in ci.stdout + ci.stderr
    local = _pytest({}, tmp_path, *paths)
    last = local.stdout.strip().splitlines()[-1]
    assert local.returncode == 0 and "skipped" in last and "failed" not in last, local.stdout[-800:]
