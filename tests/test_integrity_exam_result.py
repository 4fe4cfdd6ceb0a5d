"""The cheater's suite, exams: no page or fragment the learner can reach after handing in says
which answers were right, nor how many (issue 19, class 4). The result shows the score and
合格 / 不合格 only; retakes draw from the same bank, so a per-question verdict is an answer key."""

from __future__ import annotations

import pytest

from exam_helpers import CONFIRM, T, exam_learner, paper, save, shown, wrong


@pytest.fixture
async def learner(client, platform, make_account):
    return await exam_learner(client, platform, make_account)


async def test_the_result_and_every_page_after_it_hide_which_answers_were_right(client, learner):
    attempt_id = int((await client.post(f"{T}/exams/{learner['enrollment'].id}/start")).headers["location"]
                     .rsplit("/", 1)[1])
    rows = await paper(attempt_id)
    for i, (a, q) in enumerate(rows[:20]):  # 10 right, 10 wrong, 30 unanswered
        assert (await save(client, attempt_id, a.seq, shown(a, q.answer) if i % 2 else wrong(a, q))).status_code == 200
    submitted = await client.post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM)
    assert submitted.status_code == 303
    pages = {
        "result": await client.get(f"{T}/exams/attempts/{attempt_id}"),
        "result (expired flag)": await client.get(f"{T}/exams/attempts/{attempt_id}?expired=1"),
        "second submit": await client.post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM),
        "second submit (htmx)": await client.hx_post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM),
        "autosave after submit": await save(client, attempt_id, rows[0][0].seq, shown(rows[0][0], rows[0][1].answer)),
        "hidden beacon": await client.post(f"{T}/exams/attempts/{attempt_id}/hidden"),
        "exams": await client.get(f"{T}/exams"),
    }
    assert pages["result"].status_code == 200 and 'id="score"' in pages["result"].text
    assert "合格" in pages["result"].text
    for name, r in pages.items():
        text = r.text
        assert "答对" not in text and "答错" not in text, name
        assert "10 / 50" not in text and "10/50" not in text, name  # the old 答对题数
        for a, q in rows:
            assert q.stem not in text, (name, q.stem)  # no per-question review of any kind
            if q.explanation:
                assert q.explanation not in text, name
        assert "awarded" not in text and "correct" not in text.lower(), name
