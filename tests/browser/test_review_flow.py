"""学时审核 in headless Chromium: the demo reviewer sees the queue (flagged first), opens a case
(photos, gate frames, snapshot strip, timeline and ledger on one 1280 px screen) and proposes a
clearing; a second reviewer confirms it; the learner sees why and appeals with a photo.
Screenshots in docs/screenshots/review-*.png.

The learner's face checks, snapshots and timeline are rows made here (real photos from
../shared/faces), standing for proctoring's output: this walk is about review."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from core.testing.browser import screenshot
from core.testing.ids import fake_id_number, fake_mobile
from core.testing.pytest_plugin import shared_dir

pytestmark = pytest.mark.browser
PASSWORD = "Review-2026a"
DEMO_REVIEWER = ("110101198001010010", "Review-2026")  # plugins/construction_group demo account


def _face(name: str) -> bytes:
    path = shared_dir() / "faces" / name
    if not path.exists():
        pytest.skip(f"{path} missing")
    return path.read_bytes()


async def _case(live_server):
    from core.accounts.services import upsert_account
    from core.courses.tables import Course, Enrollment, Lesson, Position
    from core.files.images import clean_image
    from core.proctoring.tables import FaceVerification
    from core.roster.tables import LearnerProfile
    from core.study import beats
    from core.study import services as study
    from core.study.tables import StudyEvent

    platform = live_server.app.state.platform
    tenant = platform.tenants.get("construction")
    store = platform.storage
    learner = await upsert_account(tenant, role="learner", password=PASSWORD, real_name="钱学员",
                                   id_number=fake_id_number(), mobile=fake_mobile())

    async def save(data: bytes, kind: str) -> int:
        clean = clean_image(data)
        return (await store.save(clean.data, tenant_id=tenant.id, kind=kind, media_type="image/jpeg",
                                 owner_id=learner.id)).id

    now = dt.datetime.now(dt.UTC)
    await LearnerProfile(tenant=tenant.id, account=learner.id, real_name=learner.real_name,
                         id_number=learner.id_number, portrait=await save(_face("obama/obama_1.jpg"), "portrait"),
                         id_front=await save(_face("obama/obama_2.jpg"), "id_front"),
                         id_back=await save(_face("obama/obama_3.jpg"), "id_back"), created_at=now, updated_at=now).save()
    position = await Position.objects().where((Position.tenant == tenant.id) & (Position.name == "施工员")).first()
    course = await Course.objects().where((Course.tenant == tenant.id) & (Course.position == position.id)).first()
    enrollment = Enrollment(tenant=tenant.id, account=learner.id, course=course.id, created_at=now)
    await enrollment.save()
    gate = FaceVerification(tenant=tenant.id, account=learner.id, purpose="study", nonce=f"bg-{learner.id}",
                            status="passed", scores={"distance": 0.38},
                            evidence=[await save(_face("obama/obama_3.jpg"), "evidence"),
                                      await save(_face("obama/obama_4.jpg"), "evidence")], created_at=now)
    await gate.save()
    await StudyEvent(tenant=tenant.id, account=learner.id, enrollment=enrollment.id, kind="gate_passed",
                     verification=gate.id, detail={"distance": 0.38}, created_at=now).save()
    for i, (name, status, score, kind) in enumerate([
        ("obama/obama_4.jpg", "passed", 0.41, "snapshot_ok"),
        ("biden/biden_1.jpg", "failed", 0.86, "snapshot_mismatch"),
        ("biden/biden_2.jpg", "failed", 0.84, "snapshot_mismatch"),
        ("obama/obama_2.jpg", "passed", 0.36, "snapshot_ok"),
    ]):
        snap = FaceVerification(tenant=tenant.id, account=learner.id, purpose="snapshot",
                                nonce=f"bs-{learner.id}-{i}", status=status, scores={"distance": score},
                                reasons=[] if status == "passed" else ["非本人"],
                                evidence=[await save(_face(name), "evidence")],
                                created_at=now + dt.timedelta(minutes=5 * (i + 1)))
        await snap.save()
        await StudyEvent(tenant=tenant.id, account=learner.id, enrollment=enrollment.id, kind=kind,
                         verification=snap.id, detail={"distance": score},
                         created_at=now + dt.timedelta(minutes=5 * (i + 1))).save()
    await StudyEvent(tenant=tenant.id, account=learner.id, enrollment=enrollment.id, kind="flagged",
                     detail={"mismatches": 2}, created_at=now + dt.timedelta(minutes=16)).save()
    # The hours, through the real crediting path.
    t = 2_000_000_000.0
    for lesson in await Lesson.objects().where(Lesson.course == course.id).order_by(Lesson.ordering):
        access = await study.lesson_access(tenant, learner.id, lesson.id)
        session = await study.start_session(tenant, learner.id, access, now=t)
        pos, seq = 0.0, 0
        while pos < lesson.duration_seconds:
            t, pos, seq = t + 15, min(pos + 15, lesson.duration_seconds), seq + 1
            await beats.beat(tenant, learner.id, beats.BeatIn(session.token, seq, lesson.id, pos, True), now=t)
        t += 5
    await Enrollment.update({Enrollment.flagged: True}).where(Enrollment.id == enrollment.id)
    enrollment = await Enrollment.objects().get(Enrollment.id == enrollment.id)
    assert enrollment.status == "review"
    second = await upsert_account(tenant, role="reviewer", password=PASSWORD, real_name="孙复核",
                                  id_number=fake_id_number(), mobile=fake_mobile())
    return learner, enrollment, second


async def _sign_in(page, root, id_number, password):
    await page.goto(f"{root}/signin")
    await page.fill("input[name=id_number]", id_number)
    await page.fill("input[name=password]", password)
    await page.click("form.form button")
    await page.wait_for_url(re.compile(r"/(me|review)$"))  # a learner on 我的, a reviewer on the queue


from core.courses.tables import Enrollment  # noqa: E402


async def test_reviewer_queue_case_two_person_clearing_and_learner_appeal(live_server, new_page, tmp_path):
    root = live_server.url("/t/construction")
    learner, enrollment, second = await _case(live_server)

    # The demo learner's case finished weeks ago: overdue, so the queue shows how that stands out.
    from core.accounts.tables import Account

    demo = await Account.objects().where(Account.id_number == "110105199203041237").first()
    await Enrollment.update({Enrollment.completed_at: dt.datetime(2026, 11, 2, 2, tzinfo=dt.UTC)}).where(
        (Enrollment.account == demo.id) & (Enrollment.status == "review"))

    reviewer = await new_page(1280, 800)
    await _sign_in(reviewer, root, *DEMO_REVIEWER)
    await reviewer.click("nav >> text=学时审核")
    await reviewer.wait_for_url(re.compile(r"/review$"))
    rows = reviewer.locator("table.queue tbody tr")
    assert await rows.count() >= 2  # the demo learner 赵学员 and 钱学员
    assert await reviewer.locator("tr.case.overdue .badge.state-overdue").count() >= 1
    assert await rows.first.get_attribute("data-enrollment") == str(enrollment.id)  # flagged first
    assert "flagged" in await rows.first.get_attribute("class")
    await screenshot(reviewer, "review-queue", full_page=False)

    await rows.first.locator("a.button").click()
    await reviewer.wait_for_url(re.compile(rf"/review/{enrollment.id}$"))
    # One screen at 1280 px: the three columns sit side by side, nothing scrolls sideways.
    boxes = [await reviewer.locator(sel).bounding_box() for sel in (".photos", ".snapshots", ".decide")]
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"] and abs(boxes[0]["y"] - boxes[2]["y"]) < 2
    assert await reviewer.evaluate("() => document.documentElement.scrollWidth") <= 1280
    assert await reviewer.locator(".strip figure.snap").count() == 4
    assert await reviewer.locator(".strip figure.verdict-failed").count() == 2
    await reviewer.wait_for_function(  # every photo and frame really served to the reviewer
        "() => [...document.querySelectorAll('.photos img, .strip img')].every(i => i.complete && i.naturalWidth > 0)")
    assert learner.id_number not in await reviewer.content()
    await screenshot(reviewer, "review-case", full_page=False)
    await screenshot(reviewer, "review-case-full")

    await reviewer.select_option("#f-reason", "substitute")
    await reviewer.fill("#f-note", "抓拍两次非本人")
    await reviewer.click("form.clear button")
    await reviewer.wait_for_selector("text=须由另一位审核员复核后生效。")

    other = await new_page(1280, 800)
    await _sign_in(other, root, second.id_number, PASSWORD)
    await other.goto(f"{root}/review/{enrollment.id}")
    await other.click("button[value=confirm]")
    await other.wait_for_selector(".status-cleared")

    student = await new_page(1280, 800)
    await _sign_in(student, root, learner.id_number, PASSWORD)
    await student.goto(f"{root}/study/{enrollment.id}")
    notice = await student.locator(".cleared-reason").inner_text()
    assert "您的学时已被清除，原因：替学" in notice
    await student.click(".cleared-reason a")
    await student.fill("#f-statement", "两次抓拍时家人经过镜头前，学习全程为本人。")
    photo = tmp_path / "me.jpg"
    photo.write_bytes(_face("obama/obama_1.jpg"))
    await student.set_input_files("#f-photo", str(photo))
    await screenshot(student, "review-appeal-form")
    await student.click("form.form button")
    await student.wait_for_selector("#appeal-status")
    assert "申诉处理中" in await student.locator("#appeal-status").inner_text()
    await screenshot(student, "review-appeal")

    # A third reviewer (not one of the two who cleared) sees the appeal on the case page.
    from core.accounts.services import upsert_account

    tenant = live_server.app.state.platform.tenants.get("construction")
    third = await upsert_account(tenant, role="reviewer", password=PASSWORD, real_name="周申诉",
                                 id_number=fake_id_number(), mobile=fake_mobile())
    judge = await new_page(1280, 800)
    await _sign_in(judge, root, third.id_number, PASSWORD)
    await judge.goto(f"{root}/review")
    await judge.click(f"a[href$='/review/{enrollment.id}#appeals']")
    await judge.wait_for_function(
        "() => { const i = document.querySelector('.appeal-photo'); return i && i.complete && i.naturalWidth > 0 }")
    await screenshot(judge, "review-appeal-reviewer")
