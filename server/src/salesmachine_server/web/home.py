"""The home page: MRR now and its trend, the last twelve months of revenue movements, accounts
per health band, accounts that just turned bad, and the newest contacts.

Revenue figures come from `salesmachine_server.domain.revenue`, the same computation GET /v1/revenue
answers with, over the same rows (`store.read.revenue`): the dashboard and the API cannot
disagree on a month's MRR. The home's report is remembered between requests while those rows
stay the same (`store.read.revenue.home_reports`): the page is opened all day, and computing
it anew takes 200-400 ms on a project with 10,000 paying accounts.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.domain import revenue
from salesmachine_server.domain.list_query import ListQuery, Subject
from salesmachine_server.store.read.counts import count_matching, health_bands, turned_bad
from salesmachine_server.store.read.revenue import home_reports
from salesmachine_server.store.read.signups import recent_signups
from salesmachine_server.store.read.work_items import TaskQuery, list_tasks
from salesmachine_server.web.access import dashboard, page_handler

MONTHS = 12
MY_TASKS = 5  # the signed-in user's open tasks on Home, due soonest first (docs/work.md)


def first_month(today: date, months: int = MONTHS) -> date:
    """The first day of the month `months - 1` months before today's: `months` calendar months."""
    index = today.year * 12 + today.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def movements_chart(reports: list[revenue.PeriodReport]) -> dict[str, Any]:
    """What the movements chart draws: per month, each movement (losses negative) and the MRR."""
    return {
        "labels": [r.period.start.strftime("%b %Y") for r in reports],
        "movements": {
            kind: [revenue.rounded(revenue.SIGN[kind] * r.total(kind)) for r in reports] for kind in revenue.MOVEMENTS
        },
        "mrr": [revenue.rounded(r.mrr) for r in reports],
    }


def trend(reports: list[revenue.PeriodReport]) -> dict[str, Any]:
    """MRR now against the end of last month, as an amount and a share."""
    now = reports[-1].mrr
    before = reports[-2].mrr if len(reports) > 1 else reports[-1].start_mrr
    change = now - before
    return {
        "mrr": revenue.rounded(now),
        "arr": revenue.rounded(reports[-1].arr),
        "customers": reports[-1].customers,
        "change": revenue.rounded(change),
        "share": float(change / before * 100) if before else None,
    }


@page_handler
async def home(request: Request) -> Response:
    dash = await dashboard(request)
    project_id, window, user_id = dash.project.id, dash.window, dash.session.user_id
    cuts = revenue.periods(first_month(window.today), window.today, revenue.MONTH, dash.zone)

    def load(conn: Connection) -> dict[str, Any]:
        return {
            "reports": home_reports(conn, project_id, cuts),
            "bands": health_bands(conn, project_id, Subject.ACCOUNTS, window),
            # Every account: churned and never-active ones are in no band (docs/health.md).
            "accounts": count_matching(conn, project_id, Subject.ACCOUNTS, ListQuery(), window),
            "turned_bad": turned_bad(conn, project_id, window),
            "signups": recent_signups(conn, project_id, window),
            "my_tasks": list_tasks(conn, project_id, TaskQuery(assignee_user_id=user_id, limit=MY_TASKS))[0],
        }

    found = await dash.run(load)
    reports = found["reports"]
    return await dash.page(
        "home.html",
        "home",
        {
            "trend": trend(reports),
            "chart": movements_chart(reports),
            "bands": found["bands"],
            "accounts": found["accounts"],
            "turned_bad": found["turned_bad"],
            "signups": found["signups"],
            "my_tasks": found["my_tasks"],
            "rule": window.rule,
        },
    )
