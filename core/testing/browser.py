"""Browser-test kit: a real server of the app on a free port and headless Chromium.

Loaded with the rest of the test kit (``core.testing.pytest_plugin``), so any test module in
the repository or in a plugin can use these fixtures:

``live_server``  (session)  a :class:`LiveServer`: uvicorn serving ``create_app(...)`` in a
                 background thread, against the test session's database, with a fresh var
                 directory and the demo accounts of every tenant (``core.demo.create_demo``).
                 ``live_server.url("/t/survey/signin")`` → ``http://127.0.0.1:PORT/t/survey/signin``;
                 ``live_server.host_url("survey", "/")`` → ``http://survey.localhost:PORT/``
                 (Chromium resolves ``*.localhost`` to loopback by itself).
``browser``      (session)  a Playwright ``Browser`` on Debian's ``/usr/bin/chromium``.
``page``         (function) a fresh ``Page`` in its own context (own cookies), 1280×800,
                 language zh-CN; closed after the test.
``new_page``     (function) ``await new_page(width=375, height=740)`` for more pages/sizes.

Every page these fixtures open is checked with axe-core (WCAG 2.1 A and AA: the tags
``wcag2a``, ``wcag2aa``, ``wcag21a``, ``wcag21aa``) after each load, and once more when the test
ends; the test fails (at teardown) listing each violation, its page and elements. axe-core is
the file committed in ``core/testing/vendor/axe-core`` (its licence and version beside it),
injected by the kit, never served by the app nor fetched at run time.

Override ``xs_live_plugins`` (session scope) to serve extra plugin objects (e.g. a fake face
provider) and ``xs_browser_args`` to add Chromium switches (e.g. a fake webcam).

Chromium missing: the tests are skipped locally, but fail under ``CI=true`` — CI must never
report green without having driven a browser. Playwright never downloads a browser here
(``playwright install`` is not used); the Debian package provides it.

Mark browser tests ``@pytest.mark.browser`` so ``pytest -m "not browser"`` can leave them out.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.app import create_app
from core.demo import create_demo
from core.settings import Settings
from core.testing.pytest_plugin import deployed_platform

CHROMIUM = os.environ.get("XUESHI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # A fake camera, allowed without a prompt: the player opens the camera before a lesson plays
    # (a test that needs a face passes --use-file-for-fake-video-capture=<clip.y4m> as well).
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """uvicorn serving one app in a daemon thread with its own event loop."""

    app: Any
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    demo_lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        import uvicorn

        config = uvicorn.Config(self.app, host=self.host, port=self.port, log_level="warning",
                                lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"live-server-{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def host_url(self, slug: str, path: str = "/") -> str:
        """The tenant reached by host name instead of the ``/t/<slug>`` prefix."""
        return f"http://{slug}.localhost:{self.port}{path}"

    def start(self, timeout: float = 30.0) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("live server failed to start (see the log above)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"live server did not start within {timeout} s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture(scope="session")
def xs_live_plugins() -> list[object]:
    """Extra plugin objects for the live server's app (override in a conftest)."""
    return []


@pytest.fixture(scope="session")
def xs_browser_args() -> list[str]:
    """Extra Chromium switches (override in a conftest, e.g. for a fake webcam)."""
    return []


@pytest.fixture(scope="session")
async def live_server(xs_engine, xs_database_url, xs_live_plugins, xs_demo_var) -> AsyncIterator[LiveServer]:
    settings = Settings(
        database_url=xs_database_url,
        redis_url=os.environ.get("REDIS_URL") or None,
        secret_key="live-server-secret",
        var_dir=xs_demo_var,  # shared with other apps that create or serve the demo
        load_entrypoints=True,
        signin_rate_per_minute=1000,
        db_pool_size=0,  # the server's loop is not the tests' loop: no shared pool
    )
    port = free_port()
    # Demo accounts are (re)set before the server starts, so their printed passwords work.
    lines = await create_demo(settings, f"http://127.0.0.1:{port}")
    platform = await deployed_platform(settings, xs_live_plugins)
    server = LiveServer(create_app(platform=platform), port=port, demo_lines=lines)
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


def _chromium_or_skip() -> str:
    path = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if in_ci():
            pytest.fail(message + " — required in CI")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
async def browser(xs_browser_args):
    executable = _chromium_or_skip()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=executable, args=[*CHROMIUM_ARGS, *xs_browser_args])
        try:
            yield chromium
        finally:
            await chromium.close()


AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Runs in every top-level document after its load: axe's violations go to the test process.
_AXE_RUN = """
window.__xsAxeCheck = () => window.axe.run(document, {runOnly: {type: "tag", values: %s},
    resultTypes: ["violations"]}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " → " + (n.failureSummary || "").replace(/\\s+/g, " ").slice(0, 240))})));
if (window === window.top && window.axe) {
  const check = () => window.__xsAxeCheck().then(v => window.__xsAxeReport(location.href, v)).catch(() => {});
  if (document.readyState === "complete") setTimeout(check, 0);
  else window.addEventListener("load", () => setTimeout(check, 0));
}
""" % AXE_TAGS


@dataclass
class AxeFindings:
    """Violations found on the pages of one test: page URL → rule id → details."""

    found: dict[str, dict[str, dict]] = field(default_factory=dict)
    checked: set[str] = field(default_factory=set)

    def report(self, url: str, violations: list[dict]) -> None:
        if not url.startswith("http"):
            return  # a new tab's about:blank is not a page of ours
        self.checked.add(url)
        for v in violations or []:
            self.found.setdefault(url, {})[v["id"]] = v

    def summary(self) -> str:
        lines = []
        for url, rules in self.found.items():
            for rule in rules.values():
                lines.append(f"{url}: {rule['id']} ({rule['impact']}): {rule['help']}")
                lines += [f"    {node}" for node in rule["nodes"]]
        return "\n".join(lines)


@pytest.fixture
def xs_axe() -> bool:
    """Whether pages are checked with axe-core (override with ``False`` only for a page that is
    not ours to fix, and say why)."""
    return True


@pytest.fixture
async def new_page(browser, xs_axe) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """A factory of pages, each in its own browser context (own cookies)."""
    contexts = []
    axe = AxeFindings()

    async def make(width: int = 1280, height: int = 800, locale: str = "zh-CN", **kw: Any):
        context = await browser.new_context(viewport={"width": width, "height": height}, locale=locale, **kw)
        context.set_default_timeout(15_000)
        if xs_axe:
            await axe_checks(context, axe)
        contexts.append(context)
        return await context.new_page()

    yield make
    for context in contexts:
        await axe_final(context, axe)
        await context.close()
    if axe.found:
        pytest.fail("axe-core (WCAG 2.1 AA) violations:\n" + axe.summary(), pytrace=False)


async def axe_checks(context: Any, findings: AxeFindings) -> None:
    """Check every page ``context`` loads with axe-core; violations go to ``findings``. For a test
    that makes its own browser context (the fixtures above do this themselves)."""
    await context.expose_binding("__xsAxeReport", lambda _source, url, violations: findings.report(url, violations))
    await context.add_init_script(path=str(AXE_JS))
    await context.add_init_script(script=_AXE_RUN)


async def axe_final(context: Any, findings: AxeFindings) -> None:
    """Check the page each of ``context``'s pages ended on (its load check may not have finished)."""
    for page in context.pages:
        try:
            findings.report(page.url, await page.evaluate("window.__xsAxeCheck ? window.__xsAxeCheck() : []"))
        except Exception:  # noqa: BLE001 — closed, navigating, or not a document axe can run in
            pass


@pytest.fixture
async def page(new_page):
    return await new_page()


async def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save ``docs/screenshots/<name>.png`` and return its path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path


__all__ = ["LiveServer", "CHROMIUM", "CHROMIUM_ARGS", "SCREENSHOT_DIR", "free_port", "in_ci", "screenshot"]
