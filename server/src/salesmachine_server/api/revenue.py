"""GET /v1/revenue: MRR, ARR, customers and MRR movements per calendar period (docs/revenue.md).

Query: `from` and `to` (local dates YYYY-MM-DD, both included; default the twelve calendar
months ending today), `interval` (day, week, month, quarter or year; default month). Periods
are cut at calendar boundaries in the project's time zone. The figures come from
`salesmachine_server.domain.revenue`; this module reads the rows (and names the stored mrr values
the figures leave out: `ignored`, out of range, docs/revenue.md); api/shapes.py shapes the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.api import models, shapes
from salesmachine_server.api.access import reader
from salesmachine_server.api.render import model_answer
from salesmachine_server.domain import revenue
from salesmachine_server.domain.timezones import local_today
from salesmachine_server.errors import ApiError
from salesmachine_server.serving.state import app_state
from salesmachine_server.serving.threads import on_connection
from salesmachine_server.store.read.revenue import accounts_of_paying_contacts, mrr_rows

KNOWN = ("from", "to", "interval")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# Dates whose local midnight exists as a UTC datetime in every zone, with room to spare.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


@dataclass(frozen=True)
class RevenueQuery:
    first: date
    last: date
    interval: str


async def revenue_report(request: Request) -> Response:
    project = await reader(request)
    tz = project.settings.zone
    query = parse_query(request.query_params, local_today(tz))
    try:
        cuts = revenue.periods(query.first, query.last, query.interval, tz)
    except revenue.TooManyPeriods as exc:
        raise ApiError(
            400,
            f"from {query.first} to {query.last} by {query.interval} is {exc.count} periods; at most {exc.limit}: "
            "choose a longer interval or a shorter range",
            field="interval",
            rule="max_periods",
        ) from None

    def load(conn: Connection) -> tuple[list[revenue.MrrRow], dict[str, set[str]]]:
        return mrr_rows(conn, project.id), accounts_of_paying_contacts(conn, project.id)

    rows, accounts_of = await on_connection(app_state(request).engines.reader, load)
    reports = revenue.report(revenue.revenue_units(rows, accounts_of), cuts)
    return model_answer(
        models.RevenueReport(
            from_=query.first,
            to=query.last,
            interval=query.interval,
            timezone=tz.key,
            periods=[shapes.revenue_period(r) for r in reports],
            ignored=[shapes.ignored_mrr(row) for row in revenue.out_of_range(rows)],
        )
    )


def parse_query(params: QueryParams, today: date) -> RevenueQuery:
    """The report's range and interval, or a 400 naming the parameter and the rule."""
    for name in params:
        if name not in KNOWN:
            raise ApiError(
                400,
                f"unknown query parameter {name!r}; the revenue report takes {', '.join(KNOWN)}",
                field=name,
                rule="known",
            )
        if len(params.getlist(name)) > 1:
            raise ApiError(400, f"{name} is given more than once", field=name, rule="single")
    interval = params.get("interval", revenue.MONTH)
    if interval not in revenue.INTERVALS:
        raise ApiError(
            400,
            f"interval must be one of {', '.join(revenue.INTERVALS)}, got {interval!r}",
            field="interval",
            rule="one_of",
        )
    last = _date(params, "to") or today
    first = _date(params, "from") or _twelve_months_ending(last)
    if last < first:
        raise ApiError(400, f"to ({last}) is before from ({first})", field="to", rule="not_before_from")
    return RevenueQuery(first, last, interval)


def _date(params: QueryParams, name: str) -> date | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"{name} must be a date YYYY-MM-DD, got {value!r}", field=name, rule="date") from None
    if not EARLIEST <= day <= LATEST:
        raise ApiError(400, f"{name} must be between {EARLIEST} and {LATEST}, got {value}", field=name, rule="range")
    return day


def _twelve_months_ending(last: date) -> date:
    """The first day of the month eleven months before `last`'s: twelve calendar months."""
    months = last.year * 12 + last.month - 1 - 11
    return date(months // 12, months % 12 + 1, 1)
