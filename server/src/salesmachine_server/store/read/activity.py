"""Active days, counted from `contact_days` (kept exact by the write path): a contact's and an
account's over a window, the usage map's days, and the activity subqueries lists and counts join.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, Select, case, distinct, func, select

from salesmachine_server.domain.health import HealthRule, window_start
from salesmachine_server.domain.list_query import Subject
from salesmachine_server.store.db.schema import (
    contact_days,
    memberships,
)
from salesmachine_server.store.read import filters
from salesmachine_server.store.read.health_states import HistoryBand


@dataclass(frozen=True)
class Window:
    """The calendar windows that active days are counted over, for one request."""

    today: date
    rule: HealthRule

    def since(self, days: int) -> date:
        return window_start(self.today, days)


# -- activity ------------------------------------------------------------------------------


def contact_activity(project_id: int, since: date, only: list[int] | None = None):  # type: ignore[no-untyped-def]
    """(contact_id, days): active days of each contact since a day (of the `only` ids, if given)."""
    condition = [contact_days.c.contact_id.in_(only)] if only is not None else []
    return (
        select(contact_days.c.contact_id, func.count().label("days"))
        .where(contact_days.c.project_id == project_id, contact_days.c.day >= since, *condition)
        .group_by(contact_days.c.contact_id)
        .subquery()
    )


def account_activity(project_id: int, since: date, only: list[int] | None = None):  # type: ignore[no-untyped-def]
    """(account_id, days): days any contact of each account was active since a day (of the
    `only` account ids, if given)."""
    condition = [memberships.c.account_id.in_(only)] if only is not None else []
    return (
        select(memberships.c.account_id, func.count(distinct(contact_days.c.day)).label("days"))
        .select_from(memberships.join(contact_days, contact_days.c.contact_id == memberships.c.contact_id))
        .where(memberships.c.project_id == project_id, contact_days.c.day >= since, *condition)
        .group_by(memberships.c.account_id)
        .subquery()
    )


def contact_active_days(conn: Connection, contact_id: int, since: date) -> int:
    return conn.execute(
        select(func.count()).where(contact_days.c.contact_id == contact_id, contact_days.c.day >= since)
    ).scalar_one()


def contact_active_days_since(conn: Connection, contact_id: int, starts: list[date]) -> list[int]:
    """A contact's active days since each of `starts`, in one statement (a profile asks for three)."""
    counts = [func.count(case((contact_days.c.day >= start, 1))) for start in starts]
    row = conn.execute(
        select(*counts).where(contact_days.c.contact_id == contact_id, contact_days.c.day >= min(starts))
    ).one()
    return list(row)


def account_active_days(conn: Connection, account_id: int, since: date) -> int:
    return conn.execute(
        select(func.count(distinct(contact_days.c.day)))
        .select_from(memberships.join(contact_days, contact_days.c.contact_id == memberships.c.contact_id))
        .where(memberships.c.account_id == account_id, contact_days.c.day >= since)
    ).scalar_one()


def usage(conn: Connection, contact_ids: Select[Any] | list[int], since: date) -> dict[date, int]:
    """Events per day since a day, over some contacts (the usage map)."""
    rows = conn.execute(
        select(contact_days.c.day, func.sum(contact_days.c.events))
        .where(contact_days.c.contact_id.in_(contact_ids), contact_days.c.day >= since)
        .group_by(contact_days.c.day)
    )
    return {day: int(total) for day, total in rows}


def activity_source(
    subject: Subject,
    project_id: int,
    window: Window,
    names: Iterable[str],
    only: list[int] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The table of a list of `subject` outer-joined to an activity
    subquery for each named field (of filters.ACTIVITY_FIELDS, each over its own window), and
    those fields' active days, 0 when none: {name: days}, for filters.list_fields. With `only`,
    the subqueries count the activity of those row ids alone. Health is the band in force in
    the health history (store/read/health_states.py), joining nothing: {"health": HistoryBand}."""
    table = filters.table_of(subject)
    activity = contact_activity if subject == Subject.CONTACTS else account_activity
    owner = "contact_id" if subject == Subject.CONTACTS else "account_id"
    source: Any = table
    days: dict[str, Any] = {}
    for name in names:
        if name == "health":
            days[name] = HistoryBand(table, "contact" if subject == Subject.CONTACTS else "account", project_id)
            continue
        sub = activity(project_id, window.since(filters.window_days(name, window.rule)), only)
        source = source.outerjoin(sub, sub.c[owner] == table.c.id)
        days[name] = func.coalesce(sub.c.days, 0)
    return source, days


def account_usage(conn: Connection, account_id: int, since: date) -> dict[date, int]:
    """Events per day since a day over an account's contacts (its usage map)."""
    return usage(conn, select(memberships.c.contact_id).where(memberships.c.account_id == account_id), since)
