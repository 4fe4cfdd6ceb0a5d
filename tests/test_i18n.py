"""The English catalogue covers every string the pages translate; zh-CN stays the default."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from core.i18n import LOCALE_DIR

REPO = Path(__file__).resolve().parents[1]
BABEL_CFG = LOCALE_DIR / "babel.cfg"


def _english() -> dict[str, str]:
    with (LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="en")
    return {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}


def _extracted() -> dict[str, str]:
    """msgid → the first file that uses it, as `pybabel extract -F core/locale/babel.cfg` sees them."""
    with BABEL_CFG.open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[str, str] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(REPO, method_map, options_map):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, filename)
    return found


def test_extraction_finds_the_core_templates():
    # Guards the test below against a config that silently extracts nothing.
    found = _extracted()
    assert "登录" in found and "退出" in found
    assert any(f.startswith("themes/") for f in found.values())


def test_every_template_string_has_an_english_translation():
    english = _english()
    missing = {msgid: where for msgid, where in _extracted().items() if msgid not in english}
    assert not missing, (
        "untranslated strings (run ./scripts/i18n, translate core/locale/en/LC_MESSAGES/messages.po):\n"
        + "\n".join(f"  {where}: {msgid}" for msgid, where in sorted(missing.items(), key=lambda x: x[1]))
    )


async def test_labels_from_the_running_app_are_translated(platform):
    """Menu links, sign-in methods and their fields come from hooks and reach templates through
    _(label): each one the app really shows must be in the English its tenant's pages read (the
    core's catalogue, or its own plugin's ``locale/``: Acme's 工号)."""
    from core.accounts.tables import Account
    from core.i18n import load_translations, plugin_locale_dir
    from core.plugins import collect

    missing = set()
    for tenant in platform.tenants:
        hooks = platform.hooks(tenant)
        labels = set(tenant.role_labels.values())
        for method in await collect(hooks.signin_methods, tenant=tenant):
            labels.add(method.label)
            for field in method.fields:
                labels.update(x for x in (field.label, field.placeholder) if x)
        for role in tenant.role_labels:
            account = Account(tenant=tenant.id, role=role, real_name="测试")
            for link in await collect(hooks.menu_links, tenant=tenant, account=account):
                labels.add(link.label)
        own = plugin_locale_dir(platform.plugins.plugin_of(tenant.slug))
        english = load_translations("en", [own] if own else [])
        missing |= {f"{tenant.slug}: {label}" for label in labels if english.gettext(label) == label}
    assert not missing, ("labels without English (add them to core/locale/runtime_labels.py, or to the tenant "
                         f"plugin's locale/): {sorted(missing)}")


async def test_sign_in_page_is_chinese_by_default_and_english_on_request(client):
    page = await client.get("/t/survey/signin")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    assert "手机号密码登录" in page.text and ">登录</button>" in page.text
    page = await client.get("/t/survey/signin?lang=en")
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert ">Sign in</button>" in page.text and "Sign in with mobile and password" in page.text
    assert "Mobile number" in page.text and ">登录</button>" not in page.text
    # The choice is remembered in a cookie for the next page.
    page = await client.get("/t/survey/signin")
    assert ">Sign in</button>" in page.text
    page = await client.get("/t/survey/signin?lang=zh_CN")
    assert ">登录</button>" in page.text


async def test_an_unknown_language_falls_back_to_chinese(client):
    page = await client.get("/t/construction/signin?lang=xx")
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text
    assert "18位身份证号" in page.text and ">登录</button>" in page.text


def test_every_translation_formats_as_jinja_formats_it():
    """Jinja's newstyle gettext formats every translation with ``%`` (variables or none): a bare
    ``%`` in a translation ("Pass rate (%)") made the English dashboard answer 500."""
    import re

    catalogues = [LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po",
                  *Path(__file__).resolve().parents[1].glob("plugins/*/locale/*/LC_MESSAGES/messages.po"),
                  *Path(__file__).resolve().parent.glob("fixtures/*/*/locale/*/LC_MESSAGES/messages.po")]
    broken = []
    for path in catalogues:
        with path.open("rb") as f:
            for m in read_po(f):
                if not m.id or not m.string:
                    continue
                ids = m.id if isinstance(m.id, tuple) else (m.id,)
                strings = m.string if isinstance(m.string, tuple) else (m.string,)
                names = {n for s in ids for n in re.findall(r"%\((\w+)\)", s)}
                for s in strings:
                    try:
                        s % {n: "x" for n in names}
                    except (ValueError, KeyError, TypeError) as exc:
                        broken.append(f"{path.name}: {s!r}: {exc}")
    assert len(catalogues) >= 2 and broken == []
