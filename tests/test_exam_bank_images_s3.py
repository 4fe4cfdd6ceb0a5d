"""Question pictures on the S3 backend (moto's server, tests/s3_server.py): the XLSX import,
the bank's and the export's pictures, read back from the bucket."""

from __future__ import annotations

import pytest

from core.files.storage import ObjectStorage
from core.files.tables import StoredFile
from s3_server import new_bucket, s3_settings
from test_exam_bank_images import (  # noqa: F401  (collected again, on the bucket)
    test_pictures_placed_in_an_xlsx_are_imported_stored_and_shown,
)
from test_exam_bank_layouts import staff  # noqa: F401  (fixture)


@pytest.fixture
def xs_settings(xs_settings):
    return s3_settings(xs_settings, new_bucket())


async def test_pictures_are_stored_in_the_bucket(platform, tenant):
    assert isinstance(platform.storage, ObjectStorage)
    t = tenant("construction")
    row = await platform.storage.save(b"\xff\xd8 picture", tenant_id=t.id, kind="question_image", media_type="image/jpeg")
    assert await platform.storage.read(row) == b"\xff\xd8 picture"
    assert (await StoredFile.objects().where(StoredFile.id == row.id).first()).key.startswith(f"{t.id}/question_image/")
