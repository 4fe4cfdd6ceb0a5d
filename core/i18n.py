"""gettext catalogues. The source language is Chinese (zh-CN, the default); ``en`` translates it.

Catalogues are ``.po`` files under ``core/locale`` (and a plugin's ``locale`` folder), read with
Babel at startup, so there is no compile step to forget.
"""

from __future__ import annotations

import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES = {"zh_CN": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh_CN"
LOCALE_DIR = Path(__file__).parent / "locale"


def load_translations(lang: str, extra_dirs: list[Path] = ()) -> gettext.NullTranslations:
    if lang == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()  # msgids are the Chinese text
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


def pick_language(cookie: str | None, query: str | None) -> str:
    for value in (query, cookie):
        if value in LANGUAGES:
            return value
    return DEFAULT_LANGUAGE
