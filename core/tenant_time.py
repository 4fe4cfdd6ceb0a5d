"""Tenant time: times are stored in UTC and shown, dated and counted in the tenant's zone.

Every time a page shows, every date on a document and every "today" (daily study caps, face
attempts per day, working days, deadlines) goes through here, with the zone named by the
tenant's rules (``timezone``, an IANA name such as ``Asia/Shanghai``).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from core.tenancy import Tenant

DEFAULT_ZONE = "Asia/Shanghai"


@lru_cache(maxsize=64)
def zone_named(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone(tenant: Tenant | None) -> ZoneInfo:
    """The tenant's zone; platform pages (no tenant) use the default."""
    return zone_named(tenant.rules.timezone if tenant is not None else DEFAULT_ZONE)


def local(value: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """``value`` in zone ``tz``; a naive value is UTC (SQLite hands timestamps back naive)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(tz)


def now(tenant: Tenant | None) -> dt.datetime:
    return dt.datetime.now(zone(tenant))


def today(tenant: Tenant | None) -> dt.date:
    return now(tenant).date()


def day_start(value: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """Midnight in zone ``tz`` that began the day holding ``value``."""
    return dt.datetime.combine(local(value, tz).date(), dt.time(), tz)


def day_of(timestamp: float, tz: ZoneInfo) -> str:
    """The ISO date in zone ``tz`` of a Unix timestamp (the key of a per-day counter)."""
    return dt.datetime.fromtimestamp(timestamp, tz).date().isoformat()


def format_datetime(value: dt.datetime | dt.date | None, tz: ZoneInfo) -> str:
    if not isinstance(value, dt.datetime):
        return format_date(value, tz)  # a date has no time of day to show
    return local(value, tz).strftime("%Y-%m-%d %H:%M")


def format_date(value: dt.datetime | dt.date | None, tz: ZoneInfo) -> str:
    """A date as pages show it; a datetime is first put in the tenant's zone, a date is a date."""
    if not value:
        return ""
    if isinstance(value, dt.datetime):
        value = local(value, tz)
    return value.strftime("%Y-%m-%d")


def document_date(value: dt.datetime, tz: ZoneInfo) -> str:
    """A date as documents (the certificate) write it: 2026年12月07日."""
    return local(value, tz).strftime("%Y年%m月%d日")
