"""Learners for the whole-learner load test (benchmarks/load_learners.py), written as rows in bulk.

Run by load_learners.py in a process of its own (Piccolo's engine is process-global):
``python benchmarks/load_seed.py OUT.json STUDYING WHOLE``. Deploys the database, then writes:

* one study course (施工员, a 100-hour lesson whose video is the shared clip, stored through the
  platform's storage: on the bucket when ``XUESHI_STORAGE_URL`` is set);
* ``STUDYING`` learners already signed in (a session in Redis each), with a complete profile whose
  portrait and ID photo are ``obama/obama_1.jpg`` (the face in the clip the snapshots come from;
  one stored file shared by all), their face encodings kept as the profile step keeps them
  (``core.proctoring.encodings.encode_uploaded``: computed once for the shared file, a row per
  learner), consent, and one passed face check each (the load test moves its time to just before the
  learner starts, so the gate finds it recent): they are the ramp's studying learners;
* ``WHOLE`` learners with a password and nothing else done (they sign in, consent and pass the
  face check over HTTP), enrolled on the study course and on an exam course whose hours are done
  (待审核), with the demo's 施工员 bank seeded.

Every password is the same, hashed once (the server still verifies Argon2 on each sign-in).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import secrets
import sys
from pathlib import Path

from core.accounts.passwords import hash_password
from core.accounts.tables import Account
from core.courses.tables import Course, Enrollment, Lesson, Position
from core.exams.bank import seed_bank
from core.files.images import clean_image
from core.kernel import build_platform, deploy
from core.proctoring.consent import FACE_TEXT_VERSION
from core.proctoring.encodings import encode_uploaded
from core.proctoring.tables import Consent, FaceVerification
from core.roster.tables import LearnerProfile
from core.settings import Settings
from core.testing.face_media import faces_dir, videos_dir
from core.testing.ids import fake_id_number, fake_mobile

ROOT = Path(__file__).resolve().parents[1]
BANK = ROOT / "plugins" / "construction_group" / "demo" / "exam_bank_shigongyuan.csv"
PORTRAIT = "obama/obama_1.jpg"
CLIP = "obama_weekly_address_blinks.mp4"
PASSWORD = "Load-test-1"
BATCH = 500  # rows per INSERT (PostgreSQL allows 32,767 parameters a statement)


async def insert(rows: list) -> list:
    """Insert Piccolo rows in batches; Piccolo sets each row's id from the INSERT's RETURNING."""
    for k in range(0, len(rows), BATCH):
        await type(rows[0]).insert(*rows[k:k + BATCH])
    return rows


async def learners(tenant, n: int, now: dt.datetime, password_hash: str, files: dict, course: int) -> list[Account]:
    accounts = await insert([
        Account(tenant=tenant.id, role="learner", real_name="压测学员", id_number=fake_id_number(),
                mobile=fake_mobile(), password_hash=password_hash, created_at=now) for _ in range(n)])
    await insert([LearnerProfile(tenant=tenant.id, account=a.id, real_name=a.real_name, id_number=a.id_number,
                                 id_front=files["portrait"], id_back=files["portrait"], portrait=files["portrait"],
                                 created_at=now, updated_at=now) for a in accounts])
    await insert([Enrollment(tenant=tenant.id, account=a.id, course=course, created_at=now) for a in accounts])
    return accounts


async def encode_photos(platform, tenant, accounts: list[Account], file_id: int, data: bytes) -> None:
    """What the profile step does once the photos are stored: their encodings, kept."""
    stored = {"portrait": (file_id, data), "id_front": (file_id, data)}
    for k in range(0, len(accounts), 50):
        await asyncio.gather(*(encode_uploaded(platform, tenant, a.id, stored) for a in accounts[k:k + 50]))


async def prepare(out: Path, studying: int, whole: int) -> None:
    platform = build_platform(Settings.from_env(dict(os.environ)))
    await deploy(platform)
    await platform.start(jobs=False)
    try:
        tenant = platform.tenants.get("construction")
        await seed_bank(tenant, "施工员", BANK)
        now = dt.datetime.now(dt.UTC)
        portrait = clean_image((faces_dir() / PORTRAIT).read_bytes())
        files = {"portrait": (await platform.storage.save(portrait.data, tenant_id=tenant.id, kind="portrait",
                                                          media_type=portrait.media_type)).id}
        video = await platform.storage.save((videos_dir() / CLIP).read_bytes(), tenant_id=tenant.id,
                                            kind="lesson_video", media_type="video/mp4")
        position = await Position.objects().where((Position.tenant == tenant.id) & (Position.name == "施工员")).first()
        study = Course(tenant=tenant.id, position=position.id, year=2026, title="压测课程", required_hours=1000.0,
                       created_at=now)
        await study.save()
        lesson = Lesson(tenant=tenant.id, course=study.id, title="压测课件", kind="video", file=video.id,
                        duration_seconds=360000.0, created_at=now)
        await lesson.save()
        exam_course = Course(tenant=tenant.id, position=position.id, year=2026, title="压测考试", required_hours=1.0,
                             created_at=now)
        await exam_course.save()
        password_hash = hash_password(PASSWORD)

        ramp = await learners(tenant, studying, now, password_hash, files, study.id)
        await encode_photos(platform, tenant, ramp, files["portrait"], portrait.data)
        await insert([Consent(tenant=tenant.id, account=a.id, kind="face", text_version=FACE_TEXT_VERSION,
                              text_sha256="load", granted_at=now) for a in ramp])
        await insert([FaceVerification(tenant=tenant.id, account=a.id, purpose="study", nonce=secrets.token_hex(16),
                                       status="passed", created_at=now, finished_at=now) for a in ramp])
        sessions = [(a.id, await platform.sessions.create(a.id, "construction")) for a in ramp]

        full = await learners(tenant, whole, now, password_hash, files, study.id) if whole else []
        await encode_photos(platform, tenant, full, files["portrait"], portrait.data)
        exams = await insert([Enrollment(tenant=tenant.id, account=a.id, course=exam_course.id, status="review",
                                         credited_seconds=2700.0, created_at=now) for a in full]) if full else []
        out.write_text(json.dumps({
            "lesson": lesson.id, "password": PASSWORD, "studying": sessions,
            "whole": [(a.id, a.id_number, e.id) for a, e in zip(full, exams)],
        }))
    finally:
        await platform.stop()


if __name__ == "__main__":
    asyncio.run(prepare(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
