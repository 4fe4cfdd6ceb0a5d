"""Repository-level pytest settings: mark the database-free face-model tests ``faces``; run the
crawl first.

They judge real models on real media and touch no database, so CI runs them once (in the SQLite
run) and leaves them out of the PostgreSQL run with ``-m "not faces"``.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).parent
DATABASE_FREE = [ROOT / "tests" / "faces", ROOT / "plugins" / "face_mediapipe" / "tests",
                 ROOT / "plugins" / "face_dlib" / "tests", ROOT / "plugins" / "face_sface" / "tests"]


FIRST = ROOT / "tests" / "test_crawl.py"


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath))
        if any(folder in path.parents for folder in DATABASE_FREE):
            item.add_marker(pytest.mark.faces)
    # The crawl runs first, on the demo data alone: the tests share one database, and rows other
    # tests leave (a registry batch, a certificate) point at files in those tests' own folders.
    items.sort(key=lambda item: Path(str(item.fspath)) != FIRST)
