"""Plugins import only from ``core``'s public API (``core/__init__.py``), never from its modules."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def private_imports(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("core."):
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("core.")]
    return found


def test_plugins_import_only_from_core():
    problems = []
    for path in sorted(REPO.glob("plugins/**/*.py")):
        if "tests" in path.relative_to(REPO).parts or "migrations" in path.relative_to(REPO).parts:
            continue
        problems += [f"{path.relative_to(REPO)}:{line} imports {module}"
                     for line, module in private_imports(path.read_text(encoding="utf-8"))]
    assert not problems, "plugins import only from core (add the name to core/__init__.py):\n  " + "\n  ".join(problems)


def test_the_scan_sees_a_private_import():
    assert private_imports("from core.roster.imports import commit_in_batches\nimport core.jobs\n") == [
        (1, "core.roster.imports"), (2, "core.jobs")]
    assert private_imports("from core import scoped\n") == []


def test_every_public_name_resolves():
    import core

    missing = [name for name in core.__all__ if not hasattr(core, name)]
    assert not missing, f"core.__all__ names nothing importable: {missing}"
