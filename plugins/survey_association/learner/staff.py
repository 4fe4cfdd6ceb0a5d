"""Association staff manage the home-page articles at /staff/articles (tenant_admin only)."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core import Account, Article, Platform, StoredFile, Tenant, articles, audit, redirect, render, roles, scoped
from plugins.survey_association.learner.forms import text_fields, upload
from plugins.survey_association.learner.home import attachment_response

STAFF = [roles("tenant_admin")]


async def _editor(request: Request, tenant: Tenant, article=None, data=None, errors=None,
                  status_code: int = 200) -> Response:
    return await render(request, "learner/staff_article_form.html",
                        {"article": article, "data": data, "errors": errors or {}, "categories": articles.CATEGORIES,
                         "positions": tenant.rules.roster.positions}, status_code=status_code)


async def _own(tenant: Tenant, article_id: int) -> Article:
    article = await articles.any_of(tenant, article_id)
    if article is None:
        raise NotFoundException()
    return article


@get("/staff/articles", guards=STAFF)
async def staff_articles(request: Request, tenant: Tenant) -> Response:
    rows = await articles.all_of(tenant)
    return await render(request, "learner/staff_articles.html",
                        {"rows": rows, "categories": articles.CATEGORIES, "saved": request.query_params.get("saved")})


@get("/staff/articles/new", guards=STAFF)
async def staff_article_new(request: Request, tenant: Tenant) -> Response:
    return await _editor(request, tenant)


@get("/staff/articles/{article_id:int}", guards=STAFF)
async def staff_article_edit(request: Request, tenant: Tenant, article_id: int) -> Response:
    return await _editor(request, tenant, await _own(tenant, article_id))


async def _save(request: Request, p: Platform, tenant: Tenant, account: Account, article=None) -> Response:
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
        return await _editor(request, tenant, article, data, data.errors, status_code=400)
    attachment_id = None
    if cleaned is not None:
        row = await p.storage.save(cleaned[0], tenant_id=tenant.id, kind="attachment", media_type=cleaned[1])
        attachment_id = row.id
    old_attachment = article.attachment if article is not None else None
    if form.get("remove_attachment") == "1" and article is not None and attachment_id is None:
        article.attachment = None
    saved = await articles.save(tenant, data, article=article, attachment_id=attachment_id, actor_id=account.id)
    if old_attachment and saved.attachment != old_attachment:
        stale = await scoped(StoredFile, tenant).get(old_attachment)
        if stale:
            await p.storage.delete(stale)
    await audit("article.saved", tenant_id=tenant.id, actor_id=account.id, object_type="article", object_id=saved.id,
                category=saved.category)
    return redirect(request, "/staff/articles?saved=1")


@post("/staff/articles/new", guards=STAFF)
async def staff_article_create(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    return await _save(request, platform, tenant, account)


@post("/staff/articles/{article_id:int}", guards=STAFF)
async def staff_article_update(request: Request, platform: Platform, tenant: Tenant, account: Account,
                               article_id: int) -> Response:
    return await _save(request, platform, tenant, account, await _own(tenant, article_id))


@post("/staff/articles/{article_id:int}/delete", guards=STAFF)
async def staff_article_delete(request: Request, platform: Platform, tenant: Tenant, account: Account,
                               article_id: int) -> Response:
    article = await _own(tenant, article_id)
    await articles.delete(tenant, article.id)
    if article.attachment:
        row = await scoped(StoredFile, tenant).get(article.attachment)
        if row:
            await platform.storage.delete(row)
    await audit("article.deleted", tenant_id=tenant.id, actor_id=account.id, object_type="article", object_id=article.id)
    return redirect(request, "/staff/articles?saved=1")


@get("/staff/articles/{article_id:int}/attachment", guards=STAFF)
async def staff_article_attachment(platform: Platform, tenant: Tenant, article_id: int) -> Response:
    return await attachment_response(platform, tenant, await _own(tenant, article_id))


ROUTES = [staff_articles, staff_article_new, staff_article_edit, staff_article_create, staff_article_update,
          staff_article_delete, staff_article_attachment]
