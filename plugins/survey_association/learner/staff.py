"""Association staff manage the home-page articles at /staff/articles (tenant_admin only)."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core import Article, StoredFile, articles, audit, platform_of, redirect, render, require, tenant_of
from plugins.survey_association.learner.forms import text_fields, upload


async def _editor(request: Request, article=None, data=None, errors=None, status_code: int = 200) -> Response:
    tenant = tenant_of(request)
    return await render(request, "learner/staff_article_form.html", status_code=status_code, article=article,
                        data=data, errors=errors or {}, categories=articles.CATEGORIES,
                        positions=tenant.rules.roster.positions)


async def _own(request: Request, article_id: int) -> Article:
    article = await articles.any_of(tenant_of(request), article_id)
    if article is None:
        raise NotFoundException()
    return article


@get("/staff/articles")
async def staff_articles(request: Request) -> Response:
    require(request, "tenant_admin")
    rows = await articles.all_of(tenant_of(request))
    return await render(request, "learner/staff_articles.html", rows=rows, categories=articles.CATEGORIES,
                        saved=request.query_params.get("saved"))


@get("/staff/articles/new")
async def staff_article_new(request: Request) -> Response:
    require(request, "tenant_admin")
    return await _editor(request)


@get("/staff/articles/{article_id:int}")
async def staff_article_edit(request: Request, article_id: int) -> Response:
    require(request, "tenant_admin")
    return await _editor(request, await _own(request, article_id))


async def _save(request: Request, article=None) -> Response:
    p = platform_of(request)
    tenant = tenant_of(request)
    account = require(request, "tenant_admin")
    form = await text_fields(request)
    data = articles.parse_article_form(form, tenant.rules.roster.positions)
    raw = await upload(request, "attachment")
    cleaned = None
    if raw is not None:
        try:
            cleaned = await articles.clean_attachment(raw)
        except articles.AttachmentRejected as exc:
            data.errors["attachment"] = str(exc)
    if data.errors:
        return await _editor(request, article, data, data.errors, status_code=400)
    attachment_id = None
    if cleaned is not None:
        row = await p.storage.save(cleaned[0], tenant_id=tenant.id, kind="attachment", media_type=cleaned[1])
        attachment_id = row.id
    old_attachment = article.attachment if article is not None else None
    if form.get("remove_attachment") == "1" and article is not None and attachment_id is None:
        article.attachment = None
    saved = await articles.save(tenant, data, article=article, attachment_id=attachment_id, actor_id=account.id)
    if old_attachment and saved.attachment != old_attachment:
        stale = await StoredFile.objects().where((StoredFile.id == old_attachment) & (StoredFile.tenant == tenant.id)).first()
        if stale:
            await p.storage.delete(stale)
    await audit("article.saved", tenant_id=tenant.id, actor_id=account.id, object_type="article", object_id=saved.id,
                category=saved.category)
    return redirect(request, "/staff/articles?saved=1")


@post("/staff/articles/new")
async def staff_article_create(request: Request) -> Response:
    return await _save(request)


@post("/staff/articles/{article_id:int}")
async def staff_article_update(request: Request, article_id: int) -> Response:
    require(request, "tenant_admin")
    return await _save(request, await _own(request, article_id))


@post("/staff/articles/{article_id:int}/delete")
async def staff_article_delete(request: Request, article_id: int) -> Response:
    p = platform_of(request)
    tenant = tenant_of(request)
    account = require(request, "tenant_admin")
    article = await _own(request, article_id)
    await Article.delete().where((Article.id == article.id) & (Article.tenant == tenant.id))
    if article.attachment:
        row = await StoredFile.objects().where((StoredFile.id == article.attachment) & (StoredFile.tenant == tenant.id)).first()
        if row:
            await p.storage.delete(row)
    await audit("article.deleted", tenant_id=tenant.id, actor_id=account.id, object_type="article", object_id=article.id)
    return redirect(request, "/staff/articles?saved=1")


@get("/staff/articles/{article_id:int}/attachment")
async def staff_article_attachment(request: Request, article_id: int) -> Response:
    from plugins.survey_association.learner.home import attachment_response

    require(request, "tenant_admin")
    return await attachment_response(request, tenant_of(request), await _own(request, article_id))


ROUTES = [staff_articles, staff_article_new, staff_article_edit, staff_article_create, staff_article_update,
          staff_article_delete, staff_article_attachment]
