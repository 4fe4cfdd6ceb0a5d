"""Code health of ``core/`` and ``plugins/`` (their ``migrations/`` and ``tests/`` aside).

The import rule:

* A module of the project (``core.*``, ``plugins.*``, or a relative import) is imported at the top
  of the module that uses it, never inside a function. An import placed in a function to dodge a
  cycle hides the cycle instead of removing it; the code goes to the module that owns it instead.
  The project's module-level imports form no cycle (checked below).
* The standard library and light third-party packages are imported at the top too: deferring
  them saves nothing.
* Only the heavy third-party libraries in ``LAZY`` may be imported inside a function, where they
  are used, because building the platform must not pay for them (tests/test_kernel.py checks
  that no face library is loaded) or because only one process or mode needs them: the face and
  image libraries, the PDF renderer (in its render processes), the spreadsheet reader (in its
  worker processes), the servers, the Redis-only job queue and the test-only drivers.

Modules stay at most ``MAX_LINES`` lines (the standard: named for what they hold, split when they
grow).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOTS = ("core", "plugins")
MAX_LINES = 400

# Top-level package -> why it may be imported lazily (inside the function that uses it).
LAZY = {
    "cv2": "OpenCV (~0.3 s, 120 modules): face and video work only; the platform builds without it",
    "numpy": "loaded with OpenCV and the face models only",
    "PIL": "images: decoded in the functions that handle an image",
    "mediapipe": "face provider model, loaded when a face check runs",
    "dlib": "face provider model, loaded when a face check runs",
    "face_recognition": "face provider model, loaded when a face check runs",
    "weasyprint": "PDF renderer (~1.5 s, 300 modules): in the certificate render processes only",
    "fontTools": "font subsetting for the certificate PDFs only",
    "openpyxl": "XLSX reader/writer (~0.6 s, 280 modules): in the spreadsheet worker processes only",
    "xlsxwriter": "XLSX writer (~0.2 s): in the spreadsheet worker processes only",
    "uvicorn": "the HTTP server: `xueshi serve` and the browser tests' live server only",
    "playwright": "browser tests only",
    "asyncpg": "test kit: creating a throw-away PostgreSQL database only",
    "litestar": "only litestar.stores.redis (redis client, ~0.2 s): with REDIS_URL only",
    "litestar_saq": "the SAQ job queue: with REDIS_URL only",
    "saq": "the SAQ job queue: with REDIS_URL only",
    "croniter": "cron schedules: the in-process job runner only",
}
LAZY_SUBMODULES = {"litestar": ("litestar.stores.redis",)}  # the rest of litestar is loaded anyway


def modules() -> list[Path]:
    return [path for root in ROOTS for path in sorted((REPO / root).rglob("*.py"))
            if not {"migrations", "tests"} & set(path.relative_to(REPO).parts)]


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement loads (``from a import b`` may load module ``a.b``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - node.level + 1]
        prefix = ".".join([*base, *([node.module] if node.module else [])])
    else:
        prefix = node.module or ""
    return [prefix, *(f"{prefix}.{alias.name}" for alias in node.names)]


def is_project(name: str) -> bool:
    return name.split(".")[0] in ROOTS


def function_imports(source: str, module: str = "m", is_package: bool = False) -> list[tuple[int, str]]:
    """Imports inside functions that break the rule: ``[(line, module), …]``."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                names = imported(child, module, is_package)
                loaded = names[:1] if isinstance(child, ast.ImportFrom) else names
                if getattr(child, "level", 0) or any(map(is_project, names)) or not all(map(lazy_allowed, loaded)):
                    found.append((child.lineno, names[0]))
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    visit(ast.parse(source), False)
    return found


def lazy_allowed(name: str) -> bool:
    top = name.split(".")[0]
    if top not in LAZY:
        return False
    allowed = LAZY_SUBMODULES.get(top)
    return allowed is None or any(name == a or name.startswith(a + ".") for a in allowed)


def import_graph() -> dict[str, set[str]]:
    """Module-level imports between project modules (``if TYPE_CHECKING:`` blocks aside)."""
    paths = {module_name(p): p for p in modules()}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        edges: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        stack: list[ast.AST] = list(tree.body)
        while stack:
            node = stack.pop()
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                stack.extend(node.orelse)
                continue
            if isinstance(node, ast.Import | ast.ImportFrom):
                targets = imported(node, name, path.name == "__init__.py")
                if isinstance(node, ast.ImportFrom):
                    # ``from package import submodule`` depends on the submodule (the package's own
                    # ``__init__`` may import it); ``from module import attribute`` on the module.
                    prefix, *named = targets
                    targets = [n for n in named if n in paths]
                    if len(targets) < len(named):
                        targets.append(prefix)
                for target in targets:
                    while target and target not in paths:
                        target = target.rpartition(".")[0]
                    if target and target != name:
                        edges.add(target)
            elif isinstance(node, ast.If | ast.Try | ast.With):
                stack.extend(ast.iter_child_nodes(node))
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_import_inside_a_function_except_heavy_libraries():
    problems = []
    for path in modules():
        source = path.read_text(encoding="utf-8")
        problems += [f"{path.relative_to(REPO)}:{line} imports {name}"
                     for line, name in function_imports(source, module_name(path), path.name == "__init__.py")]
    assert len(problems) == 0, (
        f"{len(problems)} imports inside functions (move them to the top; a cycle means code belongs "
        "elsewhere):\n  " + "\n  ".join(problems))


def test_project_modules_import_each_other_without_cycles():
    assert cycles(import_graph()) == []


def test_modules_are_at_most_400_lines():
    long = {str(p.relative_to(REPO)): n for p in modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}, f"modules over {MAX_LINES} lines: split them by what they hold"


def test_the_checks_see_what_they_forbid():
    """The scans themselves: each forbidden shape is found, each allowed one is not."""
    source = (
        "import json\n"
        "def f():\n"
        "    from core.jobs import report\n"          # project module
        "    from . import sibling\n"                 # relative
        "    import plugins.survey_association\n"
        "    import json\n"                           # standard library
        "    from litestar.di import Provide\n"       # light third party
        "    import cv2\n"                            # heavy: allowed
        "    from weasyprint import HTML\n"
        "    from litestar.stores.redis import RedisStore\n"
        "class C:\n"
        "    async def m(self):\n"
        "        from core import db\n"
    )
    assert function_imports(source, "core.x") == [
        (3, "core.jobs"), (4, "core"), (5, "plugins.survey_association"), (6, "json"), (7, "litestar.di"),
        (13, "core")]
    assert function_imports("from core import db\nimport cv2\n") == []  # module level: fine
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


# PostgreSQL session state that outlives a query: the pool does not clear it between requests
# (core.db._keep_session skips asyncpg's per-release RESET ALL / advisory unlock / CLOSE ALL /
# UNLISTEN), so the code must not create it. Transaction-scoped forms (SET LOCAL,
# pg_advisory_xact_lock) are fine.
SESSION_STATE = re.compile(
    r"\bpg_(try_)?advisory_lock(_shared)?\s*\(|\bLISTEN\s+\w|\bDECLARE\s+\w+\s+(BINARY\s+)?(INSENSITIVE\s+)?"
    r"(NO\s+)?(SCROLL\s+)?CURSOR\b|^\s*SET\s+(SESSION\s+)?(?!LOCAL\b)\w+\s*(=|TO\b)|\bset_config\s*\([^)]*false\s*\)",
    re.IGNORECASE | re.MULTILINE)


def session_state(source: str) -> list[str]:
    """The session-state statements in the string literals of ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [m.group(0) for m in SESSION_STATE.finditer(node.value)]
    return found


def test_no_postgresql_session_state_that_a_pooled_connection_would_carry():
    used = {str(p.relative_to(REPO)): s for p in modules() if (s := session_state(p.read_text(encoding="utf-8")))}
    assert used == {}
    assert session_state("q = 'SELECT pg_advisory_lock(1)'\nr = \"SET statement_timeout = 0\"\n") == [
        "pg_advisory_lock(", "SET statement_timeout ="]
    assert session_state("q = 'SET LOCAL lock_timeout = 1'\nr = 'SELECT pg_advisory_xact_lock(1)'\n") == []
