"""The template environments: the names a page's templates look up (for the async helpers
``render`` awaits first)."""

from __future__ import annotations

import pytest

from core.templating import Templates


def _templates(tmp_path, files: dict[str, str]) -> Templates:
    folder = tmp_path / "templates"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return Templates({"t": [folder]}, [], {"t": "default"})


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
