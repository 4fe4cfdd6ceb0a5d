"""学时审核: working-day deadlines, the queue, approve / two-person clear / re-verify, the ledger
after clearing and re-study, appeals with legal hold, the guide's SMS texts, the hooks.

Proctoring's output (face checks, snapshots, the study timeline, the flag) is made here as rows:
these tests are about review, not about proctoring."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re

import chinese_calendar
import pytest
from PIL import Image

from core import hookimpl, tenant_time
from core.audit.tables import AuditEntry
from core.courses.tables import Course, Enrollment, Lesson, Position
from core.files.tables import StoredFile
from core.notify.tables import Notification
from core.proctoring.tables import FaceVerification
from core.retention import purge
from core.review import services as review
from core.review import appeals, workdays
from core.review.tables import Appeal, ReviewDecision
from core.study import beats
from core.study import services as study
from core.study.tables import HoursEntry, LessonProgress, StudyEvent
from core.testing.pytest_plugin import shared_dir

T = "/t/construction"
CHINA = tenant_time.zone_named("Asia/Shanghai")  # the construction tenant's zone
GUIDE = shared_dir() / "manuals" / "construction_group_user_guide.zh.txt"
APPROVED_SMS = "尊敬的学员，恭喜您的继续教育学时已通过审核，可登录管理系统查看学时记录获取最新电子证书。"


class Recorder:
    def __init__(self) -> None:
        self.decided: list[tuple[str, int, str, str]] = []
        self.appealed: list[tuple[str, int, int]] = []

    @hookimpl
    def review_decided(self, tenant, enrollment, decision):
        self.decided.append((tenant.slug, enrollment.id, decision.kind, decision.status))

    @hookimpl
    async def review_appealed(self, tenant, enrollment, appeal):
        self.appealed.append((tenant.slug, enrollment.id, appeal.id))


@pytest.fixture
def xs_plugins():
    return [Recorder()]


@pytest.fixture
def recorder(xs_plugins):
    return xs_plugins[0]


# --- working days ------------------------------------------------------------------------------


def test_deadline_across_national_day_and_its_adjusted_saturday():
    # The package's data (not a list of ours): 1–7 October 2026 are holidays, Saturday 10 October
    # and Sunday 20 September are adjusted working days.
    assert all(not chinese_calendar.is_workday(dt.date(2026, 10, d)) for d in range(1, 8))
    assert chinese_calendar.is_workday(dt.date(2026, 10, 10)) and dt.date(2026, 10, 10).weekday() == 5
    assert chinese_calendar.is_workday(dt.date(2026, 9, 20)) and dt.date(2026, 9, 20).weekday() == 6

    done = dt.datetime(2026, 9, 29, 2, 0, tzinfo=dt.UTC)  # 10:00 in China, Tuesday
    d = workdays.deadline(done, [3, 5], CHINA, today=dt.date(2026, 10, 9))
    # working days after 29 Sep: 30 Sep (1), [1–7 Oct holiday], 8 Oct (2), 9 Oct (3), Sat 10 Oct (4), 12 Oct (5)
    assert (d.due, d.overdue_after, d.elapsed, d.state, d.estimated) == (
        dt.date(2026, 10, 9), dt.date(2026, 10, 12), 3, "on_time", False)
    assert workdays.deadline(done, [3, 5], CHINA, today=dt.date(2026, 10, 10)).state == "due"
    assert workdays.deadline(done, [3, 5], CHINA, today=dt.date(2026, 10, 10)).elapsed == 4
    assert workdays.deadline(done, [3, 5], CHINA, today=dt.date(2026, 10, 12)).state == "due"
    late = workdays.deadline(done, [3, 5], CHINA, today=dt.date(2026, 10, 13))
    assert late.state == "overdue" and late.label == "已超期"
    # Without the calendar (plain Monday–Friday) the 5th day would be 6 October: a holiday.
    naive = dt.date(2026, 9, 29)
    count = 0
    while count < 5:
        naive += dt.timedelta(days=1)
        count += naive.weekday() < 5
    assert naive == dt.date(2026, 10, 6) != d.overdue_after


def test_deadline_on_an_adjusted_sunday_and_from_a_completion_late_at_night():
    # Friday 18 Sep 2026 at 23:30 in China (15:30 UTC): the 1st working day is Sunday 20 Sep.
    done = dt.datetime(2026, 9, 18, 15, 30, tzinfo=dt.UTC)
    d = workdays.deadline(done, [1, 3], CHINA, today=dt.date(2026, 9, 20))
    assert d.started == dt.date(2026, 9, 18) and d.due == dt.date(2026, 9, 20) and d.overdue_after == dt.date(2026, 9, 22)


def test_deadline_outside_the_calendar_data_is_an_estimate():
    assert workdays.LAST_DAY == dt.date(2026, 12, 31)  # chinesecalendar 1.11.0: 2004–2026
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(dt.date(2027, 1, 4))
    d = workdays.deadline(dt.datetime(2026, 12, 29, 2, tzinfo=dt.UTC), [3, 5], CHINA, today=dt.date(2026, 12, 30))
    # 30, 31 Dec (data), then Mon–Fri outside the data: Fri 1 Jan 2027, Mon 4, Tue 5
    assert d.due == dt.date(2027, 1, 1) and d.overdue_after == dt.date(2027, 1, 5) and d.estimated
    inside = workdays.deadline(dt.datetime(2026, 12, 1, 2, tzinfo=dt.UTC), [3, 5], CHINA, today=dt.date(2026, 12, 2))
    assert not inside.estimated


# --- helpers -----------------------------------------------------------------------------------


def jpeg(color=(120, 140, 160), size=(320, 240), exif: bool = False) -> bytes:
    out = io.BytesIO()
    img = Image.new("RGB", size, color)
    if exif:
        info = Image.Exif()
        info[0x010F] = "SecretCam"  # Make
        info[0x8825] = {1: "N", 2: (39.0, 54.0, 0.0)}  # GPS
        img.save(out, format="JPEG", exif=info.tobytes())
    else:
        img.save(out, format="JPEG")
    return out.getvalue()


async def _course(tenant, lessons: int = 2, seconds: float = 60.0) -> tuple[Course, list[Lesson]]:
    now = dt.datetime.now(dt.UTC)
    position = await Position.objects().where((Position.tenant == tenant.id) & (Position.name == "施工员")).first()
    if position is None:
        position = Position(tenant=tenant.id, name="施工员", created_at=now)
        await position.save()
    per_hour = study.seconds_per_hour(tenant)
    course = Course(tenant=tenant.id, position=position.id, year=2026, title="审核测试课程",
                    required_hours=lessons * seconds / per_hour, created_at=now)
    await course.save()
    rows = []
    for i in range(lessons):
        lesson = Lesson(tenant=tenant.id, course=course.id, title=f"第{i + 1}讲", ordering=i, kind="video",
                        duration_seconds=seconds, created_at=now)
        await lesson.save()
        rows.append(lesson)
    return course, rows


async def _study_all(tenant, account_id: int, course: Course, lessons: list[Lesson], t: float) -> float:
    """Play every lesson to its end through the real crediting path (15 s beats)."""
    for lesson in lessons:
        access = await study.lesson_access(tenant, account_id, lesson.id)
        session = await study.start_session(tenant, account_id, access, now=t)
        pos, seq = 0.0, 0
        while pos < lesson.duration_seconds:
            step = min(15.0, lesson.duration_seconds - pos)
            t += step
            pos += step
            seq += 1
            event = "end" if pos >= lesson.duration_seconds else "beat"
            await beats.beat(tenant, account_id, beats.BeatIn(session.token, seq, lesson.id, pos, True, event), now=t)
        t += 5
    return t


async def _in_review(platform, make_account, *, name="审核学员", flagged=False, lessons=2):
    tenant = platform.tenants.get("construction")
    learner, _ = await make_account("construction", real_name=name)
    course, rows = await _course(tenant, lessons)
    e = Enrollment(tenant=tenant.id, account=learner.id, course=course.id, created_at=dt.datetime.now(dt.UTC))
    await e.save()
    t = await _study_all(tenant, learner.id, course, rows, 2_000_000_000.0)
    e = await Enrollment.objects().get(Enrollment.id == e.id)
    assert e.status == "review"  # the study flow moved it (core.study)
    if flagged:
        await Enrollment.update({Enrollment.flagged: True}).where(Enrollment.id == e.id)
        e.flagged = True
    return tenant, learner, course, rows, e, t


async def _reviewer(make_account, name="审核员甲"):
    account, password = await make_account("construction", role="reviewer", real_name=name)
    return account, password


async def _sign_in(client, account, password):
    r = await client.signin("construction", "id", password, id_number=account.id_number)
    assert r.status_code == 303


async def _balance(e_id: int) -> float:
    rows = await HoursEntry.select(HoursEntry.seconds).where(HoursEntry.enrollment == e_id)
    return sum(r["seconds"] for r in rows)


def _sms_to(mobile: str) -> list[str]:
    from core.notify.services import RECORDED

    return [body for recipient, body in RECORDED if recipient == mobile]


# --- queue -------------------------------------------------------------------------------------


async def test_queue_shows_flagged_first_and_overdue_stands_out(client, platform, make_account):
    tenant, plain, *_ , e_plain, _t = await _in_review(platform, make_account, name="普通学员")
    _, flagged, *_, e_flag, _t = await _in_review(platform, make_account, name="异常学员", flagged=True)
    # The plain case finished in early September: long overdue by any calendar.
    await Enrollment.update({Enrollment.completed_at: dt.datetime(2026, 9, 1, 2, tzinfo=dt.UTC)}).where(
        Enrollment.id == e_plain.id)
    reviewer, password = await _reviewer(make_account)
    await _sign_in(client, reviewer, password)
    r = await client.get(f"{T}/review")
    assert r.status_code == 200
    html = r.text
    assert html.index(f'data-enrollment="{e_flag.id}"') < html.index(f'data-enrollment="{e_plain.id}"')
    row = re.search(rf'<tr class="([^"]*)" data-enrollment="{e_plain.id}"', html).group(1)
    assert "overdue" in row and "已超期" in html
    assert "flagged" in re.search(rf'<tr class="([^"]*)" data-enrollment="{e_flag.id}"', html).group(1)
    assert plain.id_number not in html and flagged.id_number not in html  # masked
    items = await review.queue(tenant)
    ids = [i.enrollment.id for i in items]
    assert ids.index(e_flag.id) < ids.index(e_plain.id)


async def test_learners_and_other_roles_do_not_reach_review(client, platform, make_account):
    tenant, learner, *_, e, _t = await _in_review(platform, make_account)
    for role in ("learner", "tenant_admin"):
        account, password = await make_account("construction", role=role)
        await _sign_in(client, account, password)
        assert (await client.get(f"{T}/review")).status_code == 404
        assert (await client.get(f"{T}/review/{e.id}")).status_code == 404
        assert (await client.post(f"{T}/review/{e.id}/approve")).status_code == 404
        await client.post(f"{T}/signout")
    assert (await Enrollment.objects().get(Enrollment.id == e.id)).status == "review"


# --- approve -----------------------------------------------------------------------------------


async def test_approve_sends_the_guides_sms_and_is_audited(client, platform, make_account, recorder):
    tenant, learner, course, _, e, _t = await _in_review(platform, make_account)
    reviewer, password = await _reviewer(make_account)
    await _sign_in(client, reviewer, password)
    page = await client.get(f"{T}/review/{e.id}")
    assert page.status_code == 200 and "审核通过" in page.text and learner.id_number not in page.text
    r = await client.post(f"{T}/review/{e.id}/approve")
    assert r.status_code == 303
    e2 = await Enrollment.objects().get(Enrollment.id == e.id)
    assert e2.status == "approved" and e2.credited_seconds == pytest.approx(120.0)
    assert _sms_to(learner.mobile)[-1] == tenant.rules.sms.signature + APPROVED_SMS
    entry = await AuditEntry.objects().where((AuditEntry.action == "review.approve")
                                             & (AuditEntry.object_id == str(e.id))).first()
    assert entry.actor == reviewer.id
    assert recorder.decided[-1] == ("construction", e.id, "approve", "done")
    # Approving twice does nothing more.
    again = await client.post(f"{T}/review/{e.id}/approve")
    assert again.status_code == 400 and "不在待审核状态" in again.text
    # Approval is final: no clearing of approved hours (a certificate may already stand on them).
    clear = await client.post(f"{T}/review/{e.id}/clear", {"reason": "substitute", "note": "抓拍非本人"})
    assert clear.status_code == 400 and "不在待审核状态" in clear.text
    assert await ReviewDecision.count().where((ReviewDecision.enrollment == e.id)) == 1


async def test_a_failed_approval_notice_shows_on_the_case(client, platform, make_account):
    tenant, learner, course, _, e, _t = await _in_review(platform, make_account)
    reviewer, password = await _reviewer(make_account)
    await _sign_in(client, reviewer, password)
    assert (await client.post(f"{T}/review/{e.id}/approve")).status_code == 303
    page = await client.get(f"{T}/review/{e.id}")
    assert "短信通知发送失败" not in page.text  # recorded, not failed
    # The provider's receipt says it never arrived (what an SMS provider plugin's job records).
    await Notification.update({Notification.status: "failed", Notification.error: "MOBILE_NOT_ON_SERVICE"}).where(
        (Notification.account == learner.id) & (Notification.template == "hours_approved")
        & (Notification.channel == "sms"))
    page = await client.get(f"{T}/review/{e.id}")
    assert "短信通知发送失败" in page.text and "MOBILE_NOT_ON_SERVICE" in page.text
    assert APPROVED_SMS in page.text


# --- clear (two people) ------------------------------------------------------------------------


async def test_clear_needs_a_second_reviewer_then_reverses_the_ledger(client, platform, make_account, recorder):
    tenant, learner, course, lessons, e, t = await _in_review(platform, make_account, flagged=True)
    before = await HoursEntry.count().where(HoursEntry.enrollment == e.id)
    first, p1 = await _reviewer(make_account, "审核员甲")
    second, p2 = await _reviewer(make_account, "审核员乙")
    await _sign_in(client, first, p1)

    bad = await client.post(f"{T}/review/{e.id}/clear", {"reason": "bogus"})
    assert bad.status_code == 400 and "请选择清除原因" in bad.text
    other = await client.post(f"{T}/review/{e.id}/clear", {"reason": "other", "note": " "})
    assert other.status_code == 400 and "请填写说明" in other.text

    assert (await client.post(f"{T}/review/{e.id}/clear", {"reason": "substitute", "note": "抓拍非本人"})).status_code == 303
    decision = await ReviewDecision.objects().where(ReviewDecision.enrollment == e.id).first()
    assert decision.status == "pending" and decision.reviewer == first.id
    # One reviewer alone changes nothing …
    e1 = await Enrollment.objects().get(Enrollment.id == e.id)
    assert e1.status == "review" and e1.credited_seconds == pytest.approx(120.0)
    assert await HoursEntry.count().where(HoursEntry.enrollment == e.id) == before
    # … and cannot confirm their own clearing.
    own = await client.post(f"{T}/review/{e.id}/clearings/{decision.id}", {"action": "confirm"})
    assert own.status_code == 400 and "不能复核自己提出的清除" in own.text
    assert (await Enrollment.objects().get(Enrollment.id == e.id)).status == "review"
    # Nor approve while a clearing waits.
    assert (await client.post(f"{T}/review/{e.id}/approve")).status_code == 400

    await client.post(f"{T}/signout")
    await _sign_in(client, second, p2)
    r = await client.post(f"{T}/review/{e.id}/clearings/{decision.id}", {"action": "confirm"})
    assert r.status_code == 303
    e2 = await Enrollment.objects().get(Enrollment.id == e.id)
    assert e2.status == "cleared" and e2.credited_seconds == pytest.approx(0.0) and not e2.flagged
    reversals = await HoursEntry.objects().where((HoursEntry.enrollment == e.id)
                                                 & (HoursEntry.reason == review.CLEARED_REASON))
    assert sorted(x.lesson for x in reversals) == sorted(x.id for x in lessons)
    assert all(x.seconds == pytest.approx(-60.0) for x in reversals)
    # Nothing was deleted: every beat's row is still there.
    assert await HoursEntry.count().where(HoursEntry.enrollment == e.id) == before + len(lessons)
    assert await _balance(e.id) == pytest.approx(e2.credited_seconds)
    done = await ReviewDecision.objects().get(ReviewDecision.id == decision.id)
    assert (done.status, done.confirmed_by, done.reversed_seconds) == ("done", second.id, pytest.approx(120.0))
    # Audited with both reviewers.
    audit = await AuditEntry.objects().where((AuditEntry.action == "review.clear")
                                             & (AuditEntry.object_id == str(e.id))).order_by(AuditEntry.id)
    assert [a.actor for a in audit] == [first.id, second.id]
    assert [k for _, eid, k, _s in recorder.decided if eid == e.id] == ["clear", "clear"]

    # The guide's clearing SMS with name, position and year.
    expected = (f"尊敬的 {learner.real_name} 学员您好，因您在继续教育学习课程中存在作弊行为，按照有关要求，"
                f"您的 施工员 岗位 2026 年度学时将被清除，请重新学习（教育培训网）")
    assert _sms_to(learner.mobile)[-1] == tenant.rules.sms.signature + expected

    # The learner sees why, and studies again: the ledger balances after re-study.
    await client.post(f"{T}/signout")
    learner_pw = "Passw0rd-1"
    await _sign_in(client, learner, learner_pw)
    page = await client.get(f"{T}/study/{e.id}")
    assert "您的学时已被清除，原因：替学" in page.text and "抓拍非本人" in page.text
    assert "未计入学时" not in page.text  # the reversal is not shown as a refused beat
    progress = await LessonProgress.objects().where((LessonProgress.account == learner.id))
    assert all(p.credited_seconds == 0 and not p.completed and p.furthest == 0 for p in progress)
    await _study_all(tenant, learner.id, course, lessons, t + 100)
    e3 = await Enrollment.objects().get(Enrollment.id == e.id)
    assert e3.status == "review" and e3.credited_seconds == pytest.approx(120.0)
    assert await _balance(e.id) == pytest.approx(e3.credited_seconds)


async def test_declined_clearing_changes_nothing(platform, make_account):
    tenant, learner, *_, e, _t = await _in_review(platform, make_account)
    first, _ = await _reviewer(make_account)
    second, _ = await _reviewer(make_account)
    hooks = platform.hooks(tenant)
    d = await review.propose_clear(hooks, tenant, first, e.id, "idle")
    with pytest.raises(review.ReviewError):
        await review.decline_clear(hooks, tenant, first, d.id, e.id)
    await review.decline_clear(hooks, tenant, second, d.id, e.id)
    e2 = await Enrollment.objects().get(Enrollment.id == e.id)
    assert e2.status == "review" and e2.credited_seconds == pytest.approx(120.0)
    await review.approve(hooks, tenant, first, e.id)  # no clearing waits any more
    assert (await Enrollment.objects().get(Enrollment.id == e.id)).status == "approved"


async def test_simultaneous_confirmations_apply_once(platform, make_account):
    tenant, learner, course, lessons, e, _t = await _in_review(platform, make_account)
    first, _ = await _reviewer(make_account)
    others = [(await _reviewer(make_account, f"审核员{i}"))[0] for i in range(3)]
    hooks = platform.hooks(tenant)
    d = await review.propose_clear(hooks, tenant, first, e.id, "no_snapshot")
    # Three reviewers and one of them twice more, all at once.
    tries = [*others, others[0], others[0]]
    results = await asyncio.gather(*(review.confirm_clear(hooks, tenant, r, d.id, e.id) for r in tries),
                                   return_exceptions=True)
    ok = [x for x in results if isinstance(x, ReviewDecision)]
    refused = [x for x in results if isinstance(x, review.ReviewError)]
    assert len(ok) == 1 and len(refused) == len(tries) - 1, results
    assert await HoursEntry.count().where((HoursEntry.enrollment == e.id)
                                          & (HoursEntry.reason == review.CLEARED_REASON)) == len(lessons)
    e2 = await Enrollment.objects().get(Enrollment.id == e.id)
    assert e2.status == "cleared" and e2.credited_seconds == pytest.approx(0.0)
    assert await _balance(e.id) == pytest.approx(0.0)
    assert len([b for b in _sms_to(learner.mobile) if "将被清除" in b]) == 1


async def test_clearing_keeps_beats_of_a_studying_learner_consistent(platform, make_account):
    """A clearing and the learner's beats both hold the learner's clock lock: run together, the
    ledger still balances with the enrolment."""
    tenant, learner, course, lessons, e, t = await _in_review(platform, make_account)
    first, _ = await _reviewer(make_account)
    second, _ = await _reviewer(make_account)
    hooks = platform.hooks(tenant)
    d = await review.propose_clear(hooks, tenant, first, e.id, "idle")
    access = await study.lesson_access(tenant, learner.id, lessons[0].id)
    session = await study.start_session(tenant, learner.id, access, now=t)
    sent = [beats.beat(tenant, learner.id, beats.BeatIn(session.token, i, lessons[0].id, 15.0 * i, True), now=t + 15 * i)
            for i in range(1, 3)]
    await asyncio.gather(review.confirm_clear(hooks, tenant, second, d.id, e.id), *sent)
    e2 = await Enrollment.objects().get(Enrollment.id == e.id)
    assert await _balance(e.id) == pytest.approx(e2.credited_seconds)


# --- re-verification ---------------------------------------------------------------------------


async def test_request_reverification(client, platform, make_account, recorder):
    tenant, learner, *_, e, _t = await _in_review(platform, make_account)
    reviewer, password = await _reviewer(make_account)
    await _sign_in(client, reviewer, password)
    assert (await client.post(f"{T}/review/{e.id}/reverify", {"note": "抓拍模糊"})).status_code == 303
    d = await ReviewDecision.objects().where(ReviewDecision.enrollment == e.id).first()
    assert d.kind == "reverify" and d.reviewer == reviewer.id
    assert (await Enrollment.objects().get(Enrollment.id == e.id)).status == "review"
    note = await Notification.objects().where((Notification.account == learner.id)
                                              & (Notification.template == "review_reverify")
                                              & (Notification.channel == "sms")).first()
    assert note is not None and "重新完成人脸识别" in note.body
    assert await AuditEntry.exists().where((AuditEntry.action == "review.reverify") & (AuditEntry.actor == reviewer.id))
    assert recorder.decided[-1][2] == "reverify"
    assert "已要求，学员尚未重新核验" in (await client.get(f"{T}/review/{e.id}")).text

    await client.post(f"{T}/signout")
    await _sign_in(client, learner, "Passw0rd-1")
    assert "审核员要求您重新进行人脸核验" in (await client.get(f"{T}/study/{e.id}")).text
    await FaceVerification(tenant=tenant.id, account=learner.id, purpose="study", nonce=f"rv-{e.id}",
                           status="passed", created_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).save()
    assert "审核员要求您重新进行人脸核验" not in (await client.get(f"{T}/study/{e.id}")).text


# --- the case page -----------------------------------------------------------------------------


async def test_case_page_shows_photos_gate_frames_snapshots_timeline_and_ledger(client, platform, make_account):
    tenant, learner, *_, e, _t = await _in_review(platform, make_account, flagged=True)
    store = platform.storage
    portrait = await store.save(jpeg((10, 200, 10)), tenant_id=tenant.id, kind="portrait", media_type="image/jpeg",
                                owner_id=learner.id)
    front = await store.save(jpeg((200, 10, 10)), tenant_id=tenant.id, kind="id_front", media_type="image/jpeg",
                             owner_id=learner.id)
    from core.roster.tables import LearnerProfile

    await LearnerProfile(tenant=tenant.id, account=learner.id, real_name=learner.real_name,
                         id_number=learner.id_number, portrait=portrait.id, id_front=front.id).save()
    frame = await store.save(jpeg((1, 2, 3)), tenant_id=tenant.id, kind="evidence", media_type="image/jpeg")
    snap = await store.save(jpeg((4, 5, 6)), tenant_id=tenant.id, kind="evidence", media_type="image/jpeg")
    gate = FaceVerification(tenant=tenant.id, account=learner.id, purpose="study", nonce=f"g-{e.id}", status="passed",
                            evidence=[frame.id], scores={"distance": 0.31})
    await gate.save()
    bad = FaceVerification(tenant=tenant.id, account=learner.id, purpose="snapshot", nonce=f"s-{e.id}",
                           status="failed", evidence=[snap.id], scores={"distance": 0.83}, reasons=["非本人"])
    await bad.save()
    await StudyEvent(tenant=tenant.id, account=learner.id, enrollment=e.id, kind="snapshot_mismatch",
                     detail={"distance": 0.83}, verification=bad.id).save()
    await StudyEvent(tenant=tenant.id, account=learner.id, enrollment=e.id, kind="flagged", detail={}).save()
    # Another learner's frame of the same tenant is not reachable through this case.
    stranger, _ = await make_account("construction")
    foreign = await store.save(jpeg(), tenant_id=tenant.id, kind="evidence", media_type="image/jpeg")
    await FaceVerification(tenant=tenant.id, account=stranger.id, purpose="snapshot", nonce=f"x-{e.id}",
                           evidence=[foreign.id]).save()

    reviewer, password = await _reviewer(make_account)
    await _sign_in(client, reviewer, password)
    html = (await client.get(f"{T}/review/{e.id}")).text
    for text in ("本人照片", "进入学习时的人脸核验", "学习过程抓拍", "0.83", "抓拍非本人", "标记异常", "学时明细"):
        assert text in html, text
    assert f"/review/{e.id}/evidence/{snap.id}" in html and f"/review/{e.id}/image/portrait" in html
    for url in (f"/review/{e.id}/image/portrait", f"/review/{e.id}/image/id_front",
                f"/review/{e.id}/evidence/{frame.id}", f"/review/{e.id}/evidence/{snap.id}"):
        r = await client.get(T + url)
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/jpeg"), url
        assert "no-store" in r.headers["cache-control"]
    assert (await client.get(f"{T}/review/{e.id}/evidence/{foreign.id}")).status_code == 404
    assert (await client.get(f"{T}/review/{e.id}/evidence/{portrait.id}")).status_code == 404
    assert (await client.get(f"{T}/review/{e.id}/image/id_back")).status_code == 404
    assert (await client.get(f"{T}/review/{e.id}/image/../../x")).status_code == 404
    # The learner cannot fetch these through review.
    await client.post(f"{T}/signout")
    await _sign_in(client, learner, "Passw0rd-1")
    assert (await client.get(f"{T}/review/{e.id}/image/portrait")).status_code == 404


# --- appeals and legal hold --------------------------------------------------------------------


async def _cleared(platform, make_account):
    tenant, learner, course, lessons, e, t = await _in_review(platform, make_account)
    first, _ = await _reviewer(make_account, "清除甲")
    second, _ = await _reviewer(make_account, "清除乙")
    hooks = platform.hooks(tenant)
    d = await review.propose_clear(hooks, tenant, first, e.id, "substitute")
    d = await review.confirm_clear(hooks, tenant, second, d.id, e.id)
    return tenant, learner, e, first, second, d


async def test_appeal_with_legal_hold(client, platform, make_account, recorder):
    tenant, learner, e, first, second, clearing = await _cleared(platform, make_account)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=tenant.rules.retention.face_evidence_days + 30)
    frame = await platform.storage.save(jpeg(), tenant_id=tenant.id, kind="evidence", media_type="image/jpeg")
    held = FaceVerification(tenant=tenant.id, account=learner.id, purpose="snapshot", nonce=f"h-{e.id}",
                            evidence=[frame.id], created_at=old)
    await held.save()
    # Control: an old check of someone without an appeal is purged as usual.
    other, _ = await make_account("construction")
    other_frame = await platform.storage.save(jpeg(), tenant_id=tenant.id, kind="evidence", media_type="image/jpeg")
    control = FaceVerification(tenant=tenant.id, account=other.id, purpose="snapshot", nonce=f"c-{e.id}",
                               evidence=[other_frame.id], created_at=old)
    await control.save()

    await _sign_in(client, learner, "Passw0rd-1")
    page = await client.get(f"{T}/study/{e.id}")
    assert f"/study/{e.id}/appeal" in page.text
    form = await client.get(f"{T}/study/{e.id}/appeal")
    assert form.status_code == 200 and "申诉说明" in form.text
    empty = await client.post(f"{T}/study/{e.id}/appeal", {"statement": "  "})
    assert empty.status_code == 400 and "请填写申诉说明" in empty.text
    hostile = await client.post(f"{T}/study/{e.id}/appeal", {"statement": "是本人学习"},
                                files={"photo": ("x.jpg", b"<?php echo 1; ?>" * 40, "image/jpeg")})
    assert hostile.status_code == 400 and "不是有效的图片" in hostile.text
    assert not await Appeal.exists().where(Appeal.enrollment == e.id)
    raw = jpeg(exif=True)
    r = await client.post(f"{T}/study/{e.id}/appeal", {"statement": "学习期间均为本人，抓拍时光线较暗。"},
                          files={"photo": ("me.jpg", raw, "image/jpeg")})
    assert r.status_code == 303
    appeal = await Appeal.objects().where(Appeal.enrollment == e.id).first()
    assert appeal.status == "open" and appeal.clearing == clearing.id
    photo = await StoredFile.objects().get(StoredFile.id == appeal.photo)
    stored = await platform.storage.read(photo)
    assert stored != raw and b"SecretCam" not in stored and Image.open(io.BytesIO(stored)).getexif() == {}
    assert recorder.appealed == [("construction", e.id, appeal.id)]
    again = await client.post(f"{T}/study/{e.id}/appeal", {"statement": "再次申诉"})
    assert again.status_code == 400 and "您已提交过申诉" in again.text

    # Legal hold: the purge leaves the appealing learner's evidence, takes the control's.
    counts = await purge(tenant, platform.storage)
    assert counts["held_face_verifications"] >= 1
    assert await FaceVerification.exists().where(FaceVerification.id == held.id)
    assert platform.storage.path(frame).exists()
    assert not await FaceVerification.exists().where(FaceVerification.id == control.id)
    assert not platform.storage.path(other_frame).exists()

    # The two who cleared may not decide; a third reviewer does.
    hooks = platform.hooks(tenant)
    for who in (first, second):
        with pytest.raises(review.ReviewError, match="未参与清除"):
            await appeals.decide_appeal(hooks, tenant, who, appeal.id, e.id, True, "同意")
    third, p3 = await _reviewer(make_account, "申诉审核")
    await client.post(f"{T}/signout")
    await _sign_in(client, third, p3)
    case = await client.get(f"{T}/review/{e.id}")
    assert "学习期间均为本人" in case.text
    assert case.text.count('<tr class="reversal">') == 2 and "审核清除" in case.text  # one per lesson, -60 s each
    assert "合计 0 秒" in case.text and f"/review/{e.id}/appeals/{appeal.id}/photo" in case.text
    assert (await client.get(f"{T}/review/{e.id}/appeals/{appeal.id}/photo")).status_code == 200
    no_answer = await client.post(f"{T}/review/{e.id}/appeals/{appeal.id}", {"action": "uphold", "answer": ""})
    assert no_answer.status_code == 400
    r = await client.post(f"{T}/review/{e.id}/appeals/{appeal.id}", {"action": "uphold", "answer": "抓拍光线原因，核实为本人"})
    assert r.status_code == 303
    e2 = await Enrollment.objects().get(Enrollment.id == e.id)
    assert e2.status == "approved" and e2.credited_seconds == pytest.approx(120.0)
    assert await _balance(e.id) == pytest.approx(120.0)
    # Each lesson gets back what was cleared from it, and its progress with it.
    lessons = [r.id for r in await Lesson.objects().where(Lesson.course == e.course)]
    restored = await HoursEntry.objects().where((HoursEntry.enrollment == e.id)
                                                & (HoursEntry.session == f"appeal:{appeal.id}"))
    assert sorted((r.lesson, r.seconds) for r in restored) == [(i, pytest.approx(60.0)) for i in sorted(lessons)]
    progress = await LessonProgress.objects().where((LessonProgress.account == learner.id)
                                                    & LessonProgress.lesson.is_in(lessons))
    assert len(progress) == 2 and all(p.credited_seconds == pytest.approx(60.0) and p.completed and p.furthest == 60.0
                                      for p in progress)
    assert _sms_to(learner.mobile)[-1] == tenant.rules.sms.signature + APPROVED_SMS
    assert (await Appeal.objects().get(Appeal.id == appeal.id)).decided_by == third.id
    assert await AuditEntry.exists().where((AuditEntry.action == "review.appeal_upheld") & (AuditEntry.actor == third.id))
    # The hold ends with the appeal: the old evidence goes at the next purge.
    await purge(tenant, platform.storage)
    assert not await FaceVerification.exists().where(FaceVerification.id == held.id)
    assert not platform.storage.path(frame).exists()


async def test_appeal_window_and_rejection(platform, make_account):
    tenant, learner, e, first, second, clearing = await _cleared(platform, make_account)
    hooks = platform.hooks(tenant)
    late = clearing.confirmed_at + dt.timedelta(days=tenant.rules.review.appeal_days, seconds=1)
    with pytest.raises(review.ReviewError, match="已超过申诉期限"):
        await appeals.submit_appeal(platform, hooks, tenant, learner, e.id, "申诉", None, now=late)
    appeal = await appeals.submit_appeal(platform, hooks, tenant, learner, e.id, "申诉", None)
    third, _ = await _reviewer(make_account)
    await appeals.decide_appeal(hooks, tenant, third, appeal.id, e.id, False, "抓拍确非本人")
    e2 = await Enrollment.objects().get(Enrollment.id == e.id)
    assert e2.status == "cleared" and e2.credited_seconds == pytest.approx(0.0)
    assert (await Appeal.objects().get(Appeal.id == appeal.id)).status == "rejected"
    with pytest.raises(review.ReviewError, match="已处理"):
        await appeals.decide_appeal(hooks, tenant, third, appeal.id, e.id, True, "改判")
    assert review.held_accounts.__name__ and learner.id not in await review.held_accounts(tenant)


async def test_simultaneous_appeals_keep_one(platform, make_account):
    tenant, learner, e, *_ = await _cleared(platform, make_account)
    hooks = platform.hooks(tenant)
    before = await StoredFile.count().where((StoredFile.tenant == tenant.id) & (StoredFile.kind == "appeal"))
    results = await asyncio.gather(*(appeals.submit_appeal(platform, hooks, tenant, learner, e.id, f"申诉{i}",
                                                          jpeg((i * 40, 90, 90)))
                                     for i in range(4)), return_exceptions=True)
    assert len([x for x in results if isinstance(x, Appeal)]) == 1, results
    assert all(isinstance(x, (Appeal, review.ReviewError)) for x in results), results
    assert await Appeal.count().where(Appeal.enrollment == e.id) == 1
    # The refused submissions' photos are not left behind.
    after = await StoredFile.count().where((StoredFile.tenant == tenant.id) & (StoredFile.kind == "appeal"))
    assert after == before + 1


async def test_simultaneous_upholds_restore_the_hours_and_progress_once(platform, make_account):
    tenant, learner, e, *_ = await _cleared(platform, make_account)
    hooks = platform.hooks(tenant)
    appeal = await appeals.submit_appeal(platform, hooks, tenant, learner, e.id, "是本人学习", jpeg())
    deciders = [(await _reviewer(make_account, f"申诉审核{i}"))[0] for i in range(5)]
    results = await asyncio.gather(*(appeals.decide_appeal(hooks, tenant, r, appeal.id, e.id, True, "同意")
                                     for r in deciders), return_exceptions=True)
    assert len([x for x in results if isinstance(x, ReviewDecision)]) == 1, results
    assert all(isinstance(x, (ReviewDecision, review.ReviewError)) for x in results), results
    assert await _balance(e.id) == pytest.approx(120.0)
    assert (await Enrollment.objects().get(Enrollment.id == e.id)).credited_seconds == pytest.approx(120.0)
    lessons = [r.id for r in await Lesson.objects().where(Lesson.course == e.course)]
    progress = await LessonProgress.objects().where((LessonProgress.account == learner.id)
                                                    & LessonProgress.lesson.is_in(lessons))
    assert sorted(p.credited_seconds for p in progress) == [pytest.approx(60.0)] * 2


async def test_clearing_does_not_touch_exam_results(platform, make_account):
    """The guide: a clearing takes the hours, never the exam. A passed attempt stays passed,
    with its score, and the exam still counts as cleared for the course."""
    from core.exams.eligibility import exam_cleared
    from core.exams.tables import ExamAttempt

    tenant, learner, course, _lessons, e, _t = await _in_review(platform, make_account)
    now = dt.datetime.now(dt.UTC)
    attempt = ExamAttempt(tenant=tenant.id, account=learner.id, enrollment=e.id, course=course.id,
                          position=course.position, year=course.year, status="submitted", started_at=now,
                          deadline=now, submitted_at=now, submitted_by="learner", score_centi=8600, passed=True)
    await attempt.save()
    before = await ExamAttempt.select().where(ExamAttempt.id == attempt.id).first()
    first, _ = await _reviewer(make_account)
    second, _ = await _reviewer(make_account)
    hooks = platform.hooks(tenant)
    d = await review.propose_clear(hooks, tenant, first, e.id, "substitute")
    await review.confirm_clear(hooks, tenant, second, d.id, e.id)
    assert (await Enrollment.objects().get(Enrollment.id == e.id)).status == "cleared"
    assert await ExamAttempt.select().where(ExamAttempt.id == attempt.id).first() == before
    assert await exam_cleared(tenant, await Enrollment.objects().get(Enrollment.id == e.id), hooks)


# --- the guide's SMS texts ---------------------------------------------------------------------


async def test_sms_texts_equal_the_guides(platform):
    """The construction tenant's texts with the guide's own placeholders (XXX, XXX, 2020) are
    found word for word in the guide."""
    from core.notify.services import render_template, templates_for

    tenant = platform.tenants.get("construction")
    texts = await templates_for(platform.hooks(tenant), tenant)
    cleared = render_template(texts["hours_cleared"], {"name": "XXX", "position": "XXX", "year": "2020"})
    assert cleared == ("尊敬的 XXX 学员您好，因您在继续教育学习课程中存在作弊行为，按照有关要求，您的 XXX 岗位 2020 "
                       "年度学时将被清除，请重新学习（教育培训网）")
    assert texts["hours_approved"] == APPROVED_SMS
    if GUIDE.exists():  # the guide itself, where the shared folder is present
        guide = GUIDE.read_text(encoding="utf-8")
        assert f"“{cleared}”" in guide and f"“{APPROVED_SMS}”" in guide


# --- hooks -------------------------------------------------------------------------------------


async def test_review_decided(platform, make_account, recorder):
    tenant, learner, *_, e, _t = await _in_review(platform, make_account)
    reviewer, _ = await _reviewer(make_account)
    await review.request_reverify(platform.hooks(tenant), tenant, reviewer, e.id)
    await review.approve(platform.hooks(tenant), tenant, reviewer, e.id)
    assert recorder.decided[-2:] == [("construction", e.id, "reverify", "done"), ("construction", e.id, "approve", "done")]


async def test_review_appealed(platform, make_account, recorder):
    tenant, learner, e, *_ = await _cleared(platform, make_account)
    appeal = await appeals.submit_appeal(platform, platform.hooks(tenant), tenant, learner, e.id, "申诉", None)
    assert recorder.appealed == [("construction", e.id, appeal.id)]  # awaited (an async impl)


async def test_rules_review_appeal_days(tmp_path):
    from core.tenancy import RulesError, load_rules

    from plugins.construction_group import HERE

    assert load_rules(HERE / "rules.toml").review.appeal_days == 15  # the construction group's, from its rules
    bad = tmp_path / "rules.toml"
    bad.write_text("[review]\nappeal_days = -1\n", encoding="utf-8")
    with pytest.raises(RulesError, match="review.appeal_days"):
        load_rules(bad)


async def test_demo_gives_the_reviewer_a_case(xs_settings, client, platform):
    from core.accounts.tables import Account
    from core.demo import create_demo

    lines = await create_demo(xs_settings, "http://127.0.0.1:8000")
    assert any("学时待审核" in line for line in lines)
    tenant = platform.tenants.get("construction")
    learner = await Account.objects().where((Account.tenant == tenant.id)
                                            & (Account.id_number == "110105199203041237")).first()
    queued = [i for i in await review.queue(tenant) if i.learner.id == learner.id]
    assert queued and all(i.enrollment.status == "review" for i in queued)
    for i in queued:
        assert await _balance(i.enrollment.id) == pytest.approx(i.enrollment.credited_seconds)
    from core.courses.tables import Enrollment
    async def credit() -> dict[int, tuple[float, float]]:
        mine = await Enrollment.objects().where(Enrollment.tenant == tenant.id)
        return {e.id: (e.credited_seconds, await _balance(e.id)) for e in mine}

    before = await credit()
    again = await create_demo(xs_settings, "http://127.0.0.1:8000")
    assert [x for x in again if "学时待审核" in x] == [x for x in lines if "学时待审核" in x]
    # A second demo run credits nothing again, also where the first left a course short of its hours.
    after = await credit()
    assert {i: after[i] for i in before} == before
    assert await Account.exists().where((Account.tenant == tenant.id) & (Account.role == "reviewer"))


async def test_the_demo_credits_a_course_longer_than_its_videos_once(platform, make_account):
    """A demo course whose videos cover less than it requires stays 学习中 with what the videos give;
    crediting the demo again adds nothing (the ledger and the enrolment keep one run's credit)."""
    from core.review.demo import credit_demo_enrolments

    tenant = platform.tenants.get("construction")
    learner, _ = await make_account("construction", role="learner")
    course, _lessons = await _course(tenant, lessons=2, seconds=60.0)
    await Course.update({Course.required_hours: course.required_hours * 2}).where(Course.id == course.id)
    e = Enrollment(tenant=tenant.id, account=learner.id, course=course.id, created_at=dt.datetime.now(dt.UTC))
    await e.save()
    for _ in range(2):
        await credit_demo_enrolments(tenant, [learner.id])
        row = await Enrollment.objects().get(Enrollment.id == e.id)
        assert (row.status, row.credited_seconds, await _balance(e.id)) == ("studying", 120.0, 120.0)
        assert row.completed_at is None
