"""Saves at the exam's deadline: the last instant a save counts is the deadline plus the network
grace, to the microsecond; saves racing the hand-in or the expiry job are either stored and
scored or refused and not stored, never stored without counting."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from core.exams import scoring, writes
from core.exams.tables import ExamAnswer, ExamAttempt
from exam_helpers import CONFIRM, T, exam_learner, paper, save, shown, start, stepped_clock


@pytest.fixture
def clock(monkeypatch):
    return stepped_clock(monkeypatch)


@pytest.fixture
async def learner(client, platform, make_account):
    return await exam_learner(client, platform, make_account)


async def _attempt(attempt_id: int) -> ExamAttempt:
    return await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()


async def _stored(attempt_id: int) -> list[ExamAnswer]:
    return await ExamAnswer.objects().where((ExamAnswer.attempt == attempt_id) & (ExamAnswer.chosen != ""))


async def test_a_save_counts_up_to_the_deadline_plus_grace_and_not_a_microsecond_after(client, learner, clock):
    attempt_id = await start(client, learner["enrollment"].id)
    deadline = (await _attempt(attempt_id)).deadline
    (a, q), (late, late_q) = (await paper(attempt_id))[:2]
    clock.at = deadline + writes.GRACE
    assert (await save(client, attempt_id, a.seq, shown(a, q.answer))).status_code == 200
    clock.at = deadline + writes.GRACE + dt.timedelta(microseconds=1)
    r = await save(client, attempt_id, late.seq, shown(late, late_q.answer))
    assert r.status_code == 409 and writes.MESSAGES["expired"] in r.text
    attempt = await _attempt(attempt_id)
    assert attempt.status == "expired" and attempt.score_centi == a.points_centi
    assert [s.id for s in await _stored(attempt_id)] == [a.id]


async def test_saves_racing_the_hand_in_at_the_last_instant_are_scored_or_not_stored(client, learner, clock):
    attempt_id = await start(client, learner["enrollment"].id)
    rows = (await paper(attempt_id))[:10]
    clock.at = (await _attempt(attempt_id)).deadline + writes.GRACE
    *saves, handed_in = await asyncio.gather(
        *[save(client, attempt_id, a.seq, shown(a, q.answer)) for a, q in rows],
        client.post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM))
    assert handed_in.status_code == 303
    codes = [r.status_code for r in saves]
    assert set(codes) <= {200, 409}, codes
    stored = await _stored(attempt_id)
    attempt = await _attempt(attempt_id)
    assert attempt.status == "submitted"
    assert len(stored) == codes.count(200)  # every accepted save is stored, no refused one
    assert attempt.score_centi == sum(s.points_centi for s in stored)  # and every stored one is scored


async def test_saves_racing_the_expiry_job_after_the_grace_are_refused(client, learner, clock, platform):
    attempt_id = await start(client, learner["enrollment"].id)
    rows = await paper(attempt_id)
    (first, first_q), later = rows[0], rows[1:9]
    assert (await save(client, attempt_id, first.seq, shown(first, first_q.answer))).status_code == 200
    clock.at = (await _attempt(attempt_id)).deadline + writes.GRACE + dt.timedelta(milliseconds=1)
    *saves, _ = await asyncio.gather(
        *[save(client, attempt_id, a.seq, shown(a, q.answer)) for a, q in later],
        scoring.expire_exam_attempts({"platform": platform}))
    assert [r.status_code for r in saves] == [409] * len(later)
    attempt = await _attempt(attempt_id)
    assert attempt.status == "expired" and attempt.score_centi == first.points_centi
    assert [s.id for s in await _stored(attempt_id)] == [first.id]
