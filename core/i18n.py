"""gettext catalogues. The source language is Chinese (zh-CN, the default); ``en`` translates it.

Catalogues are ``.po`` files under ``core/locale`` and a plugin's ``locale`` folder (the folder
next to the plugin's module: ``<package>/locale/en/LC_MESSAGES/messages.po``), read with Babel at
startup, so there is no compile step to forget. A tenant's pages read the core's catalogue, then
the global plugins', then its own plugin's: the later translation of a message wins, so a tenant
plugin may also reword the core's English for its own pages. The Chinese pages need no catalogue
(the msgids are the Chinese text), but a plugin may bring ``locale/zh_CN/LC_MESSAGES/messages.po``
to reword the core's neutral Chinese in its organisation's words (the construction group's
打印证书 for the core's 获取证书). A tenant plugin names its visitors' language in
``TenantSpec.language`` (zh-CN unless it says otherwise).
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES = {"zh_CN": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh_CN"
LOCALE_DIR = Path(__file__).parent / "locale"


class Text(str):
    """A message with values in it, built in Python and shown on a page (a field's error): it is
    the Chinese text, so it works wherever a string does, and it keeps its ``template`` (a
    catalogue msgid with ``%(name)s`` placeholders) and ``values``, so a page in another language
    translates the template and the values (a value the catalogue has, such as a message, is
    translated; any other value is shown as it is) and puts them together (``translate``)."""

    template: str
    values: dict[str, object]

    def __new__(cls, template: str, **values: object) -> Text:
        text = super().__new__(cls, template % values)
        text.template, text.values = template, values
        return text

    def translate(self, gettext_: Callable[[str], str]) -> str:
        return gettext_(self.template) % {k: gettext_(v) if isinstance(v, str) else v for k, v in self.values.items()}


def translate_text(gettext_: Callable[[str], str], message: str) -> str:
    """A message built in Python, in the page's language (``Text``: its template and values; a
    plain string: itself, when the catalogue has it)."""
    return message.translate(gettext_) if isinstance(message, Text) else gettext_(message)


def plugin_locale_dir(plugin: object) -> Path | None:
    """A plugin module's ``locale`` folder, when it has one."""
    module_file = getattr(plugin, "__file__", None)
    if not module_file:
        return None
    folder = Path(module_file).parent / "locale"
    return folder if folder.is_dir() else None


def load_translations(lang: str, extra_dirs: list[Path] = ()) -> gettext.NullTranslations:
    """``lang``'s catalogue: the core's merged with each of ``extra_dirs`` in turn (a later
    folder's translation of a message wins). The core has no Chinese catalogue (its msgids are
    the Chinese text); a plugin's rewords them."""
    merged: Translations | None = None
    for folder in (LOCALE_DIR, *extra_dirs):
        po = folder / lang / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        translations = Translations(buf)
        if merged is None:
            merged = translations
        else:
            merged.merge(translations)
    return merged or gettext.NullTranslations()


def pick_language(cookie: str | None, query: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """``?lang=``, else the ``xs_lang`` cookie, else ``default`` (the tenant's language)."""
    for value in (query, cookie):
        if value in LANGUAGES:
            return value
    return default
