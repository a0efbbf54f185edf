"""Totals the dashboard shows beside the lists: how many match a filter, accounts per health
band, and accounts that just turned bad.

The read API pages through lists (store/read/queries.py) and never counts them. A count is built by
the same builder as its list (store/read/filters.py: fields, filters and search; the activity
subqueries of activity_source) so that it agrees with the list it counts;
tests/test_dashboard.py checks that it does.
Activity subqueries are joined only when a filter needs them: counting a segment on `plan=pro`
over 100,000 contacts does not aggregate their active days. Health is the band in force in the
health history (project/health_history.py): the home page's bands and a count on `health=bad`
read its index. "Just turned bad" still compares active-days windows by the settings' rule,
through the health marks (store/write/health_marks.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, Subquery, distinct, func, select

from salesmachine_server.domain.health import BAD, LEVELS
from salesmachine_server.domain.list_query import ListQuery, Subject
from salesmachine_server.store.db.schema import accounts, contact_days, health_history, memberships
from salesmachine_server.store.read import filters
from salesmachine_server.store.read.activity import Window, account_activity, activity_source
from salesmachine_server.store.read.json_params import param_number
from salesmachine_server.store.write import health_marks

HISTORY_SUBJECT = {Subject.ACCOUNTS: "account", Subject.CONTACTS: "contact"}


def count_matching(conn: Connection, project_id: int, subject: Subject, query: ListQuery, window: Window) -> int:
    """How many contacts or accounts (`subject`) the list with these filters and search holds."""
    dialect = conn.dialect.name
    table = filters.table_of(subject)
    used = {one.field for one in query.filters}
    source, days = activity_source(subject, project_id, window, [f for f in filters.ACTIVITY_FIELDS if f in used])
    fields = filters.list_fields(dialect, table, days, window.rule)
    statement = (
        select(func.count())
        .select_from(source)
        .where(table.c.project_id == project_id, *filters.list_conditions(dialect, subject, query, fields, project_id))
    )
    return conn.execute(statement).scalar_one()


def health_bands(conn: Connection, project_id: int, subject: Subject, window: Window) -> dict[str, int]:
    """{good, average, bad: how many} of a project's accounts or contacts, by the band in force
    in the health history (churned and not started ones are in none)."""
    h = health_history.c
    rows = conn.execute(
        select(h.band, func.count())
        .where(h.project_id == project_id, h.subject == HISTORY_SUBJECT[subject], h.to_day.is_(None))
        .group_by(h.band)
    )
    counts = dict.fromkeys(LEVELS, 0)
    counts.update({level: int(n) for level, n in rows if level in counts})
    return counts


def _account_days_between(project_id: int, first: date, last: date, only: Any = None) -> Subquery:
    """(account_id, days): days any contact of each account was active from first to last
    (of the `only` account ids, a list or a SELECT of them, if given)."""
    condition = [memberships.c.account_id.in_(only)] if only is not None else []
    return (
        select(memberships.c.account_id, func.count(distinct(contact_days.c.day)).label("days"))
        .select_from(memberships.join(contact_days, contact_days.c.contact_id == memberships.c.contact_id))
        .where(
            memberships.c.project_id == project_id, contact_days.c.day >= first, contact_days.c.day <= last, *condition
        )
        .group_by(memberships.c.account_id)
        .subquery()
    )


def turned_bad(conn: Connection, project_id: int, window: Window, days_ago: int = 7, limit: int = 10) -> Sequence[Any]:
    """Accounts that are bad today and were not `days_ago` days ago, by the same rule over the
    window that ended then: the ones a CSM should call first, the biggest mrr first.

    With the health marks, only a few accounts can be such: more than bad_at_most active days
    in the window that ended then means a (bad_at_most + 1)-th most recent active day on or
    after its start, and bad today means that day is before today's window (or missing). Those
    few are counted exactly; without the marks, every account is."""
    rule = window.rule
    then = window.today - timedelta(days=days_ago)
    first_then = then - timedelta(days=rule.window_days - 1)
    only: Any = None
    if health_marks.usable(conn, project_id, rule):
        only = select(accounts.c.id).where(
            accounts.c.project_id == project_id,
            accounts.c.not_bad_day >= first_then,
            accounts.c.not_bad_day < window.since(rule.window_days),
        )
    before = _account_days_between(project_id, first_then, then, only)
    now = account_activity(project_id, window.since(rule.window_days), only)
    mrr = param_number(conn.dialect.name, accounts.c.params, "mrr")
    statement = (
        select(
            accounts.c.account_uid,
            accounts.c.params,
            accounts.c.last_seen_at,
            before.c.days.label("days_before"),
            func.coalesce(now.c.days, 0).label("days_now"),
        )
        .select_from(
            accounts.join(before, before.c.account_id == accounts.c.id).outerjoin(
                now, now.c.account_id == accounts.c.id
            )
        )
        .where(
            accounts.c.project_id == project_id,
            before.c.days > rule.bad_at_most,
            rule.sql(func.coalesce(now.c.days, 0)) == BAD,
        )
        .order_by(mrr.desc().nulls_last(), accounts.c.last_seen_at.desc().nulls_last(), accounts.c.id)
        .limit(limit)
    )
    return conn.execute(statement).all()
