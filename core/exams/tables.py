"""Question banks, questions, attempts and their answers (tenant-owned: query through ``scoped``).

Points are kept in hundredths (``*_centi`` integers) so a paper's points sum exactly to the
rule's total and a score is never a rounding error away from the pass mark.
"""

from piccolo.columns import JSON, Boolean, DoublePrecision, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from core.accounts.tables import Account
from core.courses.tables import Course, Enrollment, Position
from core.tenants.tables import TenantRow


class QuestionBank(Table, tablename="exam_bank"):
    """The question bank (题库) of one position; one per position and tenant."""

    tenant = ForeignKey(references=TenantRow, null=False)
    position = ForeignKey(references=Position, null=False)
    name = Varchar(length=100, default="")
    created_at = Timestamptz()


class Question(Table, tablename="exam_question"):
    """One question. ``options``: the option texts A, B, … one per line (判断: 对 / 错);
    ``answer``: the correct option letters in order ("B", "ACD"; 判断: "A" = 对, "B" = 错);
    ``points``: the bank's 分值, a relative weight (a paper scales its questions to the total)."""

    tenant = ForeignKey(references=TenantRow, null=False)
    bank = ForeignKey(references=QuestionBank, null=False)
    kind = Varchar(length=8)  # single | multiple | judge
    stem = Text()
    options = Text(default="")
    answer = Varchar(length=8)
    explanation = Text(default="")
    points = DoublePrecision(default=1.0)
    active = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    difficulty = Varchar(length=20, default="")  # as the bank writes it (易 / 中 / 难, 1–5, …)
    chapter = Varchar(length=100, default="")  # 章节 / 知识点
    material = Text(default="")  # reading material shared by a group of questions, shown above the stem
    image = Integer(null=True, default=None)  # a StoredFile (kind question_image) shown with the stem


class BankMapping(Table, tablename="exam_bank_mapping"):
    """A column mapping an administrator confirmed for a sheet with these headers
    (``core.exams.mapping.signature``): proposed again for the tenant's next file like it."""

    tenant = ForeignKey(references=TenantRow, null=False)
    signature = Varchar(length=32)
    headers = JSON(default=[])
    plan = JSON(default={})
    updated_at = Timestamptz()


class ExamAttempt(Table, tablename="exam_attempt"):
    """One sitting of a learner for a course's position and year. status: open → submitted
    (by the learner) or expired (submitted by the server when the time was up); a finished
    attempt never changes again. ``open_key`` is set only while open and is unique, so a learner
    has at most one open attempt per course whatever number of requests race to start one."""

    tenant = ForeignKey(references=TenantRow, null=False)
    account = ForeignKey(references=Account, null=False)
    enrollment = ForeignKey(references=Enrollment, null=False)
    course = ForeignKey(references=Course, null=False)
    position = ForeignKey(references=Position, null=False)
    year = Integer()
    number = Integer(default=1)  # 第 n 次考核
    status = Varchar(length=12, default="open")
    open_key = Varchar(length=64, null=True, default=None, unique=True)
    started_at = Timestamptz()
    deadline = Timestamptz()
    submitted_at = Timestamptz(null=True, default=None)
    submitted_by = Varchar(length=8, default="")  # learner | server
    total_centi = Integer(default=10000)
    pass_centi = Integer(default=6000)
    score_centi = Integer(null=True, default=None)
    passed = Boolean(default=False)
    hidden_count = Integer(default=0)  # times the page was left (tab hidden): shown to reviewers


class ExamAnswer(Table, tablename="exam_answer"):
    """One question of an attempt's paper, made when the paper is drawn: the display order of
    its options (``order``: original letters, e.g. "CADB" shows C as A), its points, and the
    learner's choice (original letters) as autosaved. ``awarded_centi`` is set on submission."""

    tenant = ForeignKey(references=TenantRow, null=False)
    attempt = ForeignKey(references=ExamAttempt, null=False)
    seq = Integer()  # 1 … questions
    question = ForeignKey(references=Question, null=False)
    order = Varchar(length=8)
    points_centi = Integer()
    chosen = Varchar(length=8, default="")
    answered_at = Timestamptz(null=True, default=None)
    awarded_centi = Integer(null=True, default=None)
