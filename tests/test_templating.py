"""The template environments: literal translations compiled in, one compiled copy per language,
and the names a page's templates look up (for the async helpers ``render`` awaits first)."""

from __future__ import annotations

import pytest

from core.templating import Templates


def _templates(tmp_path, files: dict[str, str]) -> Templates:
    folder = tmp_path / "templates"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return Templates({"t": [folder]}, [], {"t": "default"})


# The same messages once as literals (translated when compiled) and once through a variable
# (translated by the call at render time): the two must never differ.
LITERAL = '{{ _("登录") }}|{{ _("登录") ~ "<b>" }}|{{ _("登录")|e }}|{{ _("100%%") }}|{{ _("a<b") }}'
COMPUTED = ('{% set m, p, a = "登录", "100%%", "a<b" %}'
            '{{ _(m) }}|{{ _(m) ~ "<b>" }}|{{ _(m)|e }}|{{ _(p) }}|{{ _(a) }}')


@pytest.mark.parametrize("ext", ["html", "txt"])  # escaped, and not
@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_a_literal_message_is_translated_when_compiled_exactly_as_at_render_time(tmp_path, lang, ext):
    t = _templates(tmp_path, {f"literal.{ext}": LITERAL, f"computed.{ext}": COMPUTED})
    env = t.env_for("t", lang)
    literal = env.get_template(f"literal.{ext}").render()
    assert literal == env.get_template(f"computed.{ext}").render()
    assert literal.startswith("Sign in|" if lang == "en" else "登录|")
    assert ("&lt;b&gt;" in literal) == (ext == "html")
    code = env.compile(LITERAL, name=f"literal.{ext}", raw=True)
    assert "gettext" not in code and "'_'" not in code  # no call left at render time


def test_each_language_compiles_its_own_copy_of_a_template(tmp_path):
    t = _templates(tmp_path, {"page.html": '<a>{{ _("登录") }}</a>'})
    assert t.env_for("t", "zh_CN").get_template("page.html").render() == "<a>登录</a>"
    assert t.env_for("t", "en").get_template("page.html").render() == "<a>Sign in</a>"
    assert t.env_for("t", "zh_CN").get_template("page.html").render() == "<a>登录</a>"


def test_messages_with_variables_or_bad_formats_are_left_to_render_time(tmp_path):
    t = _templates(tmp_path, {"vars.html": '{{ _("共 %(n)s 条", n="<i>") }}', "bad.html": '{{ _("100%") }}'})
    env = t.env_for("t", "zh_CN")
    assert env.get_template("vars.html").render() == "共 &lt;i&gt; 条"
    with pytest.raises(ValueError):  # as Jinja2's newstyle gettext: a lone % is a format error
        env.get_template("bad.html").render()


def test_names_used_follow_extends_includes_and_imports(tmp_path):
    t = _templates(tmp_path, {
        "page.html": '{% extends "layout.html" %}{% block body %}{{ columns() }}{% endblock %}',
        "layout.html": '{% from "macros.html" import m %}{% block body %}{% endblock %}{% include "part.html" %}',
        "part.html": "{{ footer_note }}",
        "macros.html": "{% macro m() %}{{ macro_arg }}{% endmacro %}",
        "other.html": "{{ something_else }}",
        "dynamic.html": "{% include which %}",
        "missing.html": '{% include "nowhere.html" ignore missing %}{{ x }}',
    })
    used = t.names_used("t", "page.html")
    assert {"columns", "footer_note", "macro_arg"} <= used and "something_else" not in used
    assert t.names_used("t", "dynamic.html") is None  # a name computed at render time: any
    assert t.names_used("t", "missing.html") == {"x"}
