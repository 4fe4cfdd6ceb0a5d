"""Every hook in core/hookspecs/ is documented in docs/hooks.md under its exact signature and
has a test named after it (``test_<hook>`` or ``test_<hook>_…``) under tests/ or plugins/*/tests/."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from core import hookspecs

REPO = Path(__file__).resolve().parents[1]
HEADING = re.compile(r"^#{2,4}\s+`?(\w+)\((.*?)\)\s*->\s*(.+?)`?\s*$", re.M)


def _specs() -> dict[str, object]:
    return {name: fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if getattr(fn, "xueshi_spec", None) is not None}


def signature_of(fn) -> str:
    params = ", ".join(inspect.signature(fn).parameters)
    ret = fn.__annotations__.get("return", "None")
    ret = ret if isinstance(ret, str) else inspect.formatannotation(ret)
    return f"{fn.__name__}({params}) -> {ret}"


def _documented() -> dict[str, str]:
    text = (REPO / "docs" / "hooks.md").read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for name, params, ret in HEADING.findall(text):
        params = ", ".join(p.strip() for p in params.split(",") if p.strip())
        out[name] = f"{name}({params}) -> {ret.strip()}"
    return out


def _test_names() -> set[str]:
    files = [*REPO.glob("tests/**/test_*.py"), *REPO.glob("plugins/*/tests/**/test_*.py")]
    names: set[str] = set()
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names.update(node.name for node in ast.walk(tree)
                     if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"))
    return names


def test_hookspecs_are_found():
    specs = _specs()
    assert len(specs) >= 20
    assert "roster_link_profile" in specs and "notify_sent" in specs


@pytest.mark.parametrize("name", sorted(_specs()))
def test_hook_parameters_are_typed(name):
    fn = _specs()[name]
    untyped = [p for p, v in inspect.signature(fn).parameters.items() if v.annotation in (inspect.Parameter.empty, "Any")]
    assert not untyped, f"{name}: parameters without a type: {untyped}"


@pytest.mark.parametrize("name", sorted(_specs()))
def test_hook_is_documented_with_its_signature(name):
    documented = _documented()
    actual = signature_of(_specs()[name])
    assert name in documented, f"docs/hooks.md has no heading for hook {name}; add: ### {actual}"
    assert documented[name] == actual, (
        f"docs/hooks.md documents {documented[name]!r} but core/hookspecs says {actual!r}"
    )


def test_docs_name_no_hook_that_does_not_exist():
    stale = set(_documented()) - set(_specs())
    assert not stale, f"docs/hooks.md documents hooks that no longer exist: {sorted(stale)}"


@pytest.mark.parametrize("name", sorted(_specs()))
def test_hook_has_a_test_named_after_it(name):
    names = _test_names()
    assert any(t == f"test_{name}" or t.startswith(f"test_{name}_") for t in names), (
        f"no test named test_{name} or test_{name}_… under tests/ or plugins/*/tests/"
    )


def test_signature_check_catches_a_difference():
    def roster_link_profile(tenant, profile) -> bool | None: ...

    assert signature_of(roster_link_profile) != _documented()["roster_link_profile"]


def test_every_spec_of_the_area_modules_is_in_core_hookspecs():
    """pluggy reads the specs from ``core.hookspecs``: one defined in an area module but not
    imported there would never be registered (a plugin implementing it stops startup)."""
    found = set()
    for path in (REPO / "core" / "hookspecs").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found |= {node.name for node in tree.body if isinstance(node, ast.FunctionDef)
                  and any("hookspec" in ast.unparse(d) for d in node.decorator_list)}
    assert found and found == set(_specs())
