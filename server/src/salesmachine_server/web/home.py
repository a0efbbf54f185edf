"""The home page: MRR now and its trend, the revenue at risk (mrr of paying accounts in bad
health) and its share of MRR, the accounts needing attention ranked by that mrr with the reason
and the day they turned, the last twelve months of revenue movements, the accounts' health bands
over the last twelve weeks, the renewals of the next 30/60/90 days (when the project names its
renewal attribute), and the newest contacts.

Health is the history's state in force (store/read/attention.py), the same the profiles and
lists show.

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
from salesmachine_server.store.read.attention import (
    WeekBands,
    needing_attention,
    renewals,
    revenue_at_risk,
    weekly_bands,
)
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


def bands_chart(weeks: list[WeekBands]) -> dict[str, Any]:
    """What the weekly bands chart draws: per week (labelled by its Monday), each band's count."""
    return {
        "labels": [f"{week.start.day} {week.start:%b}" for week in weeks],
        "good": [week.good for week in weeks],
        "average": [week.average for week in weeks],
        "bad": [week.bad for week in weeks],
    }


def share(part: float, whole: float) -> float | None:
    """`part` as a percentage of `whole`, None when there is no whole."""
    return part / whole * 100 if whole > 0 else None


@page_handler
async def home(request: Request) -> Response:
    dash = await dashboard(request)
    project_id, window, user_id = dash.project.id, dash.window, dash.session.user_id
    cuts = revenue.periods(first_month(window.today), window.today, revenue.MONTH, dash.zone)
    renewal_attribute = dash.project.settings.renewal_attribute

    def load(conn: Connection) -> dict[str, Any]:
        return {
            "reports": home_reports(conn, project_id, cuts),
            "at_risk": revenue_at_risk(conn, project_id),
            "attention": needing_attention(conn, project_id),
            "weeks": weekly_bands(conn, project_id, window.today),
            "renewals": renewals(conn, project_id, renewal_attribute, window.today) if renewal_attribute else None,
            "signups": recent_signups(conn, project_id),
            "my_tasks": list_tasks(conn, project_id, TaskQuery(assignee_user_id=user_id, limit=MY_TASKS))[0],
        }

    found = await dash.run(load)
    reports = found["reports"]
    now = trend(reports)
    weeks: list[WeekBands] = found["weeks"]
    return await dash.page(
        "home.html",
        "home",
        {
            "trend": now,
            "chart": movements_chart(reports),
            "at_risk": found["at_risk"],
            "at_risk_share": share(found["at_risk"].mrr, float(now["mrr"])),
            "attention": found["attention"],
            "bands": weeks[-1],
            "bands_chart": bands_chart(weeks),
            "renewal_attribute": renewal_attribute,
            "renewals": found["renewals"],
            "signups": found["signups"],
            "my_tasks": found["my_tasks"],
        },
    )
