"""Account and contact pages: attributes, health and the rule behind it, the mrr history, the
usage map, the timeline, the account's contacts or the contact's accounts, the latest visits.

The profile itself is what GET /v1/accounts/{uid} answers: account_profile /
contact_profile shaped by api/shapes.py into api/models.py's Struct (times aware UTC); the
timeline is events_page, paged by its cursor with `?before=`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.api import models, shapes
from salesmachine_server.domain import revenue
from salesmachine_server.domain.list_query import FieldType, QueryError, decode_cursor
from salesmachine_server.project.health_history import profile_health
from salesmachine_server.store.read.activity import account_usage, usage
from salesmachine_server.store.read.profiles import account_profile, contact_profile
from salesmachine_server.store.read.revenue import paying_accounts_of
from salesmachine_server.store.read.timelines import EventQuery, events_page, with_notes
from salesmachine_server.store.read.work_items import tasks_of
from salesmachine_server.store.records.owners import members
from salesmachine_server.web.access import Dashboard, PageNotFound, dashboard, page_handler
from salesmachine_server.web.attribute_values import shown
from salesmachine_server.web.home import first_month
from salesmachine_server.web.logos import Logo
from salesmachine_server.web.usage_map import first_day, usage_map
from salesmachine_server.web.visits import agent_label, place, visit_of

TIMELINE_PAGE = 30
VISITS = 5


def mrr_chart(history: list[models.MrrChange], dash: Dashboard) -> dict[str, Any]:
    """MRR at the end of each of the last twelve months (now, for this month), from the history
    of changes: what the profile's chart draws. A stored value out of range is left out, as the
    revenue report does (revenue.stored_mrr); domain/revenue.py works in naive UTC, the form the
    store keeps."""
    changes = [
        (row.effective_at.replace(tzinfo=None), value)
        for row in history
        if (value := revenue.stored_mrr(row.mrr)) is not None
    ]
    cuts = revenue.periods(first_month(dash.window.today), dash.window.today, revenue.MONTH, dash.zone)
    return {
        "labels": [cut.start.strftime("%b %Y") for cut in cuts],
        "mrr": [revenue.rounded(revenue.mrr_at(changes, cut.end_at)) for cut in cuts],
    }


def _timeline_query(request: Request) -> tuple[EventQuery, str | None]:
    params = request.query_params
    kind = params.get("kind") if params.get("kind") in ("event", "pageview") else None
    after = None
    if params.get("before"):
        try:
            after = decode_cursor(params["before"], FieldType.DATETIME)
        except QueryError:
            after = None
    return EventQuery(kind=kind, limit=TIMELINE_PAGE, after=after), kind


def _visits(conn: Connection, project_id: int, **owner: int) -> list[Any]:
    rows, _ = events_page(conn, project_id, EventQuery(kind="pageview", limit=VISITS), **owner)
    return [visit_of(r) for r in rows]


def _work(conn: Connection, project_id: int, subject: str, customer_id: int) -> dict[str, Any]:
    """The profile's tasks, and the users its owner and task menus offer (docs/work.md)."""
    return {"tasks": tasks_of(conn, project_id, subject, customer_id), "members": members(conn, project_id)}


def _uid(request: Request, noun: str) -> str:
    """The uid in the path. One holding NUL names nothing (writes refuse it), and PostgreSQL
    would refuse the query: not found, before the database is asked."""
    uid = str(request.path_params["uid"])
    if "\x00" in uid:
        raise PageNotFound(f"No {noun} has the uid {uid!r}.")
    return uid


@page_handler
async def account_page(request: Request) -> Response:
    dash = await dashboard(request)
    uid = _uid(request, "account")
    query, kind = _timeline_query(request)
    project_id, window = dash.project.id, dash.window
    since = first_day(window.today)

    def load(conn: Connection) -> dict[str, Any] | None:
        read = account_profile(conn, project_id, uid, window)
        if read is None:
            return None
        profile = shapes.account(read, profile_health(conn, project_id, "account", read.row.id))
        account_id = read.row.id
        timeline, cursor = events_page(conn, project_id, query, account_id=account_id)
        return {
            "profile": profile,
            "timeline": with_notes(
                conn, project_id, timeline, query, cursor, subject="account", customer_id=account_id
            ),
            "cursor": cursor,
            **_work(conn, project_id, "account", account_id),
            "usage": account_usage(conn, account_id, since),
            "visits": _visits(conn, project_id, account_id=account_id),
        }

    found = await dash.run(load)
    if found is None:
        raise PageNotFound(f"No account has the uid {uid!r}.")
    profile = found["profile"]
    return await _profile_page(
        dash, "account.html", "accounts", found, kind, Logo.of(profile.params, uid, profile.domain)
    )


@page_handler
async def contact_page(request: Request) -> Response:
    dash = await dashboard(request)
    uid = _uid(request, "contact")
    query, kind = _timeline_query(request)
    project_id, window = dash.project.id, dash.window
    since = first_day(window.today)

    def load(conn: Connection) -> dict[str, Any] | None:
        read = contact_profile(conn, project_id, uid, window)
        if read is None:
            return None
        profile = shapes.contact(read, profile_health(conn, project_id, "contact", read.row.id))
        contact_id = read.row.id
        timeline, cursor = events_page(conn, project_id, query, contact_id=contact_id)
        return {
            "profile": profile,
            "timeline": with_notes(
                conn, project_id, timeline, query, cursor, subject="contact", customer_id=contact_id
            ),
            "cursor": cursor,
            **_work(conn, project_id, "contact", contact_id),
            "usage": usage(conn, [contact_id], since),
            "visits": _visits(conn, project_id, contact_id=contact_id),
            # Where the revenue report counts this contact's revenue, if on its accounts.
            "paying_accounts": paying_accounts_of(conn, contact_id),
        }

    found = await dash.run(load)
    if found is None:
        raise PageNotFound(f"No contact has the uid {uid!r}.")
    params = found["profile"].params
    label = params.get("name") if isinstance(params.get("name"), str) else params.get("email")
    return await _profile_page(
        dash,
        "contact.html",
        "contacts",
        found,
        kind,
        Logo.of({"name": label if isinstance(label, str) else uid}),
        paying_accounts=found["paying_accounts"],
    )


async def _profile_page(
    dash: Dashboard, template: str, section: str, found: dict[str, Any], kind: str | None, logo: Logo, **extra: Any
) -> Response:
    profile = found["profile"]
    today: date = dash.window.today
    return await dash.page(
        template,
        section,
        {
            "p": profile,
            "logo": logo,
            "attributes": [(key, shown(key, value, dash.zone)) for key, value in sorted(profile.params.items())],
            "chart": mrr_chart(profile.mrr_history, dash),
            "usage": usage_map(found["usage"], today),
            "timeline": found["timeline"],
            "timeline_kind": kind,
            "next_cursor": found["cursor"],
            "visits": found["visits"],
            "place": place(msgspec.structs.asdict(profile.location) if profile.location else None),
            "agent": agent_label(msgspec.structs.asdict(agent) if (agent := getattr(profile, "agent", None)) else None),
            "rule": dash.window.rule,
            "tasks": found["tasks"],
            "members": found["members"],
            "today": today,
            **extra,
        },
    )
