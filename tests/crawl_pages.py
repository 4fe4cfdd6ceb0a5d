"""The crawl's parts (``tests/test_crawl.py``): the app's GET routes as patterns, a page's links
and visible text, untranslated English, and path parameters filled from the tenant's data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from core.accounts.tables import Account, Enterprise
from core.certificates.tables import Certificate, RegistryBatch
from core.content.tables import Article
from core.courses.tables import Course, Enrollment, Lesson, Position
from core.db.scoped import scoped
from core.exams.tables import ExamAttempt, Question
from core.files.tables import StoredFile
from core.jobs.tables import JobRun
from core.proctoring.portrait import IMAGES
from core.proctoring.tables import FaceVerification
from core.review.tables import Appeal
from core.roster.tables import ImportJob, RosterEntry
from plugins.survey_association.tables import CertificateHolder

# --- routes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    path: str  # as registered: /t/survey/news/{article_id:int}
    regex: re.Pattern
    params: tuple[str, ...]


def _pattern(path: str) -> re.Pattern:
    out, at = "", 0
    for m in re.finditer(r"\{(\w+):(\w+)\}", path):
        out += re.escape(path[at:m.start()]) + (rf"(?P<{m[1]}>\d+)" if m[2] == "int" else rf"(?P<{m[1]}>[^/]+)")
        at = m.end()
    return re.compile(out + re.escape(path[at:]) + "/?$")


def get_routes(app) -> list[Route]:
    """Every GET route the app registers, static files aside."""
    routes = []
    for route in app.routes:
        if route.path.startswith("/static") or not any(
                "GET" in getattr(h, "http_methods", ()) for h in getattr(route, "route_handlers", ())):
            continue
        routes.append(Route(route.path, _pattern(route.path), tuple(re.findall(r"\{(\w+):", route.path))))
    return routes


def route_of(routes: list[Route], path: str) -> tuple[Route, dict[str, str]] | None:
    """The route serving ``path``: a literal path wins over one with parameters."""
    found = [(r, m.groupdict()) for r in routes if (m := r.regex.match(path))]
    found.sort(key=lambda pair: len(pair[0].params))
    return found[0] if found else None


def fills(route: Route, values: dict[str, list[str]], tries: int = 4) -> list[str]:
    """Up to ``tries`` paths of the route, each parameter's known values in turn (a number no row
    has when the tenant holds none: the page must then answer a Chinese 404)."""
    paths = [route.path]
    for name in route.params:
        got = values.get(name) or ["999999999"]
        paths = [re.sub(r"\{" + name + r":\w+\}", value, path, count=1) for path in paths for value in got[:tries]]
    return paths[:tries]


# --- pages ----------------------------------------------------------------------------------


SHOWN_ATTRIBUTES = ("placeholder", "title", "alt", "aria-label")
HIDDEN_TEXT = ("script", "style", "template")
CODE = ("code", "kbd", "samp")  # what a page shows as a code or identifier, not as words


class Page(HTMLParser):
    """A page's links (``<a href>``, a GET form's ``action``), its widgets' ``hx-get``, what it loads (stylesheets, scripts, images, media) and
    the text a person reads: text nodes and the attributes shown on screen."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.widgets: list[str] = []
        self.assets: list[str] = []
        self.texts: list[str] = []
        self.lang = ""
        self._hidden = self._code = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang", "")
        if tag in HIDDEN_TEXT:
            self._hidden += 1
        if tag in CODE:
            self._code += 1
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if a.get("hx-get"):  # what a widget loads (opened as htmx asks for it)
            self.widgets.append(a["hx-get"])
        if tag == "form" and a.get("method", "get").lower() == "get" and a.get("action"):
            self.links.append(a["action"])
        if tag in ("link", "script", "img", "source", "video", "audio") and (a.get("href") or a.get("src")):
            if not (tag == "link" and a.get("rel") not in ("stylesheet", "icon")):
                self.assets.append(a.get("href") or a.get("src"))
        self.texts += [a[k] for k in SHOWN_ATTRIBUTES if a.get(k)]
        if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
            self.texts.append(a["value"])

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN_TEXT and self._hidden:
            self._hidden -= 1
        if tag in CODE and self._code:
            self._code -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and not self._code and data.strip():
            self.texts.append(data.strip())


# Latin words a zh-CN page may show. Everything else made of two or more Latin letters (and no
# digit: codes, numbers, masked numbers and ID numbers hold digits) is untranslated English.
ALLOWED_WORDS = {
    "Excel", "ID", "SMS", "URL", "MB", "KB", "GB",  # names of things, units
    "English",  # the language switch names English in English
    "xueshi",  # the product's name
    "mm", "MPa", "mA", "kN", "TN",  # units and the TN-S earthing system in the demo's question banks
}
FORMATS = r"xlsx|xls|csv|zip|pdf|mp4|mov|webm|mkv|avi|mpeg|jpe?g|png|svg|txt"
NOT_WORDS = re.compile(
    r"https?://\S+|www\.\S+|\S+@\S+\.\w+"  # addresses
    rf"|[\w-]*\.?\b(?i:{FORMATS})\b"  # file names, extensions and formats (PDF, .xlsx, WebM)
    r"|\b[\w-]*\d[\w-]*\b"  # anything holding a digit: codes, ids, numbers
    r"|\bX{2,}\b"  # the shape of a code to type (XXXX-XXXX)
    r"|\b[A-H]{2,8}\b"  # a multiple-choice answer (ABD)
)
WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")


def english_words(text: str) -> list[str]:
    """The untranslated English words in ``text`` (see ``ALLOWED_WORDS``)."""
    return [w for w in WORD.findall(NOT_WORDS.sub(" ", text)) if w not in ALLOWED_WORDS]


def has_chinese(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


def internal(current: str, href: str) -> str | None:
    """``href`` as a path on this site (query kept, fragment dropped), or None for another site,
    a ``mailto:``/``javascript:`` link or a fragment of the same page."""
    if href.startswith(("#", "mailto:", "tel:", "javascript:", "data:", "blob:")):
        return None
    parts = urlsplit(urljoin(current, href))
    if parts.netloc and parts.netloc != urlsplit(current).netloc:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- path parameters from the tenant's data -----------------------------------------------------


@dataclass
class Source:
    table: type
    column: str = "id"
    where: object = None
    owned_by: tuple[str, ...] = ("account", "owner", "learner")  # columns naming the signed-in account


# What each path parameter names (parameters of the same name name the same kind of row).
SOURCES = {
    "course_id": Source(Course), "lesson_id": Source(Lesson), "position_id": Source(Position),
    "enrollment_id": Source(Enrollment), "attempt_id": Source(ExamAttempt), "question_id": Source(Question),
    "account_id": Source(Account, where=Account.role == "learner"), "batch_id": Source(RegistryBatch),
    "run_id": Source(JobRun), "verification_id": Source(FaceVerification), "appeal_id": Source(Appeal),
    "file_id": Source(StoredFile), "code": Source(Certificate, "code"), "article_id": Source(Article),
    "enterprise_id": Source(Enterprise), "entry_id": Source(RosterEntry, owned_by=("enterprise",)),
    "job_id": Source(ImportJob, owned_by=("enterprise",)),
    "import_id": Source(ImportJob, where=ImportJob.kind == "certificates"),
    "holder_id": Source(CertificateHolder),  # the survey plugin's certificate holders
}
KINDS = sorted({*IMAGES, "photo"})  # the image kinds of /…/image/{kind} and /…/files/{kind}


async def param_values(tenant, account: Account | None) -> dict[str, list[str]]:
    """Per parameter, ids from the tenant's data: the signed-in account's own rows first (their
    enrolment, their company's roster entries), then anyone's."""
    values: dict[str, list[str]] = {"kind": KINDS, "seq": ["1"]}
    for name, source in SOURCES.items():
        table, column = source.table, getattr(source.table, source.column)
        queries = []
        for owned_by in [c for c in source.owned_by if hasattr(table, c)] if account is not None else []:
            owner = account.enterprise if owned_by == "enterprise" else account.id
            if owner is not None:
                queries.append(scoped(table, tenant).select(column).where(getattr(table, owned_by) == owner))
        queries.append(scoped(table, tenant).select(column).order_by(table.id, ascending=False))
        found: list[str] = []
        for query in queries:
            if source.where is not None:
                query = query.where(source.where)
            found += [str(r[source.column]) for r in await query.limit(3)]
        values[name] = list(dict.fromkeys(v for v in found if v))
    return values


@dataclass
class Tally:
    problems: list[str] = field(default_factory=list)
    opened: set[tuple[str, str]] = field(default_factory=set)  # (role, route)
    requests: int = 0
