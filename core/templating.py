"""One base Jinja2 environment, one overlay per (tenant, language) built at startup.

Lookup order for a tenant: its theme → its plugin's templates → other plugins → core.
``core:`` names the core's own templates so an override can extend what it replaces
(``{% extends "core:base.html" %}``). Each overlay has its own cache, so tenant A's page is
never served to tenant B.

Templates render synchronously, on the event loop: rendering a page is 0.1–0.2 ms of CPU work,
less than handing it to a thread would add, and Jinja2's async mode made it about 1.5 times as
slow (every call, attribute, macro and loop awaited). A value a page needs from the database is
fetched before rendering: ``core.web.render`` awaits the async functions in the context that
the page's templates name (``Templates.names_used``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, TemplateNotFound, meta,
                    pass_eval_context, select_autoescape)
from jinja2.nodes import EvalContext
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from markupsafe import Markup

from core import identity, tenant_time
from core.files.limits import UPLOAD_LIMITS
from core.i18n import LANGUAGES, load_translations, translate_text
from core.themes import DEFAULT_THEME, THEMES_DIR

CORE_TEMPLATES = Path(__file__).parent / "templates"


class LiteralTranslations(Extension):
    """``_("literal")`` translated once, when a template is compiled, instead of on every render
    (calls through the context, a ``Markup`` and a ``%`` format each time: a quarter to two fifths
    of rendering the sign-in and home pages). Each (tenant, language) overlay compiles its own
    templates, so the text is that overlay's language. Calls with variables or a computed message
    stay calls."""

    translations = None  # set on each overlay's copy of the extension (the base env has none)

    def filter_stream(self, stream: TokenStream) -> Iterable[Token]:
        if self.translations is None:
            return stream
        autoescape = self.environment.autoescape
        if callable(autoescape):
            autoescape = autoescape(stream.name)
        return self._fold(list(stream), bool(autoescape))

    def _fold(self, tokens: list[Token], autoescape: bool) -> Iterator[Token]:
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.type == "block_begin" and i + 1 < len(tokens) and tokens[i + 1].value == "autoescape":
                yield from tokens[i:]  # escaping changes inside the template: leave the rest alone
                return
            window = tokens[i:i + 4]
            if ([t.type for t in window] == ["name", "lparen", "string", "rparen"] and tok.value == "_"
                    and (i == 0 or tokens[i - 1].type != "dot")):
                text = self.translations.gettext(window[2].value)
                try:  # what the newstyle gettext returns at render time
                    value = (Markup(text) if autoescape else text) % {}
                except (TypeError, ValueError, KeyError):
                    value = None
                if value is not None:
                    n = tok.lineno
                    if autoescape:  # a translation is markup: ("text"|safe), folded to a constant
                        yield from (Token(n, "lparen", "("), Token(n, "string", str(value)), Token(n, "pipe", "|"),
                                    Token(n, "name", "safe"), Token(n, "rparen", ")"))
                    else:
                        yield Token(n, "string", value)
                    i += 4
                    continue
            yield tok
            i += 1


def _gettext(translate: Callable[[str], str]) -> Callable[..., str]:
    """``_(message, **variables)`` for the calls left at render time (``_(label)``): what Jinja2's
    newstyle gettext returns, in one call instead of three through the context (its ``_`` looks
    ``gettext`` up in the context, which calls the translation through the context again)."""

    @pass_eval_context
    def gettext(eval_ctx: EvalContext, message: str, /, **variables: Any) -> str:
        text = translate(message)
        return (Markup(text) if eval_ctx.autoescape else text) % variables

    return gettext


def _time_filters(env: Environment, tz: ZoneInfo) -> None:
    """``|datetime`` and ``|date`` show stored UTC times in the tenant's zone ``tz``."""
    env.filters["datetime"] = partial(tenant_time.format_datetime, tz=tz)
    env.filters["date"] = partial(tenant_time.format_date, tz=tz)


def _base_env(auto_reload: bool = False) -> Environment:
    env = Environment(
        # Checking every template file's modification time on each render was a tenth of a
        # page's cost (benchmarks/bench_web.py); only a debug server reloads edited templates.
        auto_reload=auto_reload,
        # A plain dict: the LRU cache takes a lock and reorders a deque on each of a page's
        # lookups (extends, includes, imports: 6.5 µs for the sign-in page's eight, 2.7 µs from a
        # dict). Template names are the code's own, so the dict holds at most every template of
        # the (tenant, language) overlay.
        cache_size=-1,
        loader=FileSystemLoader(CORE_TEMPLATES),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n", LiteralTranslations],
        # Sync: see the module docstring. Async helpers in the context are awaited beforehand.
        enable_async=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["mask_id"] = identity.mask_id_number
    env.filters["mask_mobile"] = identity.mask_mobile
    env.filters["mask_name"] = identity.mask_name
    _time_filters(env, tenant_time.zone_named(tenant_time.DEFAULT_ZONE))
    env.filters["hours"] = lambda h: (f"{float(h):.2f}".rstrip("0").rstrip(".")) if h is not None else "0"
    return env


class Templates:
    def __init__(
        self,
        tenant_dirs: dict[str, list[Path]],
        shared_dirs: list[Path],
        themes: dict[str, str],
        locale_dirs: dict[str | None, list[Path]] | None = None,
        auto_reload: bool = False,
        zones: dict[str, str] | None = None,
        theme_folders: dict[str, Path] | None = None,
    ) -> None:
        """``tenant_dirs``: each tenant plugin's template folders; ``shared_dirs``: the global
        plugins'; ``themes``: tenant slug → theme name, found in ``theme_folders`` (name → folder,
        ``core.themes``) or else in the repository's ``themes/``; ``locale_dirs``: tenant slug
        (None: pages without a tenant) → the plugins' ``locale`` folders its pages read after the
        core's, a later folder's translation winning (``core.i18n``); ``zones``: tenant slug →
        time zone name (default ``tenant_time.DEFAULT_ZONE``)."""
        zones = zones or {}
        locale_dirs = locale_dirs or {}
        theme_folders = theme_folders or {}
        self.base = _base_env(auto_reload)
        self.auto_reload = auto_reload
        self._names: dict[tuple[str | None, str], frozenset[str] | None] = {}
        self.base.globals["languages"] = LANGUAGES
        self.base.globals["upload_limits"] = UPLOAD_LIMITS
        catalogues: dict[tuple[str, tuple[Path, ...]], Any] = {}  # tenants with the same folders share one
        self._envs: dict[tuple[str | None, str], Environment] = {}
        self._gettext: dict[tuple[str | None, str], Callable[[str], str]] = {}
        core_loader = FileSystemLoader(CORE_TEMPLATES)
        for slug in [None, *tenant_dirs]:
            folders: list[Path] = []
            if slug is not None:
                name = themes.get(slug, DEFAULT_THEME)
                theme = theme_folders.get(name, THEMES_DIR / name) / "templates"
                folders += [theme] if theme.is_dir() else []
                folders += tenant_dirs[slug]
            folders += shared_dirs
            folders += [THEMES_DIR / DEFAULT_THEME / "templates"]
            loader = ChoiceLoader(
                [
                    PrefixLoader({"core": core_loader}, delimiter=":"),
                    FileSystemLoader([str(f) for f in folders]),
                    core_loader,
                ]
            )
            for lang in LANGUAGES:
                key = (lang, tuple(locale_dirs.get(slug, ())))
                trans = catalogues.get(key)
                if trans is None:
                    trans = catalogues[key] = load_translations(lang, list(key[1]))
                env = self.base.overlay(loader=loader)
                env.globals = dict(env.globals)  # overlays share the globals dict otherwise
                env.filters = dict(env.filters)  # and the filters dict: each tenant has its zone
                _time_filters(env, tenant_time.zone_named(zones.get(slug, tenant_time.DEFAULT_ZONE)))
                # env.install_gettext_translations is the *base* env's bound method (overlays
                # copy it); call the overlay's own extension so each env gets its language.
                env.extensions["jinja2.ext.InternationalizationExtension"]._install(trans, newstyle=True)
                env.extensions[LiteralTranslations.identifier].translations = trans
                env.globals["_"] = _gettext(trans.gettext)
                # A message computed at run time (a field's error): translated when the catalogue
                # has it, or from its template and values (core.i18n.Text); a plain one is never
                # %-formatted (it may hold a typed value with a %).
                env.globals["_text"] = partial(translate_text, trans.gettext)
                self._envs[(slug, lang)] = env
                self._gettext[(slug, lang)] = trans.gettext

    def env_for(self, slug: str | None, lang: str) -> Environment:
        return self._envs.get((slug, lang)) or self._envs[(slug, "zh_CN")]

    def gettext_for(self, slug: str | None, lang: str) -> Callable[[str], str]:
        """The catalogue lookup of tenant ``slug``'s pages in ``lang``, for text built outside a
        template (the error pages, ``core.errors``)."""
        return self._gettext.get((slug, lang)) or self._gettext[(slug, "zh_CN")]

    def names_used(self, slug: str | None, name: str) -> frozenset[str] | None:
        """The context names template ``name`` of tenant ``slug`` may look up, with those of every
        template it extends, includes or imports; None when one of those is named only at render
        time (then any name may be). Worked out once per tenant and template (the languages share
        the tenant's loader), or each time when templates reload."""
        key = (slug, name)
        if key in self._names and not self.auto_reload:
            return self._names[key]
        env = self.env_for(slug, "zh_CN")
        names: set[str] = set()
        seen: set[str] = set()
        todo = [name]
        found: frozenset[str] | None = None
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            try:
                source, filename, _ = env.loader.get_source(env, current)
            except TemplateNotFound:  # ``{% include … ignore missing %}``: nothing to look up
                continue
            ast = env.parse(source, current, filename)
            names |= meta.find_undeclared_variables(ast)
            refs = list(meta.find_referenced_templates(ast))
            if None in refs:
                break
            todo += refs
        else:
            found = frozenset(names)
        self._names[key] = found
        return found
