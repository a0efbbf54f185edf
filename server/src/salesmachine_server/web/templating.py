"""Jinja2 for the dashboard: autoescaped everywhere, with the few filters its pages share.

Every value a customer's client sent (names, params, uids) reaches a page through a template, so
autoescaping is on for every template, `.html` or not, and no template marks anything safe.
Pages carry a Content-Security-Policy that allows scripts and styles from this server only: an
injected `<script>` would not run even if escaping were ever missed.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from starlette.responses import HTMLResponse

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def money(value: Any) -> str:
    """1234.5 -> '1,234.50'; whole amounts without cents; '—' when there is none."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—"
    if math.isfinite(value) and float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


@pass_context
def when(context: Any, value: datetime | None) -> str:
    """A stored (naive UTC) time in the project's time zone, to the minute."""
    if value is None:
        return "never"
    tz: ZoneInfo = context.get("tz") or ZoneInfo("UTC")
    return value.replace(tzinfo=UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """'3 hours ago': how long since a stored (naive UTC) time, or an aware one (the read API's
    Structs, api/models.py, which the profile pages show)."""
    if value is None:
        return "never"
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    now = now or datetime.now(UTC).replace(tzinfo=None)
    seconds = (now - value).total_seconds()
    if seconds < 0:
        return "in the future"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def path_part(value: Any) -> str:
    """A uid as one segment of a URL path: slashes and all else encoded; "." and ".." spelled
    %2E, or a browser would resolve them as directories."""
    part = quote(str(value), safe="")
    return part.replace(".", "%2E") if part in (".", "..") else part


def plain(value: Any) -> str:
    """A param's value as a CSM reads it: strings bare, the rest as JSON would write it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        import orjson

        return orjson.dumps(value).decode()
    return str(value)


environment = Environment(
    loader=PackageLoader("salesmachine_server.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(money=money, number=number, when=when, ago=ago, path_part=path_part, plain=plain)


def render(name: str, values: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """A template as a whole HTML answer, with the dashboard's security headers."""
    body = environment.get_template(name).render(values)
    return HTMLResponse(body, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
