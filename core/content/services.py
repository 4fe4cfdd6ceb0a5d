"""Home-page articles: 新闻动态, 通知公告, 政策法规 and enrollment notices (报名通知).

Every query is scoped to one tenant. Articles dated in the future are not yet published: only
staff see them. Attachments are private StoredFile rows served by the app, by article id.

The public lists (the home page's columns, the list pages) are kept in this process for
``LIST_CACHE_SECONDS``: they are read on every visit and change a few times a day. A change made
here (``save``, ``delete``, ``seed``) drops the tenant's lists at once, and a read that began
before it returns its list without keeping it; a change made by another
server process shows here within ``LIST_CACHE_SECONDS``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from core.db.scoped import scoped
from core.content.tables import Article
from core.files.images import ImageRejected, clean_image_async
from core.tenancy import Tenant

CATEGORIES = {"news": "新闻动态", "notice": "通知公告", "policy": "政策法规", "enrollment": "报名通知"}
MAX_TITLE = 200
MAX_BODY = 20_000
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
LIST_CACHE_SECONDS = 10.0
LIST_CACHE_ENTRIES = 2048
_lists: dict[tuple, tuple[float, Any]] = {}
_generation: dict[int, int] = {}  # per tenant, moved on by every change: a read begun before keeps nothing


class AttachmentRejected(ValueError):
    """Chinese message shown at the attachment field."""


@dataclass
class ArticleInput:
    """A validated article form; ``errors`` maps field names to Chinese messages."""

    category: str = "news"
    title: str = ""
    body: str = ""
    published_on: dt.date | None = None
    position: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def parse_article_form(form: dict[str, str], positions: list[str]) -> ArticleInput:
    data = ArticleInput(
        category=form.get("category", ""),
        title=(form.get("title") or "").strip(),
        body=(form.get("body") or "").replace("\r\n", "\n").strip(),
        position=(form.get("position") or "").strip(),
    )
    if data.category not in CATEGORIES:
        data.errors["category"] = "请选择栏目"
    if not data.title:
        data.errors["title"] = "请输入标题"
    elif len(data.title) > MAX_TITLE:
        data.errors["title"] = f"标题不能超过 {MAX_TITLE} 个字"
    if len(data.body) > MAX_BODY:
        data.errors["body"] = f"正文不能超过 {MAX_BODY} 个字"
    raw_date = (form.get("published_on") or "").strip()
    try:
        data.published_on = dt.date.fromisoformat(raw_date) if raw_date else dt.date.today()
    except ValueError:
        data.errors["published_on"] = "发布日期格式应为 年-月-日，例如 2026-03-01"
    if data.category == "enrollment":
        if data.position not in positions:
            data.errors["position"] = "请选择报名岗位"
    else:
        data.position = ""
    return data


async def clean_attachment(raw: bytes) -> tuple[bytes, str]:
    """A PDF (checked by its content) kept as is, or an image re-encoded without metadata."""
    if not raw:
        raise AttachmentRejected("附件为空，请重新选择")
    if len(raw) > MAX_ATTACHMENT_BYTES:
        raise AttachmentRejected("附件不能超过 10 MB")
    if raw[:5] == b"%PDF-":
        if b"%%EOF" not in raw[-2048:]:
            raise AttachmentRejected("PDF 文件不完整，请重新导出后上传")
        return raw, "application/pdf"
    try:
        image = await clean_image_async(raw)
    except ImageRejected:
        raise AttachmentRejected("附件只能是 PDF 文件或 JPG、PNG 图片") from None
    return image.data, image.media_type


def paragraphs(body: str) -> list[str]:
    """Plain-text body → paragraphs (blank lines or single line breaks separate them)."""
    return [p.strip() for p in (body or "").split("\n") if p.strip()]


def _published(tenant: Tenant):
    return scoped(Article, tenant).objects(Article.published_on <= dt.date.today())


_MISSING = object()


def _kept(tenant: Tenant, key: tuple) -> Any:
    """The list kept for this tenant, ``key`` and day, or ``_MISSING``."""
    hit = _lists.get((tenant.id, dt.date.today(), *key))
    return hit[1] if hit is not None and hit[0] > time.monotonic() else _MISSING


async def _listed(tenant: Tenant, key: tuple, fetch: Callable[[], Awaitable[Any]]) -> Any:
    """``fetch()``, or its result of less than ``LIST_CACHE_SECONDS`` ago (for this tenant,
    ``key`` and day: an article dated today appears at midnight)."""
    kept = _kept(tenant, key)
    if kept is not _MISSING:
        return kept
    key = (tenant.id, dt.date.today(), *key)
    now = time.monotonic()
    generation = _generation.get(tenant.id, 0)
    value = await fetch()
    if _generation.get(tenant.id, 0) != generation:  # changed while reading: maybe stale, not kept
        return value
    if len(_lists) >= LIST_CACHE_ENTRIES:
        _lists.clear()
    _lists[key] = (now + LIST_CACHE_SECONDS, value)
    return value


def forget_lists(tenant: Tenant) -> None:
    """Drop the tenant's kept lists (after any change to its articles)."""
    _generation[tenant.id] = _generation.get(tenant.id, 0) + 1
    for key in [k for k in _lists if k[0] == tenant.id]:
        _lists.pop(key, None)


async def latest(tenant: Tenant, category: str, limit: int = 5) -> list[Article]:
    return await _listed(tenant, ("latest", category, limit), lambda: (
        _published(tenant).where(Article.category == category)
        .order_by(Article.published_on, ascending=False).order_by(Article.id, ascending=False)
        .limit(limit)
    ).run())


async def latest_each(tenant: Tenant, categories: list[str], limit: int = 5) -> list[list[Article]]:
    """``latest()`` of several categories (the home page's columns): the kept lists as they are,
    the others read at once. Gathering them all made a task per list on every visit, though
    nearly every visit finds them kept (the home page's CPU went from 385 to 328 µs)."""
    out = [_kept(tenant, ("latest", category, limit)) for category in categories]
    missing = [i for i, rows in enumerate(out) if rows is _MISSING]
    if missing:
        found = await asyncio.gather(*(latest(tenant, categories[i], limit) for i in missing))
        for i, rows in zip(missing, found):
            out[i] = rows
    return out


async def page_of(tenant: Tenant, category: str, page: int = 1, per_page: int = 20) -> tuple[list[Article], int]:
    async def fetch() -> tuple[list[Article], int]:
        rows = await (
            _published(tenant).where(Article.category == category)
            .order_by(Article.published_on, ascending=False).order_by(Article.id, ascending=False)
            .limit(per_page).offset((max(page, 1) - 1) * per_page)
        )
        if page <= 1 and len(rows) < per_page:  # the whole list is on this page: no count needed
            return rows, len(rows)
        total = await scoped(Article, tenant).count((Article.published_on <= dt.date.today())
                                                    & (Article.category == category))
        return rows, total

    return await _listed(tenant, ("page", category, page, per_page), fetch)


async def published(tenant: Tenant, article_id: int) -> Article | None:
    return await _published(tenant).where(Article.id == article_id).first()


async def any_of(tenant: Tenant, article_id: int) -> Article | None:
    """Staff view: published or not, but only the tenant's own."""
    return await scoped(Article, tenant).get(article_id)


async def all_of(tenant: Tenant) -> list[Article]:
    return await (
        scoped(Article, tenant).objects()
        .order_by(Article.published_on, ascending=False).order_by(Article.id, ascending=False)
    )


async def save(tenant: Tenant, data: ArticleInput, *, article: Article | None = None,
               attachment_id: int | None = None, actor_id: int | None = None) -> Article:
    article = article or scoped(Article, tenant).new(created_by=actor_id)
    article.category, article.title, article.body = data.category, data.title, data.body
    article.published_on, article.position = data.published_on, data.position
    if attachment_id is not None:
        article.attachment = attachment_id
    await article.save()
    forget_lists(tenant)
    return article


async def delete(tenant: Tenant, article_id: int) -> None:
    await scoped(Article, tenant).delete().where(Article.id == article_id)
    forget_lists(tenant)


@dataclass(frozen=True)
class Seed:
    category: str
    title: str
    body: str
    days_ago: int
    position: str = ""


async def seed(tenant: Tenant, seeds: list[Seed]) -> list[str]:
    """Create the demo articles missing from the tenant (matched by category and title)."""
    done = []
    for s in seeds:
        exists = await scoped(Article, tenant).exists((Article.category == s.category) & (Article.title == s.title))
        if exists:
            continue
        await scoped(Article, tenant).new(
            category=s.category, title=s.title, body=s.body, position=s.position,
            published_on=dt.date.today() - dt.timedelta(days=s.days_ago),
        ).save()
        done.append(f"article: {CATEGORIES[s.category]} · {s.title}")
    forget_lists(tenant)
    return done
