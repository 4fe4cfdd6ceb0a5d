"""Question pictures as the pages show them: to the learner, only the pictures of their own
attempt's paper (by the question's number on it, so the page never names a question id); to the
tenant's administrators, any question of their tenant's banks. Both stream the stored, cleaned
JPEG through the app (private storage, never a public URL)."""

from __future__ import annotations

from litestar import Response, get
from litestar.exceptions import NotFoundException

from core.accounts.tables import Account
from core.db.scoped import scoped
from core.exams import attempts
from core.exams.tables import ExamAnswer, Question
from core.files.tables import StoredFile
from core.kernel import Platform
from core.tenancy import Tenant
from core.web import roles

HEADERS = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}


async def _picture(platform: Platform, tenant: Tenant, question: Question | None) -> Response:
    if question is None or question.image is None:
        raise NotFoundException()
    stored = await scoped(StoredFile, tenant).get(question.image)
    if stored is None:
        raise NotFoundException()
    return Response(content=await platform.storage.read(stored), media_type=stored.media_type, headers=HEADERS)


@get("/exams/attempts/{attempt_id:int}/questions/{seq:int}/image", guards=[roles("learner")])
async def attempt_picture(platform: Platform, tenant: Tenant, account: Account, attempt_id: int, seq: int) -> Response:
    attempt = await attempts.attempt_of(tenant, account.id, attempt_id)
    if attempt is None:
        raise NotFoundException()
    answer = await scoped(ExamAnswer, tenant).objects(
        (ExamAnswer.attempt == attempt.id) & (ExamAnswer.seq == seq)).first()
    question = await scoped(Question, tenant).get(answer.question) if answer is not None else None
    return await _picture(platform, tenant, question)


@get("/admin/exams/questions/{question_id:int}/image", guards=[roles("tenant_admin")])
async def question_picture(platform: Platform, tenant: Tenant, question_id: int) -> Response:
    return await _picture(platform, tenant, await scoped(Question, tenant).get(question_id))


ROUTES = [attempt_picture, question_picture]
