"""Charts of dashboard panels: pygal's server-side SVG, shown as an ``<img>`` data URI beside the
panel's data table (the table is what screen readers and printers read; the image's ``alt`` names
the chart). No script runs: pygal's tooltips script is not loaded (``js=[]``) and a script inside
an image never runs, so the charts work without JavaScript; nothing is fetched.

pygal takes tens of milliseconds of pure Python per chart, so charts are drawn in the ``chart``
worker processes (``core.offload``), one task per chart, and the last ``CACHE_SIZE`` are kept by
their panel (its figures) and language: a page whose figures did not change draws nothing."""

from __future__ import annotations

import asyncio
import base64
from collections import OrderedDict
from collections.abc import Callable, Mapping

import pygal
from pygal.style import Style

from core.dashboards.values import DashboardPanel
from core.offload import run_cpu

CACHE_SIZE = 512
_cache: OrderedDict[tuple[DashboardPanel, str], str] = OrderedDict()

FONT = "'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', sans-serif"
STYLE = Style(background="white", plot_background="white", foreground="#333", foreground_strong="#111",
              foreground_subtle="#888", font_family=FONT, label_font_size=13, major_label_font_size=13,
              legend_font_size=13, value_font_size=12, title_font_size=15,
              colors=("#1f5fa8", "#e07b00", "#2e8b57", "#b22222", "#6a3d9a", "#8c564b", "#d62790", "#5f6b6d"))
KINDS = {"bar": pygal.Bar, "stacked": pygal.StackedBar, "hbar": pygal.HorizontalBar, "line": pygal.Line,
         "pie": pygal.Pie}


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def svg(panel: DashboardPanel, translate: Callable[[str], str]) -> bytes | None:
    """The panel's chart as SVG bytes, or None when it has no chart or no rows."""
    if panel.chart == "none" or not panel.rows:
        return None
    columns = panel.series or tuple(range(1, len(panel.headers)))
    chart = KINDS[panel.chart](style=STYLE, js=[], width=640, height=max(320, 26 * len(panel.rows) + 120)
                               if panel.chart == "hbar" else 360, show_legend=panel.chart == "pie" or len(columns) > 1,
                               legend_at_bottom=True, truncate_legend=-1, truncate_label=-1,
                               x_label_rotation=0 if len(panel.rows) <= 8 else 30,
                               show_minor_x_labels=len(panel.rows) <= 15, print_values=False,
                               disable_xml_declaration=True)
    labels = [translate(str(r[0])) if panel.translate_rows else str(r[0]) for r in panel.rows]
    if panel.chart == "pie":
        for label, row in zip(labels, panel.rows):
            chart.add(label, _number(row[columns[0]]))
    else:
        chart.x_labels = labels
        if panel.chart == "line" and len(labels) > 15:
            chart.x_labels_major = labels[::7]
        for i in columns:
            chart.add(translate(panel.headers[i]), [_number(r[i]) for r in panel.rows])
    image = chart.render()
    return image.encode() if isinstance(image, str) else image


def data_uri(panel: DashboardPanel, texts: Mapping[str, str]) -> str:
    """The chart as a data URI ("" without a chart); ``texts``: the translations it needs."""
    image = svg(panel, lambda text: texts.get(text, text))
    return "data:image/svg+xml;base64," + base64.b64encode(image).decode() if image else ""


def texts_of(panel: DashboardPanel, translate: Callable[[str], str]) -> dict[str, str]:
    """The translated strings a panel's chart shows (its headers, its row labels if msgids)."""
    wanted = [*panel.headers, *([str(r[0]) for r in panel.rows] if panel.translate_rows else [])]
    return {text: translate(text) for text in wanted}


async def data_uris(panels: list[DashboardPanel], translate: Callable[[str], str], lang: str) -> list[str]:
    """Each panel's chart, from the cache or drawn in the worker processes (concurrently)."""
    async def one(panel: DashboardPanel) -> str:
        key = (panel, lang)
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        uri = await run_cpu("chart", data_uri, panel, texts_of(panel, translate)) if panel.chart != "none" else ""
        _cache[key] = uri
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        return uri

    return list(await asyncio.gather(*(one(p) for p in panels)))
