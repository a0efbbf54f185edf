"""GET /v1/revenue: MRR, ARR, customers and MRR movements per calendar period (docs/revenue.md).

Query: `from` and `to` (local dates YYYY-MM-DD, both included; default the twelve calendar
months ending today), `interval` (day, week, month, quarter or year; default month). Periods
are cut at calendar boundaries in the project's time zone. The figures come from
`salesmachine_server.domain.revenue`; this module reads the rows and shapes the answer, which also
names the stored mrr values the figures leave out (`ignored`: out of range, docs/revenue.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.domain import revenue
from salesmachine_server.api.access import reader
from salesmachine_server.api.render import json_answer
from salesmachine_server.errors import ApiError
from salesmachine_server.store.read.revenue import accounts_of_paying_contacts, mrr_rows
from salesmachine_server.domain.timezones import local_today, zone
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
    tz = zone(project.settings.get("timezone"))
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

    def load() -> tuple[list[revenue.MrrRow], dict[str, set[str]]]:
        with request.app.state.engines.reader.connect() as conn:
            return mrr_rows(conn, project.id), accounts_of_paying_contacts(conn, project.id)

    rows, accounts_of = await run_in_threadpool(load)
    reports = revenue.report(revenue.revenue_units(rows, accounts_of), cuts)
    return json_answer({
        "from": query.first,
        "to": query.last,
        "interval": query.interval,
        "timezone": tz.key,
        "periods": [period_json(r) for r in reports],
        "ignored": [ignored_json(row) for row in revenue.out_of_range(rows)],
    })


def parse_query(params: QueryParams, today: date) -> RevenueQuery:
    """The report's range and interval, or a 400 naming the parameter and the rule."""
    for name in params:
        if name not in KNOWN:
            raise ApiError(400, f"unknown query parameter {name!r}; the revenue report takes {', '.join(KNOWN)}",
                           field=name, rule="known")
        if len(params.getlist(name)) > 1:
            raise ApiError(400, f"{name} is given more than once", field=name, rule="single")
    interval = params.get("interval", revenue.MONTH)
    if interval not in revenue.INTERVALS:
        raise ApiError(400, f"interval must be one of {', '.join(revenue.INTERVALS)}, got {interval!r}",
                       field="interval", rule="one_of")
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


def ignored_json(row: revenue.MrrRow) -> dict[str, Any]:
    """A stored mrr the report leaves out (revenue.stored_mrr), with the value as text: it may
    be no JSON number at all (Infinity, NaN)."""
    return {**row.owner.as_json(), "effective_at": row.effective_at, "mrr": repr(row.mrr)}


def period_json(period: revenue.PeriodReport) -> dict[str, Any]:
    return {
        "start": period.period.start,
        "end": period.period.end,
        "start_at": period.period.start_at,
        "end_at": period.period.end_at,
        "start_mrr": revenue.rounded(period.start_mrr),
        "mrr": revenue.rounded(period.mrr),
        "arr": revenue.rounded(period.arr),
        "start_customers": period.start_customers,
        "customers": period.customers,
        "net_new_mrr": revenue.rounded(period.net_new_mrr),
        "movements": {
            kind: {
                "total": revenue.rounded(period.total(kind)),
                "count": len(listed),
                "units": [
                    {**m.unit.as_json(), "from": revenue.rounded(m.before), "to": revenue.rounded(m.after)}
                    for m in listed
                ],
            }
            for kind, listed in period.movements.items()
        },
    }
