"""An attribute's value as a person reads it on a profile: 2700.0 as "2,700", an ISO time as
"1 Mar 2026, 09:30" in the project's time zone, a date as "24 Dec 2025". Where that differs
from what the client sent, the page keeps the raw value in the cell's title.

Only values that are plainly quantities or times are rewritten: an identifier (`id`, `*_id`,
`*_uid`) keeps its digits as sent (and so does a year), and a string is read as a time only when it is all ISO-8601
(WIRE.md: dates inside params come as ISO strings or YYYY-MM-DD).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from salesmachine_server.web.templating import plain

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?", re.IGNORECASE)


@dataclass(frozen=True)
class Shown:
    text: str
    raw: str | None  # the value as sent, when `text` differs from it


def shown(key: str, value: Any, tz: ZoneInfo) -> Shown:
    raw = plain(value)
    text = _readable(key, value, tz)
    return Shown(text, raw if text != raw else None)


def _readable(key: str, value: Any, tz: ZoneInfo) -> str:
    if isinstance(value, bool) or value is None:
        return plain(value)
    if isinstance(value, (int, float)) and not _is_identifier(key):
        return _number(value)
    if isinstance(value, str):
        return _time(value, tz) or value
    return plain(value)


def _is_identifier(key: str) -> bool:
    """Ids and years are numbers nobody writes with a thousands separator."""
    name = key.lower()
    return (
        name in ("id", "uid")
        or name.endswith(("_id", "_uid", "-id"))
        or key.endswith(("Id", "ID", "Uid"))
        or "year" in name
    )


def _number(value: int | float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return plain(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.10g}"


def _time(text: str, tz: ZoneInfo) -> str | None:
    """An ISO date or time in words, or None when the string is not all one."""
    if _DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        return f"{day.day} {day:%b %Y}"
    if not _TIME.fullmatch(text):
        return None
    try:
        at = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)  # no zone is UTC, as for created_at (docs/api.md)
    local = at.astimezone(tz)
    return f"{local.day} {local:%b %Y, %H:%M}"
