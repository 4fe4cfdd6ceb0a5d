"""Home page columns, news list/detail, staff article management, attachments, QR entry."""

import datetime as dt
import io

from PIL import Image

from core.content import services as articles
from core.content.tables import Article
from core.files.tables import StoredFile

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def staff(client, make_account):
    acc, pw = await make_account("survey", role="tenant_admin")
    assert (await client.signin("survey", "mobile", pw, mobile=acc.mobile)).status_code == 303
    return acc


def _form(**kw):
    return {"category": "notice", "title": "测试通知", "body": "第一段\n\n第二段", "published_on": "", **kw}


async def test_home_shows_three_columns_enrollment_and_qr(client):
    page = await client.get("/t/survey/")
    assert page.status_code == 200
    for label in ("新闻动态", "通知公告", "政策法规", "报名通知", "更多"):
        assert label in page.text
    assert "培训中心在线教育平台正式上线" in page.text  # a demo article seeded at onboarding
    assert "<svg" in page.text and 'class="segno"' in page.text
    signin = await client.get("/t/survey/signin")
    assert 'class="segno"' in signin.text and "/t/survey/register" in signin.text


async def test_construction_home_does_not_get_the_survey_columns(client):
    page = await client.get("/t/construction/")
    assert page.status_code == 200 and "政策法规" not in page.text
    assert (await client.get("/t/construction/news")).status_code == 404


async def test_staff_publish_edit_delete_with_attachment(client, make_account, tenant):
    await staff(client, make_account)
    r = await client.post("/t/survey/staff/articles/new", _form(title="关于开展春季培训的通知"),
                          files={"attachment": ("a.pdf", PDF, "application/pdf")})
    assert r.status_code == 303
    article = await Article.objects().where(Article.title == "关于开展春季培训的通知").first()
    assert article.tenant == tenant("survey").id and article.published_on == dt.date.today()
    assert article.attachment
    client.cookies.clear()
    home = await client.get("/t/survey/")
    assert "关于开展春季培训的通知" in home.text
    detail = await client.get(f"/t/survey/news/{article.id}")
    assert "<p>第一段</p>" in detail.text and "<p>第二段</p>" in detail.text
    att = await client.get(f"/t/survey/news/{article.id}/attachment")
    assert att.status_code == 200 and att.headers["content-type"] == "application/pdf" and att.content == PDF
    lst = await client.get("/t/survey/news?category=notice")
    assert "关于开展春季培训的通知" in lst.text
    await staff(client, make_account)
    r = await client.post(f"/t/survey/staff/articles/{article.id}", _form(title="改后的标题", remove_attachment="1"))
    assert r.status_code == 303
    article = await Article.objects().where(Article.id == article.id).first()
    assert article.title == "改后的标题" and article.attachment is None
    r = await client.post(f"/t/survey/staff/articles/{article.id}/delete")
    assert r.status_code == 303 and not await Article.exists().where(Article.id == article.id)
    assert (await client.get(f"/t/survey/news/{article.id}")).status_code == 404


async def test_bad_article_input_is_shown_at_the_fields(client, make_account):
    await staff(client, make_account)
    r = await client.post("/t/survey/staff/articles/new", _form(title="", published_on="2026-13-40"),
                          files={"attachment": ("x.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")})
    assert r.status_code == 400
    assert "请输入标题" in r.text and "发布日期格式应为" in r.text and "附件只能是 PDF 文件或 JPG、PNG 图片" in r.text
    r = await client.post("/t/survey/staff/articles/new", _form(category="enrollment", title="报名", position="不存在的岗位"))
    assert r.status_code == 400 and "请选择报名岗位" in r.text
    r = await client.post("/t/survey/staff/articles/new", _form(category="ads"))
    assert r.status_code == 400 and "请选择栏目" in r.text


async def test_future_articles_are_hidden_until_their_date(client, make_account, tenant):
    await staff(client, make_account)
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    await client.post("/t/survey/staff/articles/new", _form(title="明日发布的通知", published_on=tomorrow))
    article = await Article.objects().where(Article.title == "明日发布的通知").first()
    assert "明日发布的通知" in (await client.get("/t/survey/staff/articles")).text
    client.cookies.clear()
    assert "明日发布的通知" not in (await client.get("/t/survey/")).text
    assert (await client.get(f"/t/survey/news/{article.id}")).status_code == 404


async def test_staff_pages_need_tenant_admin_and_ids_stay_in_their_tenant(client, make_account, tenant):
    # An article of the construction tenant is not reachable under survey.
    foreign = Article(tenant=tenant("construction").id, category="news", title="别的机构的新闻",
                      published_on=dt.date.today())
    await foreign.save()
    assert (await client.get(f"/t/survey/news/{foreign.id}")).status_code == 404
    assert (await client.get("/t/survey/staff/articles")).status_code == 303  # sign in first
    acc, pw = await make_account("survey", role="learner")
    await client.signin("survey", "mobile", pw, mobile=acc.mobile)
    assert (await client.get("/t/survey/staff/articles")).status_code == 404
    r = await client.post("/t/survey/staff/articles/new", _form(title="学员不能发布"))
    assert r.status_code == 404 and not await Article.exists().where(Article.title == "学员不能发布")
    await staff(client, make_account)
    assert (await client.get(f"/t/survey/staff/articles/{foreign.id}")).status_code == 404
    r = await client.post(f"/t/survey/staff/articles/{foreign.id}/delete")
    assert r.status_code == 404 and await Article.exists().where(Article.id == foreign.id)


async def test_image_attachment_is_re_encoded(client, make_account):
    await staff(client, make_account)
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 200, 30)).save(out, format="PNG")
    r = await client.post("/t/survey/staff/articles/new", _form(title="带图片的公告"),
                          files={"attachment": ("a.png", out.getvalue(), "image/png")})
    assert r.status_code == 303
    article = await Article.objects().where(Article.title == "带图片的公告").first()
    row = await StoredFile.objects().where(StoredFile.id == article.attachment).first()
    assert row.media_type == "image/jpeg"


async def test_unknown_category_and_bad_page_numbers(client):
    assert (await client.get("/t/survey/news?category=nope")).status_code == 404
    assert (await client.get("/t/survey/news?category=policy&page=-5")).status_code == 200
    assert (await client.get("/t/survey/news?category=policy&page=abc")).status_code == 400


async def test_news_list_pages_count_every_published_article(client, tenant):
    """The list asks for the total only when a page is full (a shorter page is the last one): the
    page numbers stay right on both paths."""
    import math

    t = tenant("survey")
    today = dt.date.today()
    for i in range(23):
        await Article(tenant=t.id, category="policy", title=f"分页法规{i}", body="正文", published_on=today).save()
    articles.forget_lists(t)  # written behind the services' back, as another process would
    total = await Article.count().where((Article.tenant == t.id) & (Article.category == "policy")
                                        & (Article.published_on <= today))
    pages = math.ceil(total / 20)
    first = await client.get("/t/survey/news?category=policy")
    assert f"1 / {pages}" in first.text and "下一页" in first.text
    last = await client.get(f"/t/survey/news?category=policy&page={pages}")
    assert f"{pages} / {pages}" in last.text and "下一页" not in last.text
    assert first.text.count("</time></li>") == 20
    assert last.text.count("</time></li>") == total - 20 * (pages - 1)


async def test_public_lists_are_kept_briefly_and_dropped_on_every_change(client, make_account, tenant, monkeypatch):
    """The home columns and list pages are read once per LIST_CACHE_SECONDS per process; a change
    through the services shows at once, one written elsewhere (another process) within that time."""
    from core.db.engine import CachingSQLiteEngine
    from piccolo.engine import PostgresEngine

    t = tenant("survey")
    await client.get("/t/survey/")  # the lists kept
    ran = []
    for engine in (CachingSQLiteEngine, PostgresEngine):
        original = engine.run_querystring

        async def counting(self, querystring, *args, _original=original, **kwargs):
            if getattr(querystring, "table", None) is Article:
                ran.append(querystring)
            return await _original(self, querystring, *args, **kwargs)

        monkeypatch.setattr(engine, "run_querystring", counting)
    again = await client.get("/t/survey/")
    assert again.status_code == 200 and ran == []  # no article query: the kept lists served it

    # Another process adds one: not shown until the kept lists expire.
    elsewhere = Article(tenant=t.id, category="news", title="别处发布的新闻", body="正文", published_on=dt.date.today())
    await elsewhere.save()
    assert "别处发布的新闻" not in (await client.get("/t/survey/")).text
    later = articles.time.monotonic() + articles.LIST_CACHE_SECONDS + 1
    monkeypatch.setattr(articles.time, "monotonic", lambda: later)
    assert "别处发布的新闻" in (await client.get("/t/survey/")).text
    assert ran  # read again

    # Changes through the services drop the tenant's lists at once.
    await staff(client, make_account)
    r = await client.post("/t/survey/staff/articles/new", _form(category="news", title="刚发布的新闻"))
    assert r.status_code == 303
    client.cookies.clear()
    assert "刚发布的新闻" in (await client.get("/t/survey/")).text
    assert "刚发布的新闻" in (await client.get("/t/survey/news?category=news")).text
    made = await Article.objects().where(Article.title == "刚发布的新闻").first()
    await staff(client, make_account)
    assert (await client.post(f"/t/survey/staff/articles/{made.id}", _form(category="news", title="改过的新闻"))).status_code == 303
    client.cookies.clear()
    home = (await client.get("/t/survey/")).text
    assert "改过的新闻" in home and "刚发布的新闻" not in home
    await staff(client, make_account)
    assert (await client.post(f"/t/survey/staff/articles/{made.id}/delete")).status_code == 303
    client.cookies.clear()
    assert "改过的新闻" not in (await client.get("/t/survey/news?category=news")).text


async def test_kept_lists_stay_in_their_tenant_bounded_and_right_under_simultaneous_reads(tenant):
    """Another tenant's lists are never served from this one's; a flood of distinct page numbers
    keeps at most LIST_CACHE_ENTRIES lists; a save among 60 simultaneous reads is seen by every
    read that starts after it."""
    import asyncio

    survey, construction = tenant("survey"), tenant("construction")
    theirs = Article(tenant=construction.id, category="news", title="别的机构的新闻（缓存）", body="正文",
                     published_on=dt.date.today())
    await theirs.save()
    articles.forget_lists(construction)
    ours = [a.title for a in await articles.latest(survey, "news", 50)]
    assert "别的机构的新闻（缓存）" not in ours
    assert "别的机构的新闻（缓存）" in [a.title for a in await articles.latest(construction, "news", 50)]
    assert [a.title for a in await articles.latest(survey, "news", 50)] == ours  # still its own

    for page in range(1, articles.LIST_CACHE_ENTRIES + 300):
        await articles.page_of(survey, "news", page, 20)
    assert len(articles._lists) <= articles.LIST_CACHE_ENTRIES

    # Readers that began before the save may return the old list, but must not keep it: a read
    # finishing after the save would otherwise serve the old list for LIST_CACHE_SECONDS.
    articles.forget_lists(survey)
    data = articles.ArticleInput(category="news", title="并发期间发布", body="正文", published_on=dt.date.today())
    gate, read, have_read = asyncio.Event(), asyncio.Event(), []

    async def old_then_wait():  # a reader that has the old list in hand when the save commits
        rows = await articles.latest(survey, "news", 50)
        have_read.append(1)
        if len(have_read) == 30:
            read.set()
        await gate.wait()
        return rows

    readers = [asyncio.create_task(articles._listed(survey, ("latest", "news", 50), old_then_wait))
               for _ in range(30)]
    await read.wait()
    saved = await articles.save(survey, data)
    gate.set()
    assert all("并发期间发布" not in [a.title for a in rows] for rows in await asyncio.gather(*readers))
    lists = await asyncio.gather(*(articles.latest(survey, "news", 50) for _ in range(30)))
    assert all("并发期间发布" in [a.title for a in rows] for rows in lists)
    await articles.delete(survey, saved.id)
    assert "并发期间发布" not in [a.title for a in await articles.latest(survey, "news", 50)]


async def test_latest_each_gives_each_columns_latest_kept_or_read(tenant):
    """The home page's columns: the same lists as latest() one by one, whether some are kept and
    some are read, and a change still shows at once."""
    survey = tenant("survey")
    categories = list(articles.CATEGORIES)
    articles.forget_lists(survey)
    await articles.latest(survey, "news", 5)  # one column kept, the others read
    each = await articles.latest_each(survey, categories, 5)
    assert [[a.id for a in rows] for rows in each] == \
        [[a.id for a in await articles.latest(survey, c, 5)] for c in categories]
    saved = await articles.save(survey, articles.ArticleInput(category="policy", title="新的政策（列）", body="正文",
                                                              published_on=dt.date.today()))
    each = await articles.latest_each(survey, categories, 5)
    assert each[categories.index("policy")][0].title == "新的政策（列）"
    await articles.delete(survey, saved.id)
    assert "新的政策（列）" not in [a.title for rows in await articles.latest_each(survey, categories, 5) for a in rows]
