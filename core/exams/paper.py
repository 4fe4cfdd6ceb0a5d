"""The paper: which questions an attempt draws, their points and option order, the display
letters the page uses, and the paper as the page shows it (never the answers).

* **No repeat of the previous paper where the bank allows**: the questions of the learner's
  previous attempt on the position are drawn only when the rest of the bank is too small; a
  bank of at least twice the paper's size gives a disjoint paper, a smaller one repeats as few
  of them as it can (paper size minus the rest of the bank).
* **The page never holds the answer key**: options are shown in a shuffled order under display
  letters; the mapping and the answers stay on the server.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from fractions import Fraction

from core.db.scoped import scoped
from core.exams.tables import ExamAnswer, ExamAttempt, Question
from core.exams.values import JUDGE_OPTIONS, KINDS, LETTERS, ExamPolicy
from core.exams.writes import ExamError
from core.tenancy import Tenant


def allocate_points(weights: Sequence[float], total_centi: int) -> list[int]:
    """Points in hundredths proportional to ``weights`` (the bank's 分值), summing exactly to
    ``total_centi``: each gets the floor of its share, the hundredths left go one each to the
    largest remainders (ties: the earlier question). Equal weights → equal points."""
    exact = [Fraction(str(w)) for w in weights]
    whole = sum(exact)
    shares = [total_centi * w / whole for w in exact]
    floors = [int(s) for s in shares]
    left = total_centi - sum(floors)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in by_remainder[:left]:
        floors[i] += 1
    return floors


def option_texts(question: Question) -> list[str]:
    if question.kind == "judge":
        return list(JUDGE_OPTIONS)
    return [line for line in (question.options or "").split("\n")]


def shuffled_order(question: Question, rng: random.Random) -> str:
    """The original letters in display order; 判断 keeps 对 before 错."""
    letters = list(LETTERS[: len(option_texts(question))])
    if question.kind != "judge":
        rng.shuffle(letters)
    return "".join(letters)


@dataclass(frozen=True)
class PaperItem:
    question: Question
    order: str
    points_centi: int


def pick(questions: Sequence[Question], count: int, previous: Collection[int], rng: random.Random) -> list[Question]:
    """``count`` distinct questions, none of ``previous`` (question ids of the last paper) while
    the others suffice; otherwise all the others and as few of ``previous`` as make up the count."""
    fresh = [q for q in questions if q.id not in previous]
    if len(fresh) >= count:
        return rng.sample(fresh, count)
    repeated = [q for q in questions if q.id in previous]
    chosen = fresh + rng.sample(repeated, count - len(fresh))
    rng.shuffle(chosen)
    return chosen


def draw(questions: Sequence[Question], policy: ExamPolicy, rng: random.Random | None = None,
         previous: Collection[int] = ()) -> list[PaperItem]:
    """``policy.questions`` distinct questions at random (avoiding ``previous``, see ``pick``),
    options shuffled, points scaled from the bank's 分值 to sum exactly to ``policy.total_points``."""
    rng = rng or random.SystemRandom()
    if len(questions) < policy.questions:
        raise ExamError("bank")
    chosen = pick(questions, policy.questions, set(previous), rng)
    points = allocate_points([max(float(q.points), 0.01) for q in chosen], policy.total_points * 100)
    return [PaperItem(q, shuffled_order(q, rng), p) for q, p in zip(chosen, points, strict=True)]


async def question_ids(tenant: Tenant, attempt: ExamAttempt | None) -> set[int]:
    """The questions on an attempt's paper (none without an attempt)."""
    if attempt is None:
        return set()
    rows = await scoped(ExamAnswer, tenant).select(ExamAnswer.question).where(ExamAnswer.attempt == attempt.id)
    return {r["question"] for r in rows}


# --- display letters ---------------------------------------------------------------------------


def to_original(order: str, kind: str, shown: Sequence[str], options: int | None = None) -> str:
    """Display letters → the question's original letters (sorted); ExamError for tampered ids
    (and for options the question no longer has: ``options`` is its count now)."""
    picked = set()
    for letter in shown:
        if not isinstance(letter, str) or len(letter) != 1 or letter not in LETTERS[: len(order)]:
            raise ExamError("bad_option")
        original = order[LETTERS.index(letter)]
        if options is not None and LETTERS.index(original) >= options:
            raise ExamError("bad_option")
        picked.add(original)
    if kind in ("single", "judge") and len(picked) > 1:
        raise ExamError("bad_option")
    return "".join(sorted(picked))


def to_shown(order: str, original: str) -> str:
    return "".join(sorted(LETTERS[order.index(c)] for c in original if c in order))


# --- what the page shows -----------------------------------------------------------------------


@dataclass
class PaperQuestion:
    seq: int
    kind: str
    kind_label: str
    stem: str
    options: list[tuple[str, str]]  # (display letter, text)
    chosen: str  # display letters
    points: float
    material: str = ""  # reading material shared with other questions, shown above the stem
    image: bool = False  # the question has a picture (served by its seq on the attempt)


async def paper_of(tenant: Tenant, attempt: ExamAttempt) -> list[PaperQuestion]:
    """The paper as the page shows it: display letters and texts, the learner's choices; never
    the answers."""
    answers = await scoped(ExamAnswer, tenant).objects(ExamAnswer.attempt == attempt.id).order_by(ExamAnswer.seq)
    questions = {q.id: q for q in await scoped(Question, tenant).objects(
        Question.id.is_in([a.question for a in answers] or [0]))}
    out = []
    for a in answers:
        q = questions[a.question]
        texts = option_texts(q)
        # A question edited since the draw may have fewer options than the paper's order holds.
        options = [(LETTERS[i], texts[LETTERS.index(original)]) for i, original in enumerate(a.order)
                   if LETTERS.index(original) < len(texts)]
        out.append(PaperQuestion(a.seq, q.kind, KINDS[q.kind], q.stem, options, to_shown(a.order, a.chosen),
                                 a.points_centi / 100, q.material, q.image is not None))
    return out


async def unanswered(tenant: Tenant, attempt: ExamAttempt) -> list[int]:
    """The ``seq`` of every question of the paper without a saved choice, in paper order."""
    rows = await scoped(ExamAnswer, tenant).select(ExamAnswer.seq).where(
        (ExamAnswer.attempt == attempt.id) & (ExamAnswer.chosen == "")).order_by(ExamAnswer.seq)
    return [r["seq"] for r in rows]


def points(centi: int | None) -> str:
    """Hundredths as the pages show points: 86, 86.5, 86.25."""
    if centi is None:
        return "—"
    return f"{centi / 100:.2f}".rstrip("0").rstrip(".")
