"""Project time zones: calendar days are counted where the customer's team lives."""

from __future__ import annotations

from datetime import UTC as FIXED_UTC
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT = "UTC"
UTC = ZoneInfo(DEFAULT)  # ZoneInfo keeps one instance per name: zone("UTC") is this one


@lru_cache(maxsize=256)
def zone(name: str | None) -> ZoneInfo:
    """The zone of that name; UTC for a missing or unknown name (names are checked when set)."""
    try:
        return ZoneInfo(name or DEFAULT)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT)


def is_valid(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local_day(at: datetime, tz: ZoneInfo) -> date:
    """The calendar day, in `tz`, of a naive UTC time."""
    if tz is UTC:  # most projects: no conversion to make (once per event written)
        return at.date()
    return at.replace(tzinfo=FIXED_UTC).astimezone(tz).date()


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    return (now or datetime.now(FIXED_UTC)).astimezone(tz).date()
