"""The certificate PDF: the tenant theme's template (``certificates/document.html``, overridable in
``themes/<theme>/templates/``) rendered to HTML, then to PDF by WeasyPrint off the event loop.

WeasyPrint fetches nothing from the network or the disk: the font comes from memory
(``fonts.font_bytes``), the QR code is an inline ``data:`` PNG, and any other URL is refused.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import segno

from core.certificates import fonts
from core.certificates.fields import PrintedField
from core.offload import follow_parent, run_cpu

FONT_URL = "file:///xueshi/certificate-font.otf"  # answered from memory by ``_fetch``
POOL = "pdf"
_local = threading.local()


class FetchRefused(ValueError):
    pass


@dataclass(frozen=True)
class CertificateView:
    """What a certificate shows (already masked and formatted)."""

    holder_name: str
    id_masked: str
    position: str
    year: int
    hours: str
    institution: str
    issued_on: str
    number: str
    code: str
    verify_url: str
    course_title: str = ""
    fields: tuple[PrintedField, ...] = ()  # the plugins' extra lines (core.certificates.fields)


def qr_data_uri(url: str) -> str:
    """The QR code as a PNG data URI, one pixel per module (the stylesheet scales it with
    ``image-rendering: pixelated``): WeasyPrint embeds a PNG far faster than it parses the
    equivalent SVG path."""
    return segno.make(url, error="m").png_data_uri(scale=1, border=2)


def _fetcher():
    """A WeasyPrint URL fetcher that answers the font from memory and ``data:`` URIs, and
    refuses everything else (no file, no network)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class Fetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url == FONT_URL:
                return URLFetcherResponse(url, fonts.font_bytes(), {"Content-Type": "font/otf"})
            if url.startswith("data:"):
                return super().fetch(url, headers)
            raise FetchRefused(f"certificate documents load no external resources ({url[:60]})")

    return Fetcher(allowed_protocols=("data", "file"))


async def certificate_html(templates: Any, tenant: Any, view: CertificateView) -> str:
    """The certificate's HTML in the tenant's theme. Text is passed through ``fonts.printable``
    so no character comes out as a blank or a box (asking fontconfig, in a thread, only when a
    character is outside the shipped font)."""
    texts = {k: v for k, v in view.__dict__.items() if isinstance(v, str)}
    have = fonts.covered()
    shown = [*texts.values(), *(t for f in view.fields for t in (f.label, f.value))]
    if all(ord(ch) in have for v in shown for ch in v):
        printable, fields = dict(view.__dict__), view.fields
    else:
        def in_font() -> tuple[dict[str, str], tuple[PrintedField, ...]]:
            return ({k: fonts.printable(v) for k, v in texts.items()},
                    tuple(replace(f, label=fonts.printable(f.label), value=fonts.printable(f.value))
                          for f in view.fields))

        replaced, fields = await asyncio.to_thread(in_font)
        printable = {**view.__dict__, **replaced}
    env = templates.env_for(tenant.slug, "zh_CN")
    return env.get_template("certificates/document.html").render(
        cert=printable, fields=fields, tenant=tenant, font_url=FONT_URL, font_family=fonts.font_family(),
        qr=qr_data_uri(view.verify_url), verify_url=view.verify_url)


def _font_config():
    """One WeasyPrint FontConfiguration per thread: the @font-face font is loaded once per
    thread instead of once per document."""
    config = getattr(_local, "font_config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration

        config = _local.font_config = FontConfiguration()
        _local.fetcher = _fetcher()
    return config


def html_to_pdf(html: str) -> bytes:
    """Blocking: WeasyPrint renders ``html`` (run it through ``render_pdf``)."""
    import weasyprint

    config = _font_config()
    return weasyprint.HTML(string=html, url_fetcher=_local.fetcher).write_pdf(font_config=config)


_processes = None
_processes_lock = threading.Lock()
PROCESSES = 2  # WeasyPrint's layout is Python: processes, not threads, use both cores


def _process_pool():
    """A small pool of worker processes (spawned, so no thread or event loop is forked), each
    keeping its FontConfiguration; ``XUESHI_PDF_PROCESSES=0`` renders in the ``pdf`` thread
    pool instead."""
    global _processes
    with _processes_lock:
        if _processes is None:
            size = int(os.environ.get("XUESHI_PDF_PROCESSES", min(PROCESSES, os.cpu_count() or 1)))
            if size <= 0:
                return None
            _processes = ProcessPoolExecutor(max_workers=size, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=follow_parent)
        return _processes


def shutdown_pool() -> None:
    global _processes
    with _processes_lock:
        if _processes is not None:
            _processes.shutdown(wait=False, cancel_futures=True)
            _processes = None


async def render_pdf(html: str) -> bytes:
    """``html_to_pdf`` off the event loop: in the bounded process pool (or the ``pdf`` thread
    pool of core.offload when processes are switched off)."""
    pool = _process_pool()
    if pool is None:
        return await run_cpu(POOL, html_to_pdf, html)
    return await asyncio.get_running_loop().run_in_executor(pool, html_to_pdf, html)
