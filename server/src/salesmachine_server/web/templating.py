"""Jinja2 for the dashboard: autoescaped everywhere, with the few filters its pages share.

Every value a customer's client sent (names, params, uids) reaches a page through a template, so
autoescaping is on for every template, `.html` or not, and no template marks anything safe.
Pages carry a Content-Security-Policy that allows scripts and styles from this server only: an
injected `<script>` would not run even if escaping were ever missed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from starlette.responses import HTMLResponse

from salesmachine_server.domain.currencies import DEFAULT_CURRENCY, format_amount
from salesmachine_server.web.formatting import (
    absolute_day,
    aware,
    exact_day,
    exact_time,
    iso_time,
    readable_day,
    readable_time,
    today_in,
)

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


def money(value: Any, currency: str = DEFAULT_CURRENCY) -> str:
    """1234.5 -> '$1,234.50' (domain/currencies.py); whole amounts without cents; '—' when
    there is none."""
    return format_amount(value, currency)


def number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


# The filters that read the project from the page's values: its currency and time zone, set by
# web/access.py's Dashboard.page (pages outside a project: USD and UTC).


def _zone(context: Any) -> ZoneInfo:
    zone: ZoneInfo | None = context.get("tz")
    return zone or ZoneInfo("UTC")


@pass_context
def project_money(context: Any, value: Any) -> str:
    return format_amount(value, context.get("currency") or DEFAULT_CURRENCY)


@pass_context
def when(context: Any, value: datetime | None) -> str:
    """A stored (naive UTC) time in the project's time zone, to the minute: the live view's
    rows (dashboard.js writes the rows it adds the same way)."""
    if value is None:
        return "never"
    return aware(value).astimezone(_zone(context)).strftime("%Y-%m-%d %H:%M")


@pass_context
def readable(context: Any, value: datetime | None) -> str:
    return readable_time(value, _zone(context))


@pass_context
def exact(context: Any, value: datetime | None) -> str:
    return exact_time(value, _zone(context))


@pass_context
def day(context: Any, value: date | None) -> str:
    return readable_day(value, today_in(_zone(context)))


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
environment.filters.update(
    money=project_money,
    number=number,
    when=when,
    readable=readable,
    exact=exact,
    iso=iso_time,
    day=day,
    date=absolute_day,
    exact_day=exact_day,
    path_part=path_part,
    plain=plain,
)


def render(name: str, values: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """A template as a whole HTML answer, with the dashboard's security headers."""
    body = environment.get_template(name).render(values)
    return HTMLResponse(body, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
