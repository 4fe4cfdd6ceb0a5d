"""The cheater's suite, exams: a paper never repeats the previous attempt's questions where the
bank allows (issue 19, class 4), so a retake cannot simply replay what the last score taught.
A bank of at least twice the paper is disjoint from the last paper; a smaller one repeats as few
of its questions as it must (paper − (bank − paper)). Tested at the boundary, 2 × 10 and 2 × 10 − 1."""

from __future__ import annotations

import random

import pytest

from core import hookimpl
from core.exams.paper import pick
from core.exams.tables import ExamAnswer
from core.exams.values import ExamPolicy
from exam_helpers import CONFIRM, T, exam_learner, own_bank, start

PAPER = 10


class TenQuestions:
    """The plugin way to shape a paper: 10 questions for the test's own positions."""

    def __init__(self) -> None:
        self.positions: set[str] = set()

    @hookimpl
    def exam_policy(self, tenant, position, course):
        return ExamPolicy(required=True, questions=PAPER) if position in self.positions else None


@pytest.fixture
def xs_plugins():
    return [TenQuestions()]


def test_pick_is_disjoint_from_2n_and_repeats_the_minimum_below():
    rng = random.Random(19)
    for size in (2 * PAPER, 2 * PAPER + 7, 2 * PAPER - 1, PAPER + 3, PAPER):
        bank = [type("Q", (), {"id": i})() for i in range(size)]
        previous = set(rng.sample(range(size), PAPER))
        for _ in range(200):
            chosen = pick(bank, PAPER, previous, rng)
            ids = {q.id for q in chosen}
            assert len(ids) == PAPER
            assert len(ids & previous) == max(0, PAPER - (size - PAPER)), size


async def _question_ids(attempt_id: int) -> set[int]:
    return {r["question"] for r in await ExamAnswer.select(ExamAnswer.question).where(ExamAnswer.attempt == attempt_id)}


@pytest.mark.parametrize("size, overlap", [(2 * PAPER, 0), (2 * PAPER - 1, 1)])
async def test_consecutive_papers_over_http(client, platform, make_account, xs_plugins, size, overlap):
    tenant = platform.tenants.get("construction")
    name = await own_bank(tenant, size)
    xs_plugins[0].positions.add(name)
    learner = await exam_learner(client, platform, make_account, position_name=name)
    papers = []
    for _ in range(6):
        attempt_id = await start(client, learner["enrollment"].id)
        papers.append(await _question_ids(attempt_id))
        assert (await client.post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM)).status_code == 303
    for before, after in zip(papers, papers[1:]):
        assert len(before) == len(after) == PAPER
        assert len(before & after) == overlap, (size, before & after)
