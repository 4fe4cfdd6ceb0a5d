"""课程管理 after creation: title and required hours edited (not the hours once a learner has
completed), lessons reordered and deleted — never a lesson with credited hours, with a refusal that
says why — and a warning while the lessons' videos are shorter than the required hours."""

from __future__ import annotations

import datetime as dt
import re

from core.audit.tables import AuditEntry
from core.courses.tables import Course, Enrollment, Lesson
from core.study.tables import HoursEntry
from tests.test_review import T, _course, _in_review, _sign_in


async def _admin(client, make_account):
    admin, password = await make_account("construction", role="tenant_admin")
    await _sign_in(client, admin, password)
    return admin


def _order(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'<li data-lesson="(\d+)"', page)]


async def test_edit_title_and_hours_with_the_content_warning_at_its_boundary(client, platform, make_account):
    tenant = platform.tenants.get("construction")
    admin = await _admin(client, make_account)
    course, lessons = await _course(tenant, lessons=2, seconds=60.0)  # required = exactly the 120 s of video
    per_hour = tenant.rules.study.minutes_per_hour * 60
    page = (await client.get(f"{T}/admin/courses/{course.id}")).text
    assert 'id="content-short"' not in page  # content equal to the requirement: no warning
    listing = (await client.get(f"{T}/admin/courses")).text
    assert "课件时长不足" not in re.search(rf'href="/t/construction/admin/courses/{course.id}">.*?</td>', listing).group(0)
    more = f"{(120 + 1) / per_hour:.6f}"  # one second more than the videos hold
    r = await client.post(f"{T}/admin/courses/{course.id}/edit", {"edit_title": "改名后的课程", "edit_required_hours": more})
    assert r.status_code == 303
    row = await Course.objects().get(Course.id == course.id)
    assert row.title == "改名后的课程" and abs(row.required_hours - float(more)) < 1e-9
    page = (await client.get(f"{T}/admin/courses/{course.id}")).text
    assert 'id="content-short"' in page and "少于要求学时" in page
    listing = (await client.get(f"{T}/admin/courses")).text
    row = re.search(rf'href="/t/construction/admin/courses/{course.id}">.*?</td>', listing).group(0)
    assert "课件时长不足" in row
    entry = await AuditEntry.objects().where((AuditEntry.action == "course.updated")
                                             & (AuditEntry.object_id == str(course.id))).first()
    assert entry.actor == admin.id and entry.detail  # before and after
    for bad in ("", "0", "-1", "abc", "1001"):
        r = await client.post(f"{T}/admin/courses/{course.id}/edit", {"edit_title": "x", "edit_required_hours": bad})
        assert r.status_code == 400 and "请输入要求学时" in r.text
    r = await client.post(f"{T}/admin/courses/{course.id}/edit", {"edit_title": "", "edit_required_hours": "1"})
    assert r.status_code == 400 and "请输入课程名称" in r.text
    assert (await Course.objects().get(Course.id == course.id)).title == "改名后的课程"


async def test_required_hours_do_not_change_once_a_learner_completed(client, platform, make_account):
    tenant, learner, course, rows, e, _t = await _in_review(platform, make_account)
    await _admin(client, make_account)
    r = await client.post(f"{T}/admin/courses/{course.id}/edit",
                          {"edit_title": course.title, "edit_required_hours": "5"})
    assert r.status_code == 400 and "不能修改要求学时" in r.text
    assert (await Course.objects().get(Course.id == course.id)).required_hours == course.required_hours
    # The title alone may change.
    r = await client.post(f"{T}/admin/courses/{course.id}/edit",
                          {"edit_title": "新名称", "edit_required_hours": f"{course.required_hours}"})
    assert r.status_code == 303


async def test_reorder_and_delete_lessons_never_one_with_credited_hours(client, platform, make_account):
    tenant, learner, course, rows, e, _t = await _in_review(platform, make_account, lessons=2)
    extra = Lesson(tenant=tenant.id, course=course.id, title="未学课件", ordering=2, kind="text", body="正文",
                   created_at=dt.datetime.now(dt.UTC))
    await extra.save()
    await _admin(client, make_account)
    page = (await client.get(f"{T}/admin/courses/{course.id}")).text
    assert _order(page) == [rows[0].id, rows[1].id, extra.id]
    assert (await client.post(f"{T}/admin/courses/{course.id}/lessons/{extra.id}/move", {"direction": "up"})).status_code == 303
    assert (await client.post(f"{T}/admin/courses/{course.id}/lessons/{rows[0].id}/move", {"direction": "down"})).status_code == 303
    assert _order((await client.get(f"{T}/admin/courses/{course.id}")).text) == [extra.id, rows[0].id, rows[1].id]
    # The first cannot move up (nothing changes), another course's lesson is not found.
    await client.post(f"{T}/admin/courses/{course.id}/lessons/{extra.id}/move", {"direction": "up"})
    other, other_rows = await _course(tenant, lessons=1)
    r = await client.post(f"{T}/admin/courses/{course.id}/lessons/{other_rows[0].id}/move", {"direction": "up"})
    assert r.status_code == 404

    credited = sum(r["seconds"] for r in await HoursEntry.select(HoursEntry.seconds).where(HoursEntry.lesson == rows[0].id))
    assert credited > 0
    r = await client.post(f"{T}/admin/courses/{course.id}/lessons/{rows[0].id}/delete")
    assert r.status_code == 409 and "1 名学员获得学时" in r.text and "不能删除" in r.text
    assert await Lesson.exists().where(Lesson.id == rows[0].id)
    assert await HoursEntry.count().where(HoursEntry.lesson == rows[0].id) > 0
    assert (await Enrollment.objects().get(Enrollment.id == e.id)).credited_seconds == e.credited_seconds
    # A lesson nobody studied is deleted.
    r = await client.post(f"{T}/admin/courses/{course.id}/lessons/{extra.id}/delete")
    assert r.status_code == 303 and not await Lesson.exists().where(Lesson.id == extra.id)
    assert _order((await client.get(f"{T}/admin/courses/{course.id}")).text) == [rows[0].id, rows[1].id]
    assert await AuditEntry.exists().where((AuditEntry.action == "lesson.deleted") & (AuditEntry.object_id == str(extra.id)))
