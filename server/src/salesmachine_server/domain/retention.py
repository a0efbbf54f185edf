"""Retention: the project setting `retention_days`, after which events and pageviews are deleted.

A whole number of days from 1 to MAX_DAYS, or absent: kept forever. Typed by people in two
places (`salesmachine projects configure --retention-days`, the dashboard's settings form), read
here by both, so that the same text is refused with the same words. "none" clears the setting;
0 is refused rather than read as "forever" or as "delete everything at once": either reading
would surprise half of those who type it.
"""

from __future__ import annotations

from typing import Any

FIELD = "retention_days"
MAX_DAYS = 36_500  # a hundred years: past it, "forever" says it better
CLEAR = "none"
RULE = f"{FIELD} must be a whole number of days from 1 to {MAX_DAYS}, or {CLEAR} to keep events forever"


def parse_retention_days(typed: str) -> int | None:
    """The days typed (None for "none", or nothing: keep forever); ValueError naming the rule."""
    value = typed.strip()
    if value.lower() in (CLEAR, ""):
        return None
    # ASCII digits only and few of them: int() also reads "²" or "٣", and thousands of digits.
    if not (value.isascii() and value.isdigit()) or len(value.lstrip("0")) > len(str(MAX_DAYS)):
        raise ValueError(f"{RULE}, got {typed!r}")
    days = int(value)
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"{RULE}, got {typed!r}")
    return days


def retention_days(settings: dict[str, Any]) -> int | None:
    """The days a project keeps events, from its stored settings; None: forever. A stored value
    that is not one the setting takes (written by hand) keeps events: deleting on a guess is
    the one mistake that cannot be undone."""
    days = settings.get(FIELD)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        return None
    return days
