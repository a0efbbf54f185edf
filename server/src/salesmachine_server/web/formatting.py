"""How the dashboard writes amounts and times: the one place every page's figures and dates go
through (web/templating.py makes them its filters, with the project's currency and time zone).

Amounts: domain/currencies.py `format_amount`, "$1,234.50" in the project's currency.

Times are written as a person reads them: relative while recent ("just now", "3 hours ago",
"yesterday, 14:03"), else absolute in the project's time zone ("5 Dec 2026, 14:03"); the
page puts the exact time in the element's title (`exact`) and in `<time datetime>` (`iso`,
macros.html `moment`). Days (a health state's first day, a renewal) likewise: "today",
"yesterday", "3 days ago", "in 12 days", else "5 Dec 2026".

Stored times are naive UTC (the store's form); the read API's Structs carry aware ones: both
are taken.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

RECENT_HOURS = 12  # "3 hours ago" up to here; then "today, 09:30" / "yesterday, 14:03"
NEAR_DAYS = 6  # "3 days ago" / "in 3 days" up to here; then the date


def aware(at: datetime) -> datetime:
    """A stored (naive UTC) or aware time as an aware one."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def readable_time(at: datetime | None, tz: ZoneInfo, now: datetime | None = None) -> str:
    """`at` relative to now while recent, else absolute in `tz`."""
    if at is None:
        return "never"
    moment = aware(at)
    current = aware(now) if now is not None else datetime.now(UTC)
    local = moment.astimezone(tz)
    seconds = (current - moment).total_seconds()
    if seconds < -60:  # a time to come (a clock ahead by a minute is "just now")
        return absolute_time(moment, tz)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''} ago"
    if seconds < RECENT_HOURS * 3600:
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    days = (current.astimezone(tz).date() - local.date()).days
    if days == 0:
        return f"today, {local:%H:%M}"
    if days == 1:
        return f"yesterday, {local:%H:%M}"
    return absolute_time(moment, tz)


def absolute_time(at: datetime, tz: ZoneInfo) -> str:
    local = aware(at).astimezone(tz)
    return f"{local.day} {local:%b %Y, %H:%M}"


def exact_time(at: datetime | None, tz: ZoneInfo) -> str:
    """The whole time, for a title: "Saturday 5 December 2026, 14:03:12 (Europe/Paris)"."""
    if at is None:
        return ""
    local = aware(at).astimezone(tz)
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M:%S} ({tz.key})"


def iso_time(at: datetime | None) -> str:
    """For `<time datetime>`: ISO 8601 in UTC with a Z."""
    if at is None:
        return ""
    return aware(at).astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def readable_day(day: date | None, today: date) -> str:
    """A calendar day relative to `today` (both in the project's time zone) while near."""
    if day is None:
        return "never"
    days = (today - day).days
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days == -1:
        return "tomorrow"
    if 1 < days <= NEAR_DAYS:
        return f"{days} days ago"
    if -NEAR_DAYS <= days < -1:
        return f"in {-days} days"
    return absolute_day(day)


def absolute_day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def exact_day(day: date | None) -> str:
    return "" if day is None else f"{day:%A} {day.day} {day:%B %Y}"


def today_in(tz: ZoneInfo, now: datetime | None = None) -> date:
    return (aware(now) if now is not None else datetime.now(UTC)).astimezone(tz).date()
