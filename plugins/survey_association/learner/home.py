"""Home page content (新闻动态 / 通知公告 / 政策法规 / 报名通知), list and detail pages, the
phone-entry QR code, and the demo articles."""

from __future__ import annotations

import functools

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException

import segno

from core import Platform, StoredFile, Tenant, articles, base_of, render, scoped

PER_PAGE = 20


@functools.lru_cache(maxsize=64)  # a handful of addresses per deployment; bounded against odd Host headers
def _qr_svg(url: str) -> str:
    return segno.make(url, error="m").svg_inline(scale=4, border=2, title="扫码进入学员端")


def qr_svg(request: Request, path: str) -> str:
    """Inline SVG QR code of the absolute URL of a tenant page (e.g. "/register"), made once per
    address: encoding it is most of the cost of the page."""
    return _qr_svg(str(request.base_url).rstrip("/") + base_of(request) + path)


def template_vars(request: Request, tenant) -> dict:
    """Lazy helpers for the home and sign-in templates: nothing runs on other pages."""

    async def home_columns() -> list[tuple[str, str, list]]:
        # The columns' lists kept, or their queries at once (not one after another).
        found = await articles.latest_each(tenant, list(articles.CATEGORIES), 5)
        return [(key, label, rows) for (key, label), rows in zip(articles.CATEGORIES.items(), found)]

    return {"home_columns": home_columns, "entry_qr": lambda path="/register": qr_svg(request, path)}


@get("/news")
async def news_list(request: Request, tenant: Tenant, category: str = "news", page: int = 1) -> Response:
    if category not in articles.CATEGORIES:
        raise NotFoundException()
    page = max(1, min(page, 10_000))
    rows, total = await articles.page_of(tenant, category, page, PER_PAGE)
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    return await render(request, "learner/news_list.html",
                        {"category": category, "label": articles.CATEGORIES[category], "rows": rows, "page": page,
                         "pages": pages, "categories": articles.CATEGORIES})


@get("/news/{article_id:int}")
async def news_detail(request: Request, tenant: Tenant, article_id: int) -> Response:
    article = await articles.published(tenant, article_id)
    if article is None:
        raise NotFoundException()
    return await render(request, "learner/news_detail.html",
                        {"article": article, "label": articles.CATEGORIES.get(article.category, ""),
                         "paragraphs": articles.paragraphs(article.body)})


async def attachment_response(platform: Platform, tenant: Tenant, article) -> Response:
    if article is None or article.attachment is None:
        raise NotFoundException()
    row = await scoped(StoredFile, tenant).get_or_404(article.attachment)
    ext = "pdf" if row.media_type == "application/pdf" else "jpg"
    return Response(
        content=await platform.storage.read(row), media_type=row.media_type,
        headers={"Content-Disposition": f'inline; filename="attachment-{article.id}.{ext}"',
                 "X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=300"},
    )


@get("/news/{article_id:int}/attachment")
async def news_attachment(platform: Platform, tenant: Tenant, article_id: int) -> Response:
    """Attachments of published articles are public, but still served by id through the app."""
    return await attachment_response(platform, tenant, await articles.published(tenant, article_id))


SEEDS = [
    articles.Seed("news", "培训中心在线教育平台正式上线", "培训中心在线教育平台今日正式上线。\n企业管理员可通过“企业管理员入口”完成实名认证，登记本单位学员；学员可使用手机号注册并完善个人档案。", 2),
    articles.Seed("news", "关于开展年度继续教育的说明", "本年度继续教育采用线上学习方式，学员完成规定学时并通过审核后计入有效学时。", 9),
    articles.Seed("notice", "关于企业学员信息登记的通知", "请各会员单位于本月底前完成企业学员登记，并通知学员登录平台在“我的 → 个人档案”中核对确认个人信息。\n个人档案中的身份证号须与单位登记的一致，否则无法关联。", 1),
    articles.Seed("notice", "平台维护公告", "平台将于周六 22:00 至 24:00 进行例行维护，期间暂停服务。", 6),
    articles.Seed("policy", "勘察设计从业人员继续教育管理办法（示例）", "第一条 为规范从业人员继续教育工作，制定本办法。\n第二条 从业人员每年应完成规定的继续教育学时。", 30),
    articles.Seed("enrollment", "勘察员岗位培训报名通知", "勘察员岗位培训现已开放报名，请有需要的单位组织学员报名参加。", 3, "勘察员"),
    articles.Seed("enrollment", "安全员岗位培训报名通知", "安全员岗位培训现已开放报名。", 5, "安全员"),
]


async def seed_demo(tenant) -> list[str]:
    return await articles.seed(tenant, SEEDS)


ROUTES = [news_list, news_detail, news_attachment]
