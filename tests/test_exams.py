"""Online exams over HTTP and in the services: the draw, one open attempt, scoring, server-side
expiry, tampering, eligibility, ``exam_cleared`` and the hooks ``exam_policy``, ``exam_score``,
``exam_submitted`` (a global test plugin whose answers default to "no opinion")."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import msgspec
import pytest

from core import hookimpl
from core.certificates import services as certificates
from core.courses import services as courses
from core.courses.tables import Course, Enrollment
from core.exams import attempts, eligibility, scoring, writes
from core.exams import paper as exam_paper
from core.exams.tables import ExamAnswer, ExamAttempt, Question
from core.exams.values import LETTERS, ExamPolicy, ScoredQuestion
from exam_helpers import CONFIRM, T, exam_learner, paper, save, shown, start, stepped_clock, wrong


class ExamHooks:
    """Answers None (the core decides) unless a test sets ``policy`` or ``score``."""

    def __init__(self) -> None:
        self.policy: ExamPolicy | None = None
        self.score = None
        self.submitted: list[tuple] = []

    @hookimpl
    def exam_policy(self, tenant, position, course):
        return self.policy

    @hookimpl
    def exam_score(self, tenant, question):
        return self.score(question) if self.score else None

    @hookimpl
    async def exam_submitted(self, tenant, account, attempt):
        self.submitted.append((tenant.slug, account.id, attempt.id, attempt.status, attempt.score_centi))


@pytest.fixture
def xs_plugins():
    return [ExamHooks()]


@pytest.fixture
def xs_settings(xs_settings):
    import dataclasses

    return dataclasses.replace(xs_settings, debug=True)


@pytest.fixture
def hook_plugin(xs_plugins):
    return xs_plugins[0]


@pytest.fixture
def clock(monkeypatch):
    return stepped_clock(monkeypatch)


@pytest.fixture
async def learner(client, platform, make_account):
    """A signed-in construction learner (施工员) whose course hours are all credited."""
    return await exam_learner(client, platform, make_account)


# --- the draw ----------------------------------------------------------------------------------


def test_points_are_allocated_exactly_from_the_bank_weights():
    assert exam_paper.allocate_points([1] * 50, 10000) == [200] * 50
    assert exam_paper.allocate_points([1, 1, 1], 10000) == [3334, 3333, 3333]  # the remainder goes first come
    rng = random.Random(7)
    for _ in range(200):
        weights = [rng.choice([0.5, 1, 1.5, 2, 3, 5]) for _ in range(50)]
        points = exam_paper.allocate_points(weights, 10000)
        assert sum(points) == 10000
        for w, p in zip(weights, points):
            assert abs(p - 10000 * w / sum(weights)) < 1  # proportional to the 分值 within a hundredth


async def test_a_paper_has_50_distinct_questions_worth_100_points_with_shuffled_options(client, learner):
    attempt_id = await start(client, learner["enrollment"].id)
    rows = await paper(attempt_id)
    assert len(rows) == 50 and len({q.id for _, q in rows}) == 50
    assert sum(a.points_centi for a, _ in rows) == 10000
    assert [a.seq for a, _ in rows] == list(range(1, 51))
    for a, q in rows:
        assert sorted(a.order) == list(LETTERS[:len(exam_paper.option_texts(q))])
        assert q.active
    choice = [a for a, q in rows if q.kind != "judge"]
    assert any(a.order != "".join(sorted(a.order)) for a in choice)  # options shuffled
    judge = [a for a, q in rows if q.kind == "judge"]
    assert all(a.order == "AB" for a in judge)  # 对 stays before 错


async def test_the_attempt_page_never_holds_the_answer_key(client, learner):
    attempt_id = await start(client, learner["enrollment"].id)
    page = (await client.get(f"{T}/exams/attempts/{attempt_id}")).text
    rows = await paper(attempt_id)
    assert page.count('class="question"') == 50
    shown_text = page
    for _, q in rows:  # what the paper shows on purpose: stems and options
        shown_text = shown_text.replace(q.stem, "")
        for text in exam_paper.option_texts(q):
            shown_text = shown_text.replace(f"</span> {text}</label>", "")
    for a, q in rows:
        assert q.stem in page
        if q.explanation:
            assert q.explanation not in shown_text  # no 解析 (it would give the answer away)
        texts = exam_paper.option_texts(q)
        block = page.split(f'id="q{a.seq}"', 1)[1].split('class="question"', 1)[0]
        # The options appear in the paper's shuffled order, under display letters A, B, …
        for i, original in enumerate(a.order):
            assert f'<span class="letter">{LETTERS[i]}.</span> {texts[LETTERS.index(original)]}</label>' in block
    assert "data-answer" not in page and "answer_key" not in page and "correct" not in page.lower()


# --- one open attempt ----------------------------------------------------------------------------


async def test_many_simultaneous_starts_make_one_open_attempt(client, learner):
    t, acc, enr = learner["tenant"], learner["account"], learner["enrollment"]
    results = await asyncio.gather(*[attempts.start_attempt(learner["hooks"], t, acc.id, enr.id) for _ in range(12)])
    assert len({a.id for a in results}) == 1
    assert await ExamAttempt.count().where((ExamAttempt.account == acc.id) & (ExamAttempt.status == "open")) == 1
    assert await ExamAnswer.count().where(ExamAnswer.attempt == results[0].id) == 50
    # Over HTTP too, and a reload (or another device) resumes the same attempt.
    ids = await asyncio.gather(*[start(client, enr.id) for _ in range(6)])
    assert set(ids) == {results[0].id}
    assert await ExamAttempt.count().where(ExamAttempt.account == acc.id) == 1


async def test_autosave_keeps_the_choice_and_the_reload_shows_it(client, learner):
    attempt_id = await start(client, learner["enrollment"].id)
    rows = await paper(attempt_id)
    a, q = next((a, q) for a, q in rows if q.kind == "multiple")
    r = await save(client, attempt_id, a.seq, shown(a, q.answer))
    assert r.status_code == 200 and "已保存" in r.text and 'data-answered="1"' in r.text
    stored = await ExamAnswer.objects().where(ExamAnswer.id == a.id).first()
    assert stored.chosen == q.answer and stored.answered_at is not None
    page = (await client.get(f"{T}/exams/attempts/{attempt_id}")).text
    block = page.split(f'id="q{a.seq}"', 1)[1].split('class="question"', 1)[0]
    assert block.count("checked") == len(q.answer)
    r = await save(client, attempt_id, a.seq, [])  # unticking everything clears it
    assert r.status_code == 200 and (await ExamAnswer.objects().where(ExamAnswer.id == a.id).first()).chosen == ""


# --- scoring -------------------------------------------------------------------------------------


def test_default_scoring_of_single_multiple_and_judge():
    f = scoring.default_fraction
    assert f(ScoredQuestion("single", "B", "B", 200)) == 1.0
    assert f(ScoredQuestion("single", "B", "C", 200)) == 0.0
    assert f(ScoredQuestion("multiple", "ACD", "ACD", 200)) == 1.0
    assert f(ScoredQuestion("multiple", "ACD", "AC", 200)) == 0.0  # missing one: no points
    assert f(ScoredQuestion("multiple", "ACD", "ABCD", 200)) == 0.0  # one too many: no points
    assert f(ScoredQuestion("judge", "B", "B", 200)) == 1.0
    assert f(ScoredQuestion("judge", "B", "", 200)) == 0.0


async def test_submit_scores_single_multiple_and_judge_answers(client, learner, hook_plugin):
    attempt_id = await start(client, learner["enrollment"].id)
    rows = await paper(attempt_id)
    expected = 0
    for i, (a, q) in enumerate(rows):
        if i % 3 == 0:
            continue  # unanswered
        right = i % 3 == 1
        if q.kind == "multiple" and right:
            choice = shown(a, q.answer)
        elif q.kind == "multiple":
            choice = shown(a, q.answer[:-1])  # one correct option missing
        else:
            choice = shown(a, q.answer) if right else wrong(a, q)
        assert (await save(client, attempt_id, a.seq, choice)).status_code == 200
        expected += a.points_centi if right else 0
    r = await client.post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM)
    assert r.status_code == 303
    attempt = await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()
    assert attempt.status == "submitted" and attempt.submitted_by == "learner"
    assert attempt.score_centi == expected and attempt.passed == (expected >= 6000) and attempt.open_key is None
    result = (await client.get(f"{T}/exams/attempts/{attempt_id}")).text
    assert exam_paper.points(expected) in result and ("不合格" in result) == (expected < 6000)
    assert hook_plugin.submitted[-1][2:] == (attempt_id, "submitted", expected)


async def test_failing_then_passing_counts_the_best_result_and_clears_the_exam(client, learner, clock):
    t, enr = learner["tenant"], learner["enrollment"]
    assert not await eligibility.exam_cleared(t, enr)
    first = await start(client, enr.id)
    assert (await client.post(f"{T}/exams/attempts/{first}/submit", data=CONFIRM)).status_code == 303  # nothing answered: 0
    clock.offset = dt.timedelta(minutes=t.rules.exam.cooldown_minutes)  # the retake's pause is over
    page = (await client.get(f"{T}/exams")).text
    assert "再次考核" in page and "不合格" in page
    second = await start(client, enr.id)
    assert second != first
    for a, q in await paper(second):
        await save(client, second, a.seq, shown(a, q.answer))
    assert (await client.post(f"{T}/exams/attempts/{second}/submit")).status_code == 303  # all answered: no question
    done = await ExamAttempt.objects().where(ExamAttempt.id == second).first()
    assert done.score_centi == 10000 and done.passed and done.number == 2
    assert await eligibility.exam_cleared(t, enr)
    page = (await client.get(f"{T}/exams")).text
    assert "您已通过本岗位考核，无需再考" in page and "最好成绩" in page and "开始考试" not in page
    r = await client.post(f"{T}/exams/{enr.id}/start")  # no third attempt after passing
    assert r.status_code == 303 and "/exams?notice=" in r.headers["location"]
    # Another course of the same position and year is cleared by the same pass.
    other = await courses.create_course(t, learner["course"].position, 2026, "同岗位另一课程", 1.0)
    e2 = Enrollment(tenant=t.id, account=learner["account"].id, course=other.id, created_at=dt.datetime.now(dt.UTC))
    await e2.save()
    assert await eligibility.exam_cleared(t, e2)


# --- expiry --------------------------------------------------------------------------------------


async def test_an_expired_attempt_is_submitted_by_the_server_on_read(client, learner, clock, hook_plugin):
    attempt_id = await start(client, learner["enrollment"].id)
    rows = await paper(attempt_id)
    for a, q in rows[:40]:
        await save(client, attempt_id, a.seq, shown(a, q.answer))
    expected = sum(a.points_centi for a, _ in rows[:40])
    clock.offset = dt.timedelta(minutes=61)
    late = await save(client, attempt_id, rows[45][0].seq, shown(rows[45][0], rows[45][1].answer))
    assert late.status_code == 409 and "考试时间已到，系统已自动交卷" in late.text
    assert late.headers.get("x-exam-finished") == "1"
    attempt = await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()
    assert attempt.status == "expired" and attempt.submitted_by == "server" and attempt.score_centi == expected
    assert attempt.submitted_at <= attempt.deadline
    assert (await ExamAnswer.objects().where(ExamAnswer.id == rows[45][0].id).first()).chosen == ""
    assert [s for s in hook_plugin.submitted if s[2] == attempt_id] == [
        ("construction", learner["account"].id, attempt_id, "expired", expected)]
    # Submitting now is refused with the message; the score stays.
    r = await client.post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM)
    assert r.status_code == 409 and "考试时间已到" in r.text
    assert (await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()).score_centi == expected


async def test_the_learners_page_settles_an_overdue_attempt(client, learner, clock):
    attempt_id = await start(client, learner["enrollment"].id)
    clock.offset = dt.timedelta(minutes=75)
    page = (await client.get(f"{T}/exams")).text
    assert "超时自动交卷" in page
    attempt = await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()
    assert attempt.status == "expired" and attempt.score_centi == 0 and attempt.open_key is None


async def test_the_cron_job_settles_overdue_attempts_of_every_tenant(client, learner, platform, clock):
    attempt_id = await start(client, learner["enrollment"].id)
    assert (await scoring.expire_exam_attempts({"platform": platform}))["construction"] == 0
    clock.offset = dt.timedelta(minutes=61)
    done = await scoring.expire_exam_attempts({"platform": platform})
    assert done["construction"] >= 1
    assert (await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()).status == "expired"
    assert "expire_exam_attempts" in platform.jobs.specs


async def test_an_answer_within_the_grace_after_the_deadline_still_counts(client, learner, clock):
    attempt_id = await start(client, learner["enrollment"].id)
    a, q = (await paper(attempt_id))[0]
    clock.offset = dt.timedelta(minutes=60, seconds=2)  # past the deadline, within the 5 s grace
    assert (await save(client, attempt_id, a.seq, shown(a, q.answer))).status_code == 200
    r = await client.post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM)
    assert r.status_code == 303
    assert (await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()).score_centi == a.points_centi


# --- tampering -----------------------------------------------------------------------------------


async def test_answers_outside_the_paper_and_tampered_options_are_refused(client, learner):
    attempt_id = await start(client, learner["enrollment"].id)
    rows = await paper(attempt_id)
    single = next(a for a, q in rows if q.kind == "single")
    judge = next(a for a, q in rows if q.kind == "judge")
    cases = [
        (0, ["A"], "该题不在本次试卷中"), (51, ["A"], "该题不在本次试卷中"), ("x", ["A"], "该题不在本次试卷中"),
        ("", ["A"], "该题不在本次试卷中"), (single.seq, ["E"], "选项无效"), (single.seq, ["Z"], "选项无效"),
        (single.seq, ["A", "B"], "选项无效"), (single.seq, ["AB"], "选项无效"), (single.seq, ["a"], "选项无效"),
        (judge.seq, ["C"], "选项无效"), (judge.seq, ["A", "B"], "选项无效"),
    ]
    for seq, choice, message in cases:
        r = await save(client, attempt_id, seq, choice)
        assert r.status_code == 400 and message in r.text, (seq, choice, r.status_code, r.text)
    assert await ExamAnswer.count().where((ExamAnswer.attempt == attempt_id) & (ExamAnswer.chosen != "")) == 0
    # A question of another attempt (another learner's paper) is not on this paper either.
    other = await ExamAnswer.objects().where(ExamAnswer.attempt != attempt_id).first()
    if other is not None:
        r = await client.hx_post(f"{T}/exams/attempts/{other.attempt}/answer", data={"seq": "1", "choice": ["A"]})
        assert r.status_code == 404


async def test_double_submit_and_answers_after_submit_change_nothing(client, learner, hook_plugin):
    attempt_id = await start(client, learner["enrollment"].id)
    rows = await paper(attempt_id)
    for a, q in rows[:35]:
        await save(client, attempt_id, a.seq, shown(a, q.answer))
    results = await asyncio.gather(*[client.post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM) for _ in range(5)])
    codes = sorted(r.status_code for r in results)
    assert codes == [303, 409, 409, 409, 409], codes
    assert all("本次考核已交卷，不能再修改答案或重复交卷" in r.text for r in results if r.status_code == 409)
    attempt = await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()
    score = sum(a.points_centi for a, _ in rows[:35])
    assert attempt.score_centi == score
    r = await save(client, attempt_id, rows[40][0].seq, shown(rows[40][0], rows[40][1].answer))
    assert r.status_code == 409 and "本次考核已交卷" in r.text
    again = await client.post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM)
    assert again.status_code == 409
    assert (await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()).score_centi == score
    assert [s for s in hook_plugin.submitted if s[2] == attempt_id] == [
        ("construction", learner["account"].id, attempt_id, "submitted", score)]  # notified once


async def test_a_hidden_page_is_counted_for_reviewers(client, learner, make_account):
    attempt_id = await start(client, learner["enrollment"].id)
    for _ in range(3):
        r = await client.post(f"{T}/exams/attempts/{attempt_id}/hidden")
        assert r.status_code == 200
    assert r.json() == {"hidden": 3}
    reviewer, password = await make_account("construction", role="reviewer", real_name="李审核")
    await client.signin("construction", "id", password, id_number=reviewer.id_number)
    page = (await client.get(f"{T}/admin/exams/attempts")).text
    row = page.split(f'data-attempt="{attempt_id}"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="hidden-count">3</td>' in row
    assert learner["account"].real_name not in page  # names masked


# --- eligibility ---------------------------------------------------------------------------------


async def test_no_exam_before_all_hours_are_studied(client, learner):
    t, enr = learner["tenant"], learner["enrollment"]
    await Enrollment.update({Enrollment.status: "studying", Enrollment.credited_seconds: 1200.0}).where(
        Enrollment.id == enr.id)
    r = await client.post(f"{T}/exams/{enr.id}/start")
    assert r.status_code == 303 and "/exams?notice=" in r.headers["location"]
    page = (await client.get(r.headers["location"])).text
    assert "全部学时学习完成后，方可进入在线考核" in page
    assert await ExamAttempt.count().where(ExamAttempt.enrollment == enr.id) == 0
    # Credited in full while still 学习中 (the review is not required): eligible.
    await Enrollment.update({Enrollment.credited_seconds: 2700.0}).where(Enrollment.id == enr.id)
    assert await start(client, enr.id)


async def test_a_position_without_an_exam_is_cleared_and_cannot_start(client, learner, platform, make_account):
    t = learner["tenant"]
    position = (await courses.ensure_positions(t, ["资料员"]))["资料员"]  # not in exam.positions
    course = await courses.create_course(t, position.id, 2026, "资料员课程", 1.0)
    enr = Enrollment(tenant=t.id, account=learner["account"].id, course=course.id, status="review",
                     credited_seconds=2700.0, created_at=dt.datetime.now(dt.UTC))
    await enr.save()
    assert await eligibility.exam_cleared(t, enr)
    r = await client.post(f"{T}/exams/{enr.id}/start")
    assert "/exams?notice=" in r.headers["location"]
    assert "您的岗位无需在线考核" in (await client.get(f"{T}/exams")).text


async def test_the_rules_limit_on_attempts(client, learner, monkeypatch):
    t = learner["tenant"]
    monkeypatch.setattr(t, "rules", msgspec.structs.replace(
        t.rules, exam=msgspec.structs.replace(t.rules.exam, max_attempts=1)))
    first = await start(client, learner["enrollment"].id)
    await client.post(f"{T}/exams/attempts/{first}/submit", data=CONFIRM)
    r = await client.post(f"{T}/exams/{learner['enrollment'].id}/start")
    assert "/exams?notice=" in r.headers["location"]
    assert "已达到考核次数上限" in (await client.get(r.headers["location"])).text


async def test_a_bank_too_small_for_the_paper_refuses_to_start(client, learner, platform, hook_plugin):
    """A position of its own (no other test seeds its bank) whose exam the policy requires."""
    import secrets

    t = learner["tenant"]
    name = f"无题库岗位{secrets.token_hex(3)}"
    position = (await courses.ensure_positions(t, [name]))[name]
    course = await courses.create_course(t, position.id, 2031, f"{name}课程", 1.0)
    enr = Enrollment(tenant=t.id, account=learner["account"].id, course=course.id, status="review",
                     credited_seconds=2700.0, created_at=dt.datetime.now(dt.UTC))
    await enr.save()
    hook_plugin.policy = ExamPolicy(required=True)
    try:
        assert await eligibility.active_question_count(t, position.id) == 0
        r = await client.post(f"{T}/exams/{enr.id}/start")
        assert "/exams?notice=" in r.headers["location"]
        assert "本岗位题库题目不足" in (await client.get(r.headers["location"])).text
    finally:
        hook_plugin.policy = None


def test_rules_reject_a_bad_exam_section():
    from core.tenancy import RulesError, TenantRules

    assert TenantRules().exam.positions == [] and TenantRules().exam.time_limit_minutes == 60
    assert TenantRules().exam.cooldown_minutes == 0 and TenantRules().exam.daily_attempts == 0  # neutral core
    for bad in ({"time_limit_minutes": 0}, {"questions": 0}, {"max_attempts": -1}, {"cooldown_minutes": -1},
                {"cooldown_minutes": 10081}, {"daily_attempts": -1}):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert({"exam": bad}, TenantRules)
    assert RulesError


# --- hooks ---------------------------------------------------------------------------------------


async def test_exam_policy(client, learner, hook_plugin):
    hook_plugin.policy = ExamPolicy(required=True, questions=10, total_points=100, pass_points=80,
                                    time_limit_minutes=15)
    try:
        attempt_id = await start(client, learner["enrollment"].id)
        rows = await paper(attempt_id)
        assert len(rows) == 10 and sum(a.points_centi for a, _ in rows) == 10000
        attempt = await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()
        assert attempt.pass_centi == 8000 and attempt.deadline - attempt.started_at == dt.timedelta(minutes=15)
        hook_plugin.policy = ExamPolicy(required=False)
        assert await eligibility.exam_cleared(learner["tenant"], learner["enrollment"], learner["hooks"])
        assert not await eligibility.exam_cleared(learner["tenant"], learner["enrollment"])  # rules alone: required
    finally:
        hook_plugin.policy = None


async def test_exam_score(client, learner, hook_plugin):
    """A plugin gives half the points for a 多选 answer that misses options but picks no wrong one."""
    def partial(q: ScoredQuestion):
        if q.kind == "multiple" and q.chosen and set(q.chosen) < set(q.answer):
            return 0.5
        return None

    hook_plugin.score = partial
    try:
        attempt_id = await start(client, learner["enrollment"].id)
        multi = [(a, q) for a, q in await paper(attempt_id) if q.kind == "multiple"]
        assert multi, "the paper drew no 多选 question"
        for a, q in multi:
            await save(client, attempt_id, a.seq, shown(a, q.answer[:-1]))
        await client.post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM)
        attempt = await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()
        assert attempt.score_centi == sum(round(a.points_centi * 0.5) for a, _ in multi)
        hook_plugin.score = lambda q: 7.0  # out of range: clamped to all of the points
        assert scoring.score_answers(learner["hooks"], learner["tenant"],
                                      [ScoredQuestion("single", "A", "B", 200)]) == [200]
    finally:
        hook_plugin.score = None


async def test_exam_submitted(client, learner, hook_plugin):
    attempt_id = await start(client, learner["enrollment"].id)
    before = len(hook_plugin.submitted)
    await client.post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM)
    assert hook_plugin.submitted[before:] == [("construction", learner["account"].id, attempt_id, "submitted", 0)]


# --- pages and roles -----------------------------------------------------------------------------


async def test_learner_exam_pages_and_staff_pages_by_role(client, learner):
    page = (await client.get(f"{T}/exams")).text
    assert "在线考核" in page and "题目共 50 道，满分 100 分" in page and "开始考试" in page
    assert (await client.get(f"{T}/admin/exams")).status_code == 404
    assert f'href="{T}/exams"' in (await client.get(f"{T}/me")).text  # the menu link


async def test_a_question_edited_during_an_open_attempt_breaks_nothing(client, learner):
    attempt_id = await start(client, learner["enrollment"].id)
    a, q = next((a, q) for a, q in await paper(attempt_id) if q.kind == "single")
    try:
        await Question.update({Question.kind: "judge", Question.options: "", Question.answer: "A"}).where(
            Question.id == q.id)
        assert (await client.get(f"{T}/exams/attempts/{attempt_id}")).status_code == 200
        assert (await save(client, attempt_id, a.seq, [LETTERS[a.order.index("D")]])).status_code == 400  # gone
        assert (await ExamAnswer.objects().where(ExamAnswer.id == a.id).first()).chosen == ""  # nothing kept
        assert (await save(client, attempt_id, a.seq, [LETTERS[a.order.index("A")]])).status_code == 200
        assert (await ExamAnswer.objects().where(ExamAnswer.id == a.id).first()).chosen == "A"
        assert (await client.post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM)).status_code == 303
        done = await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()
        assert done.status == "submitted" and done.score_centi is not None
    finally:
        await Question.update({Question.kind: q.kind, Question.options: q.options, Question.answer: q.answer}).where(
            Question.id == q.id)


async def test_many_simultaneous_autosaves_all_land(client, learner):
    attempt_id = await start(client, learner["enrollment"].id)
    rows = await paper(attempt_id)
    results = await asyncio.gather(*[save(client, attempt_id, a.seq, shown(a, q.answer)) for a, q in rows])
    assert [r.status_code for r in results] == [200] * 50
    assert await ExamAnswer.count().where((ExamAnswer.attempt == attempt_id) & (ExamAnswer.chosen != "")) == 50


async def test_a_busy_database_is_retried_then_told_never_a_500(client, learner, monkeypatch):
    import sqlite3

    attempt_id = await start(client, learner["enrollment"].id)
    a, q = (await paper(attempt_id))[0]
    real = attempts._save
    calls = {"n": 0}

    async def flaky(*args):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise sqlite3.OperationalError("database is locked")
        return await real(*args)

    monkeypatch.setattr(attempts, "_save", flaky)
    assert (await save(client, attempt_id, a.seq, shown(a, q.answer))).status_code == 200 and calls["n"] == 3

    async def locked(*args):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(attempts, "_save", locked)
    monkeypatch.setattr(writes, "BUSY_RETRIES", 2)
    r = await save(client, attempt_id, a.seq, shown(a, q.answer))
    assert r.status_code == 503 and "系统繁忙，本次操作未完成，请稍后再试" in r.text
    monkeypatch.setattr(scoring, "_close", locked)
    r = await client.post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM)
    assert r.status_code == 303 and r.headers["location"].startswith(f"{T}/exams/attempts/{attempt_id}?notice=")
    assert (await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()).status == "open"


# --- the pass mark, handing in, the certificate ----------------------------------------------------


async def _hand_in_with(client, learner, hook_plugin, right: int, fraction_of_one: float | None = None) -> ExamAttempt:
    """An attempt with ``right`` questions answered correctly (the 单选 and 判断 first) and, when
    ``fraction_of_one`` is given, one more earning that fraction of its points (``exam_score``)."""
    attempt_id = await start(client, learner["enrollment"].id)
    rows = sorted(await paper(attempt_id), key=lambda r: r[1].kind == "multiple")
    for a, q in rows[:right]:
        await save(client, attempt_id, a.seq, shown(a, q.answer))
    if fraction_of_one is not None:
        a, q = rows[right]
        await save(client, attempt_id, a.seq, wrong(a, q))
        hook_plugin.score = lambda item: fraction_of_one if item.chosen and item.chosen != item.answer else None
    try:
        assert (await client.post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM)).status_code == 303
    finally:
        hook_plugin.score = None
    return await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()


async def test_the_pass_mark_from_the_rules_at_its_boundary(client, learner, hook_plugin, clock):
    """Exactly the rules' pass_points passes; a hundredth less fails (the points of this paper:
    2 each, so 30 right is 60 and 29 right plus 99.5 % of one is 59.99)."""
    rules = learner["tenant"].rules.exam
    each = rules.total_points * 100 // rules.questions
    assert rules.pass_points * 100 % each == 0, "the boundary is reachable with whole questions"
    right = rules.pass_points * 100 // each
    below = await _hand_in_with(client, learner, hook_plugin, right - 1, fraction_of_one=(each - 1) / each)
    assert below.score_centi == rules.pass_points * 100 - 1 and not below.passed
    page = (await client.get(f"{T}/exams/attempts/{below.id}")).text
    assert f'<b id="score">{exam_paper.points(rules.pass_points * 100 - 1)}</b>' in page and "不合格" in page
    clock.offset += dt.timedelta(minutes=rules.cooldown_minutes)
    at = await _hand_in_with(client, learner, hook_plugin, right)
    assert at.score_centi == rules.pass_points * 100 and at.passed
    page = (await client.get(f"{T}/exams/attempts/{at.id}")).text
    assert f'<b id="score">{rules.pass_points}</b>' in page and ">合格<" in page


async def test_handing_in_with_unanswered_questions_asks_first(client, learner, clock):
    attempt_id = await start(client, learner["enrollment"].id)
    rows = await paper(attempt_id)
    for a, q in rows[:14]:
        await save(client, attempt_id, a.seq, shown(a, q.answer))
    # Without htmx: the paper again, with the confirmation; nothing handed in.
    r = await client.post(f"{T}/exams/attempts/{attempt_id}/submit")
    assert r.status_code == 200 and 'class="question"' in r.text
    assert '还有 <b id="unanswered-count">36</b> 题未作答' in r.text and 'name="confirm" value="1"' in r.text
    assert f'href="#q{rows[14][0].seq}"' in r.text  # 继续作答 goes to the first unanswered question
    # With htmx: the confirmation alone, for the page's #submit-confirm.
    r = await client.hx_post(f"{T}/exams/attempts/{attempt_id}/submit")
    assert r.status_code == 200 and 'id="confirm-box"' in r.text and "<html" not in r.text
    assert (await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()).status == "open"
    # Confirmed: handed in (htmx goes to the result).
    r = await client.hx_post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM)
    assert r.headers["hx-redirect"].endswith(f"/exams/attempts/{attempt_id}")
    assert (await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()).status == "submitted"


async def test_when_the_time_is_up_the_hand_in_asks_nothing(client, learner, clock):
    attempt_id = await start(client, learner["enrollment"].id)
    attempt = await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()
    clock.offset = attempt.deadline - writes.server_now() - writes.GRACE  # the countdown's hand-in at zero
    r = await client.post(f"{T}/exams/attempts/{attempt_id}/submit")
    assert r.status_code == 303
    assert (await ExamAttempt.objects().where(ExamAttempt.id == attempt_id).first()).status == "submitted"


async def test_a_passed_result_leads_to_the_certificate(client, learner, platform):
    attempt_id = await start(client, learner["enrollment"].id)
    for a, q in await paper(attempt_id):
        await save(client, attempt_id, a.seq, shown(a, q.answer))
    await client.post(f"{T}/exams/attempts/{attempt_id}/submit")
    # Hours still in review: when the certificate can be printed.
    page = (await client.get(f"{T}/exams/attempts/{attempt_id}")).text
    low, high = learner["tenant"].rules.study.review_workdays
    assert "学时审核通过后才可打印证书" in page and f"学时审核时间大约需要 {low} 到 {high} 个工作日" in page
    assert 'id="certificate-link"' not in page
    # Approved: 打印证书 on the certificate page; once issued: 查看证书.
    enr = learner["enrollment"]
    await Enrollment.update({Enrollment.status: "approved"}).where(Enrollment.id == enr.id)
    page = (await client.get(f"{T}/exams/attempts/{attempt_id}")).text
    assert f'id="certificate-link" href="{T}/certificates/{enr.id}">打印证书<' in page
    await certificates.issue(platform, learner["hooks"], learner["tenant"],
                             await Enrollment.objects().where(Enrollment.id == enr.id).first())
    page = (await client.get(f"{T}/exams/attempts/{attempt_id}")).text
    assert f'id="certificate-link" href="{T}/certificates/{enr.id}">查看证书<' in page
    # A failed result has no certificate note.
    assert 'id="certificate"' not in (await client.get(f"{T}/exams")).text
