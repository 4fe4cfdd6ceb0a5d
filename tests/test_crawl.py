"""Every page, every role, every installed tenant, on the demo's data.

For each tenant the demo sets up, the crawl signs in as each role (anonymous, learner, company
admin, reviewer, tenant admin, platform operator), follows every link from the home page on and
then opens every GET route the app registers that the links did not reach, its path parameters
filled from the tenant's data (the role's own rows first). It fails on an answer of 500 or more, an
error that is not an HTML page in Chinese (a JSON error body), a zh-CN page with untranslated
English, a link or a stylesheet, script or image that leads to a page that does not exist, and a
page that does not say it is zh-CN. Refusals (401, 403, 404 for another role's page, a redirect to
sign-in) are fine when they are Chinese HTML. It prints how many routes × roles it opened.
"""

from __future__ import annotations

import ast
import dataclasses
from collections import deque
from pathlib import Path

import pytest

from core.accounts.tables import Account
from core.demo import OPERATOR, create_demo
from core.hookcalls import collect
from tests.crawl_pages import Page, Tally, english_words, fills, get_routes, has_chinese, internal, param_values, route_of

ROOT = Path(__file__).resolve().parents[1]
PER_ROUTE = 3  # pages of one route one role opens by following links (a list links 100 learners)

# Findings that are another issue's feature, each named narrowly, with the issue in a comment:
# (role, route, kind), e.g. ("survey:tenant_admin", "/t/survey/admin/learners", "HTTP 500") or
# (…, "English") or (…, "dead link"). Empty: the crawl finds nothing today.
KNOWN: set[tuple[str, str, str]] = set()
LANGS: dict[str, str] = {}  # tenant slug → its language (TenantSpec.language): what its pages say they are


class Crawl:
    def __init__(self, client, routes, every_route, tally: Tally, role: str, values: dict[str, list[str]]) -> None:
        self.http, self.routes, self.tally, self.role, self.values = client.http, routes, tally, role, values
        self.every_route = every_route
        self.seen: set[str] = set()
        self.per_route: dict[str, int] = {}
        self.queue: deque[tuple[str, str | None, bool]] = deque()

    def problem(self, route: str, what: str, url: str, source: str | None) -> None:
        if (self.role, route, what.split(":")[0]) in KNOWN:
            return
        self.tally.problems.append(f"[{self.role}] {url} ({what})" + (f" ← linked from {source}" if source else ""))

    def add(self, url: str, source: str | None, htmx: bool = False) -> None:
        """Queue ``url`` (as htmx asks for it when ``htmx``), at most ``PER_ROUTE`` of a route."""
        if (url, htmx) in self.seen or "lang=" in url:  # (the language switch would make the rest English)
            return
        found = route_of(self.routes, url.split("?")[0])
        key = found[0].path if found else url
        if self.per_route.get(key, 0) >= PER_ROUTE:
            return
        self.per_route[key] = self.per_route.get(key, 0) + 1
        self.seen.add((url, htmx))
        self.queue.append((url, source, htmx))

    async def run(self, starts: list[str], assets: set[str]) -> None:
        for url in starts:
            self.add(url, None)
        while True:
            while self.queue:
                url, source, htmx = self.queue.popleft()
                await self.open(url, source, assets, htmx)
            unopened = [r for r in self.routes if (self.role, r.path) not in self.tally.opened]
            if not unopened:
                return
            for route in unopened:  # what no link reached, with ids from the data (until one is found)
                self.tally.opened.add((self.role, route.path))
                for url in fills(route, self.values):
                    self.seen.add((url, False))
                    if await self.open(url, None, assets) != 404:
                        break

    async def open(self, url: str, source: str | None, assets: set[str], htmx: bool = False) -> int:
        found = route_of(self.routes, url.split("?")[0])
        route = found[0].path if found else "(no route)"
        if found:
            self.tally.opened.add((self.role, route))
            for name, value in found[1].items():  # ids seen in links fill the routes no link reaches
                self.values.setdefault(name, [])
                if value not in self.values[name]:
                    self.values[name].insert(0, value)
        r = await self.http.get(url, follow_redirects=False, headers={"HX-Request": "true"} if htmx else {})
        if "hx-redirect" in r.headers:  # htmx's redirect
            self.add(r.headers["hx-redirect"], url)
        self.tally.requests += 1
        kind = r.headers.get("content-type", "")
        if r.status_code >= 500:
            self.problem(route, f"HTTP {r.status_code}: {r.text[:120]!r}", url, source)
            return r.status_code
        if r.status_code in (301, 302, 303, 307, 308):
            target = internal(str(r.url), r.headers["location"])
            if target:
                self.add(target, url)
            return r.status_code
        if r.status_code == 404 and source is not None:
            self.problem(route, "dead link: HTTP 404", url, source)
        if r.status_code >= 400 and not (kind.startswith("text/html") and has_chinese(r.text)):
            self.problem(route, f"error not a Chinese page: HTTP {r.status_code} {kind}: {r.text[:120]!r}", url, source)
            return r.status_code
        if not kind.startswith("text/html"):
            return r.status_code  # a download: a file, an image, a PDF
        page = Page(r.text)
        if page.lang == "zh-CN":  # a tenant speaking English (TenantSpec.language) is not checked for English
            english = {f"{w} in {text[:80]!r}" for text in page.texts for w in english_words(text)}
            if english:
                self.problem(route, f"English: {'; '.join(sorted(english))}", url, source)
        if page.lang not in (*_page_langs(url), "") or (page.lang == "" and "<html" in r.text[:200]):
            self.problem(route, f"lang={page.lang!r}", url, source)
        for href, widget in [*((h, False) for h in [*page.links, *page.assets]), *((h, True) for h in page.widgets)]:
            target = internal(str(r.url), href)  # (a page's images are opened as its role)
            if target is None:
                continue
            if target.startswith("/static/"):
                assets.add(target)
            elif route_of(self.routes, target.split("?")[0]) is not None:
                self.add(target, url, widget)
            elif route_of(self.every_route, target.split("?")[0]) is None:  # (another tenant's pages: theirs)
                self.problem("(no route)", "dead link: no such page", target, url)
        return r.status_code


def _page_langs(url: str) -> tuple[str, ...]:
    """What a page of ``url`` may say it is: its tenant's language (zh-CN without a tenant), its
    error pages (core.errors) included."""
    slug = url.split("/")[2] if url.startswith("/t/") else ""
    return ("zh-CN" if LANGS.get(slug, "zh_CN") == "zh_CN" else "en",)


async def _sign_in(client, platform, tenant, account: Account, password: str) -> None:
    """Through the tenant's sign-in form: the first password method whose identifier the account has."""
    for method in await collect(platform.hooks(tenant).signin_methods, tenant=tenant):
        names = [f.name for f in method.fields if f.name != "password"]
        if len(names) < len(method.fields) and all(getattr(account, n, None) for n in names):
            r = await client.signin(tenant.slug, method.key, password, **{n: getattr(account, n) for n in names})
            if r.status_code == 303:
                return
    raise AssertionError(f"{account.role} {account.real_name} could not sign in to {tenant.slug}")


async def _accounts(platform, tenant, make_account) -> dict[str, tuple[Account, str]]:
    """One account and its password per role: the demo's (a learner with most to show: approved,
    examined, certified), an account made here for a role the tenant's demo has none of."""
    demos = await collect(platform.hooks(tenant).tenant_demo_accounts, tenant=tenant)
    chosen: dict[str, tuple[Account, str]] = {}
    for demo in sorted(demos, key=lambda d: not d.certified):
        if demo.role in chosen or demo.must_change_password:
            continue
        field = "id_number" if demo.id_number else "mobile" if demo.mobile else "username"
        chosen[demo.role] = (await Account.objects().where(
            (Account.tenant == tenant.id) & (getattr(Account, field) == getattr(demo, field))).first(), demo.password)
    for i, role in enumerate(tenant.roles):  # (a username too, for a tenant that signs in by one: Acme's employee number)
        if role not in chosen:
            chosen[role] = await make_account(tenant.slug, role=role, real_name="巡检账号",
                                              username=f"XS-{tenant.slug}-{i}".upper())
    return chosen


@pytest.fixture
def xs_settings(xs_settings, xs_demo_var):
    """The demo's files live in the session's demo folder (the live server serves the same demo)."""
    return dataclasses.replace(xs_settings, var_dir=xs_demo_var)


async def test_every_page_of_every_role_is_chinese_html_and_no_link_is_dead(xs_settings, xs_app, client, platform,
                                                                           make_account):
    await create_demo(xs_settings, "http://testserver.local")
    routes = get_routes(xs_app)
    tally, assets = Tally(), set()
    shared = [r for r in routes if not r.path.startswith("/t/")]
    LANGS.update({t.slug: t.spec.language for t in platform.tenants})
    roles_crawled = 0
    for tenant in platform.tenants:
        mine = [r for r in routes if r.path.startswith(f"/t/{tenant.slug}/") or r.path == f"/t/{tenant.slug}"]
        accounts = await _accounts(platform, tenant, make_account)
        crawled_roles = ("anonymous", *tenant.roles)  # the core's roles and the tenant's plugins' own
        roles_crawled += len(crawled_roles)
        for role in crawled_roles:
            client.http.cookies.clear()
            account, password = accounts.get(role, (None, ""))
            if account is not None:
                await _sign_in(client, platform, tenant, account, password)
            crawl = Crawl(client, [*mine, *shared], routes, tally, f"{tenant.slug}:{role}",
                          await param_values(tenant, account))
            await crawl.run([f"/t/{tenant.slug}/", f"/t/{tenant.slug}/me"], assets)
    client.http.cookies.clear()
    r = await client.post("/platform/signin", {"username": OPERATOR.username, "password": OPERATOR.password})
    assert r.status_code == 303, r.text
    # The operator belongs to no tenant: a tenant's pages see a visitor (ids: none known).
    await Crawl(client, routes, routes, tally, "operator", {}).run(["/platform", "/"], assets)
    for url in sorted(assets):
        r = await client.get(url)
        tally.requests += 1
        if r.status_code != 200:
            tally.problems.append(f"asset {url}: HTTP {r.status_code}")
    tenants = len(list(platform.tenants))
    print(f"\ncrawl: {len(tally.opened)} routes × roles opened ({len(routes)} GET routes; {roles_crawled} roles "
          f"(the visitor's included) over {tenants} tenants, and the operator), {tally.requests} requests, "
          f"{len(assets)} files they load")
    assert not tally.problems, "\n".join(tally.problems)


def test_the_english_check_flags_words_and_passes_codes_units_and_formats():
    from tests.crawl_pages import Page

    assert english_words("提交 Submit") == ["Submit"]
    assert english_words("状态：reconciled") == ["reconciled"]
    assert english_words("demo=True") == ["demo", "True"]
    for fine in ("证书 PDF 下载", "上传 .xlsx 或 .csv 文件", "roster.xlsx", "验证码 XXXX-XXXX-XXXX-XXXX",
                 "编号 QJ76R60FP6B38MSE", "138****8000", "11010519900101123X", "答案 ABD", "WebM 视频",
                 "视频（MP4、MOV、WebM、MKV、AVI、MPEG）", "https://example.com/a", "English", "单位 MPa"):
        assert english_words(fine) == [], fine
    page = Page('<html lang="zh-CN"><head><title>学员 list</title><script>var x = "words"</script></head>'
                '<body><a href="/t/a/x" title="Open">打开</a><input type="submit" value="Save">'
                '<td><code>survey</code></td><img src="/static/a.png" alt="照片"></body></html>')
    assert page.lang == "zh-CN" and page.links == ["/t/a/x"] and page.assets == ["/static/a.png"]
    assert [w for t in page.texts for w in english_words(t)] == ["list", "Open", "Save"]


def test_every_render_call_passes_the_pages_variables_as_one_mapping():
    """render(request, template, {…}, status_code=…, headers=…) (``core.web.render``; a Jinja
    template's own ``.render`` is another thing): a call that still passes a template variable by
    keyword raises TypeError only when it runs (a POST error branch no test takes), so every call
    in the source is read."""
    wrong = []
    for path in [*ROOT.glob("core/**/*.py"), *ROOT.glob("plugins/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "render":
                extra = [k.arg or "**" for k in node.keywords if k.arg not in ("status_code", "headers")]
                if extra or len(node.args) > 3:
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} {extra}")
    assert not wrong, "render() with template variables as keywords:\n" + "\n".join(wrong)
