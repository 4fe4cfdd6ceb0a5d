"""What a dashboard shows: its filters and its panels (a chart and the table of its figures).

Plugins add panels through the ``dashboard_panels`` hook with the same ``DashboardPanel`` value
the core's own panels use, so every panel gets the same chart, data table and XLSX export."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CHARTS = ("bar", "stacked", "hbar", "line", "pie", "none")


def _id(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


@dataclass(frozen=True)
class DashboardFilters:
    """The tenant dashboard's filters. ``year`` narrows by the course's year (None: every year);
    ``position`` and ``course`` are ids; ``company`` is the learner's company name as shown
    (所属企业, else 所在单位), matched exactly."""

    year: int | None = None
    position: int | None = None
    course: int | None = None
    company: str = ""

    @classmethod
    def from_query(cls, params: Mapping[str, str], default_year: int | None) -> DashboardFilters:
        year = (params.get("year") or "").strip()
        return cls(year=None if year == "all" else int(year) if year.isdigit() and len(year) == 4 else default_year,
                   position=_id(params.get("position")), course=_id(params.get("course")),
                   company=(params.get("company") or "").strip()[:200])

    def query(self) -> dict[str, str]:
        """The filters as query parameters (for the export link and the form)."""
        out = {"year": str(self.year) if self.year else "all"}
        for key in ("position", "course", "company"):
            if getattr(self, key):
                out[key] = str(getattr(self, key))
        return out


@dataclass(frozen=True)
class DashboardPanel:
    """One figure of a dashboard: ``rows`` of ``headers`` (the first column labels the row, the
    others are numbers), drawn as ``chart`` (bar, stacked, hbar, line, pie or none) beside its
    table. ``title``, ``headers`` and ``note`` are Chinese msgids (translated when shown); row
    labels are data, shown as they are unless ``translate_rows``. Panels are shown in ``order`` within ``section``."""

    key: str
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    chart: str = "bar"
    section: str = ""
    note: str = ""
    order: int = 100
    translate_rows: bool = False  # the row labels are msgids too (fixed names, not data)
    series: tuple[int, ...] = ()  # the columns drawn (indexes into headers); () = every column after the first

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", tuple(self.headers))  # (hashable: charts are cached by panel)
        object.__setattr__(self, "rows", tuple(tuple(r) for r in self.rows))
        object.__setattr__(self, "series", tuple(self.series))
        if self.chart not in CHARTS:
            raise ValueError(f"chart must be one of {CHARTS}, not {self.chart!r}")
        if any(len(r) != len(self.headers) for r in self.rows):
            raise ValueError(f"panel {self.key}: every row needs {len(self.headers)} values")
