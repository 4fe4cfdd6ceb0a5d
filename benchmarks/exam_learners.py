"""Learners with an open exam attempt, written as rows (the exam and request-path benchmarks
measure signed-in requests, not sign-in or study)."""

from __future__ import annotations

import datetime as dt


async def exam_learners(platform, tenant, n: int) -> list[tuple[int, int]]:
    """``n`` learners of ``tenant``, each enrolled on a new 施工员 course with its hours done
    (待审核) and an open attempt on the position's bank, which the caller has seeded:
    (account id, attempt id) each. Imports core here: the caller configures the environment first."""
    from core.accounts.tables import Account
    from core.courses.tables import Course, Enrollment, Position
    from core.exams.attempts import start_attempt
    from core.testing.ids import fake_id_number, fake_mobile

    now = dt.datetime.now(dt.UTC)
    position = await Position.objects().where((Position.tenant == tenant.id) & (Position.name == "施工员")).first()
    course = Course(tenant=tenant.id, position=position.id, year=2026, title="bench", required_hours=1.0,
                    created_at=now)
    await course.save()
    out = []
    for _ in range(n):
        a = Account(tenant=tenant.id, role="learner", real_name="压测学员", id_number=fake_id_number(),
                    mobile=fake_mobile(), password_hash="x", created_at=now)
        await a.save()
        e = Enrollment(tenant=tenant.id, account=a.id, course=course.id, status="review", credited_seconds=2700.0,
                       created_at=now)
        await e.save()
        out.append((a.id, (await start_attempt(platform.hooks(tenant), tenant, a.id, e.id)).id))
    return out
