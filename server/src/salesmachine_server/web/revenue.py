"""The revenue page: MRR per period (month, week or quarter) with its movements, and a page per
period listing the accounts and contacts that moved, each with its amount before and after.

The figures are `salesmachine_server.domain.revenue`'s over the rows GET /v1/revenue reads
(`store.read.revenue.mrr_rows`, `accounts_of_paying_contacts`), and the parameters are read by the
API's own `parse_query`: the page and the API agree on every period and refuse the same input
with the same field and rule. A period's page is the report of one period from its first to
its last day: opening and closing values are those of the overview's row, so the units listed
are exactly those behind its figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.api.revenue import parse_query
from salesmachine_server.domain import revenue
from salesmachine_server.errors import ApiError
from salesmachine_server.store.read.revenue import accounts_of_paying_contacts, mrr_rows, names_of
from salesmachine_server.web.access import Dashboard, dashboard, page_handler
from salesmachine_server.web.home import movements_chart

# The intervals the page offers, and how many periods it shows of each when no `from` is given.
OFFERED = (revenue.WEEK, revenue.MONTH, revenue.QUARTER)
DEFAULT_COUNT = {revenue.DAY: 31, revenue.WEEK: 12, revenue.MONTH: 12, revenue.QUARTER: 8, revenue.YEAR: 5}


def default_first(last: date, interval: str) -> date:
    """The start of the period `DEFAULT_COUNT[interval] - 1` periods before the one holding `last`."""
    count = DEFAULT_COUNT[interval]
    if interval == revenue.DAY:
        return last - timedelta(days=count - 1)
    if interval == revenue.WEEK:
        return last - timedelta(days=last.weekday() + 7 * (count - 1))
    months = {revenue.MONTH: 1, revenue.QUARTER: 3, revenue.YEAR: 12}[interval]
    start_month = (last.month - 1) // months * months if months < 12 else 0
    index = last.year * 12 + start_month - months * (count - 1)
    return date(index // 12, index % 12 + 1, 1)


def label(start: date, end: date, interval: str) -> str:
    """A period as a CSM names it: "Mar 2026", "Q1 2026", "week of 2 Mar 2026", "2026"; the
    current one "Dec 2026, to 5 Dec"; one that the range starts inside of, or a day, its dates."""
    last = end - timedelta(days=1)
    if start != _boundary_start(start, interval) or interval == revenue.DAY:
        return start.isoformat() if start == last else f"{start.isoformat()} to {last.isoformat()}"
    boundary = revenue.next_boundary(start, interval)
    if end > boundary:  # a range of several periods
        return f"{start.isoformat()} to {last.isoformat()}"
    name = _name(start, interval)
    # The period in progress (the range ends today) is named and says how far it goes.
    return name if end == boundary else f"{name}, to {last.day} {last:%b}"


def _name(start: date, interval: str) -> str:
    if interval == revenue.MONTH:
        return start.strftime("%b %Y")
    if interval == revenue.QUARTER:
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    if interval == revenue.WEEK:
        return f"week of {start.day} {start.strftime('%b %Y')}"
    return str(start.year)


def _boundary_start(day: date, interval: str) -> date:
    """The first day of the calendar period of `interval` that holds `day`."""
    if interval == revenue.WEEK:
        return day - timedelta(days=day.weekday())
    if interval == revenue.MONTH:
        return day.replace(day=1)
    if interval == revenue.QUARTER:
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    if interval == revenue.YEAR:
        return date(day.year, 1, 1)
    return day


def refused(exc: ApiError) -> dict[str, Any]:
    return {"message": exc.message, "field": exc.field, "rule": exc.rule}


def _cuts(first: date, last: date, interval: str, dash: Dashboard) -> list[revenue.Period]:
    try:
        return revenue.periods(first, last, interval, dash.zone)
    except revenue.TooManyPeriods as exc:
        raise ApiError(
            400,
            f"from {first} to {last} by {interval} is {exc.count} periods; at most {exc.limit}: "
            "choose a longer interval or a shorter range",
            field="interval",
            rule="max_periods",
        ) from None


async def _reports(dash: Dashboard, cuts: list[revenue.Period]) -> list[revenue.PeriodReport]:
    project_id = dash.project.id

    def load(conn: Connection) -> dict[revenue.Unit, revenue.History]:
        return revenue.revenue_units(mrr_rows(conn, project_id), accounts_of_paying_contacts(conn, project_id))

    return revenue.report(await dash.run(load), cuts)


def period_address(dash: Dashboard, period: revenue.Period, interval: str, kind: str | None = None) -> str:
    query = {"interval": interval, "from": period.start.isoformat(), "to": (period.end - timedelta(days=1)).isoformat()}
    if kind:
        query["kind"] = kind
    return dash.url(f"/revenue/period?{urlencode(query)}")


@page_handler
async def revenue_page(request: Request) -> Response:
    dash = await dashboard(request)
    try:
        query = parse_query(request.query_params, dash.window.today)
        first = query.first if "from" in request.query_params else default_first(query.last, query.interval)
        cuts = _cuts(first, query.last, query.interval, dash)
    except ApiError as exc:
        return await dash.page(
            "revenue.html",
            "revenue",
            {"error": refused(exc), "offered": OFFERED, "interval": request.query_params.get("interval")},
            status=400,
        )
    reports = await _reports(dash, cuts)
    chart = movements_chart(reports)
    chart["labels"] = [label(r.period.start, r.period.end, query.interval) for r in reports]
    rows = [
        {
            "report": r,
            "label": label(r.period.start, r.period.end, query.interval),
            "address": period_address(dash, r.period, query.interval),
            "moves": {
                kind: {
                    "count": len(r.movements[kind]),
                    "total": revenue.rounded(r.total(kind)),
                    "address": period_address(dash, r.period, query.interval, kind),
                }
                for kind in revenue.MOVEMENTS
            },
        }
        for r in reports
    ]
    return await dash.page(
        "revenue.html",
        "revenue",
        {
            "error": None,
            "offered": OFFERED,
            "interval": query.interval,
            "first": first,
            "last": query.last,
            "rows": rows,
            "chart": chart,
            "latest": reports[-1],
            "net_new": revenue.rounded(sum((r.net_new_mrr for r in reports), revenue.ZERO)),
            "rounded": revenue.rounded,
            "movements": revenue.MOVEMENTS,
        },
    )


@dataclass(frozen=True)
class Moved:
    """One unit's movement in a period, with the name its profile shows."""

    kind: str
    owner: str  # "account" or "contact"
    uid: str
    name: str | None
    before: float
    after: float

    @property
    def change(self) -> float:
        return revenue.rounded(revenue.money(self.after) - revenue.money(self.before))


def _kind(params: QueryParams) -> str | None:
    kinds = params.getlist("kind")
    if len(kinds) > 1:
        raise ApiError(400, "kind is given more than once", field="kind", rule="single")
    if kinds and kinds[0] not in revenue.MOVEMENTS:
        raise ApiError(
            400, f"kind must be one of {', '.join(revenue.MOVEMENTS)}, got {kinds[0]!r}", field="kind", rule="one_of"
        )
    return kinds[0] if kinds else None


@page_handler
async def period_page(request: Request) -> Response:
    """Who moved between the start of `from` and the end of `to`: one period, endpoint to endpoint."""
    dash = await dashboard(request)
    params = request.query_params
    try:
        kind = _kind(params)
        query = parse_query(QueryParams([(k, v) for k, v in params.multi_items() if k != "kind"]), dash.window.today)
    except ApiError as exc:
        return await dash.page("revenue_period.html", "revenue", {"error": refused(exc)}, status=400)
    stop = query.last + timedelta(days=1)
    period = revenue.Period(
        query.first, stop, revenue.utc_instant(query.first, dash.zone), revenue.utc_instant(stop, dash.zone)
    )
    (report,) = await _reports(dash, [period])
    moves = [m for k in revenue.MOVEMENTS for m in report.movements[k]]
    project_id = dash.project.id
    names = await dash.run(lambda conn: names_of(conn, project_id, [m.unit for m in moves]))
    listed = [
        Moved(m.kind, m.unit.kind, m.unit.uid, names.get(m.unit), revenue.rounded(m.before), revenue.rounded(m.after))
        for m in moves
        if kind is None or m.kind == kind
    ]
    return await dash.page(
        "revenue_period.html",
        "revenue",
        {
            "error": None,
            "title": label(query.first, stop, query.interval),
            "interval": query.interval,
            "first": query.first,
            "last": query.last,
            "kind": kind,
            "report": report,
            "listed": listed,
            "counts": {k: len(report.movements[k]) for k in revenue.MOVEMENTS},
            "kinds": revenue.MOVEMENTS,
            "rounded": revenue.rounded,
            "address": lambda k=None: period_address(dash, period, query.interval, k),
            "back": dash.url(f"/revenue?{urlencode({'interval': query.interval})}"),
        },
    )
