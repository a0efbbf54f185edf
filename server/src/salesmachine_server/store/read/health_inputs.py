"""What a health model reads of some customers over a range of days, set-wise: one statement per
kind of input for a whole group of customers (a range of ids, or a list of them), returned as
each customer's rows sorted by day (domain/health_timeline.py CustomerRows).

Events, mrr changes and Pulses are stored in UTC: their local day is found here, in Python, one
conversion per row read (SQLite has no time zones). Active days are already local
(contact_days, account_days).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, func, select

from salesmachine_server.domain.health import HealthRule
from salesmachine_server.domain.health_model import Condition, SubjectModel
from salesmachine_server.domain.health_timeline import CustomerRows, Needs, last_per_day, static_filters
from salesmachine_server.domain.list_query import ListQuery, Subject
from salesmachine_server.domain.timezones import local_day
from salesmachine_server.store.db.schema import (
    account_days,
    accounts,
    contact_days,
    contacts,
    events,
    mrr_changes,
    pulses,
)
from salesmachine_server.store.read.filters import list_conditions, list_fields
from salesmachine_server.store.read.json_params import param_number


@dataclass(frozen=True)
class Scope:
    """Which customers: those whose ids are in [low, high], or exactly `ids`."""

    low: int = 0
    high: int = 0
    ids: tuple[int, ...] | None = None

    def on(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        if self.ids is not None:
            return column.in_(self.ids)
        return column.between(self.low, self.high)


def _tables(subject: str) -> tuple[Any, Any, Any, Any, Any]:
    """(customers, their days, the days' key, events' key, mrr's key) of a subject."""
    if subject == "account":
        return accounts, account_days, account_days.c.account_id, events.c.account_id, mrr_changes.c.account_id
    return contacts, contact_days, contact_days.c.contact_id, events.c.contact_id, mrr_changes.c.contact_id


def load(
    conn: Connection,
    project_id: int,
    tz: ZoneInfo,
    subject: str,
    model: SubjectModel,
    needs: Needs,
    scope: Scope,
    start: date,
    end: date,
) -> dict[int, CustomerRows]:
    """The rows of the customers in `scope` that exist by `end`, for evaluating [start, end]."""
    table, days, day_key, event_key, mrr_key = _tables(subject)
    last_moment = datetime.combine(end + timedelta(days=2), datetime.min.time())
    found: dict[int, CustomerRows] = {}
    for row in conn.execute(
        select(table.c.id, table.c.first_seen_at).where(
            table.c.project_id == project_id, scope.on(table.c.id), table.c.first_seen_at < last_moment
        )
    ):
        first = local_day(row.first_seen_at, tz)
        if first <= end:
            found[row.id] = CustomerRows(first_day=first)
    if not found:
        return found
    lookback = start - timedelta(days=needs.lookback())
    for owner, day in conn.execute(
        select(day_key, days.c.day)
        .where(scope.on(day_key), days.c.day > lookback, days.c.day <= end)
        .order_by(day_key, days.c.day)
    ):
        if owner in found:
            found[owner].active.append(day)
    for owner, first in conn.execute(
        select(day_key, func.min(days.c.day)).where(scope.on(day_key), days.c.day <= end).group_by(day_key)
    ).all():
        if owner in found:
            found[owner].first_active = first
    since = datetime.combine(lookback - timedelta(days=1), datetime.min.time())
    for name in needs.event_windows:
        per_day: dict[int, dict[date, int]] = {}
        for owner, at in conn.execute(
            select(event_key, events.c.occurred_at).where(
                events.c.project_id == project_id,
                scope.on(event_key),
                events.c.name == name,
                events.c.occurred_at >= since,
                events.c.occurred_at < last_moment,
            )
        ):
            day = local_day(at, tz)
            if owner in found and lookback < day <= end:
                counts = per_day.setdefault(owner, {})
                counts[day] = counts.get(day, 0) + 1
        for owner, counts in per_day.items():
            found[owner].events[name] = sorted(counts.items())
    for name in needs.milestones:
        for owner, at in conn.execute(
            select(event_key, func.min(events.c.occurred_at))
            .where(events.c.project_id == project_id, scope.on(event_key), events.c.name == name)
            .group_by(event_key)
        ):
            if owner in found and at is not None:
                found[owner].milestones[name] = local_day(at, tz)
    _load_mrr(conn, project_id, tz, scope, mrr_key, found, end, last_moment)
    if subject == "account":
        _load_pulses(conn, project_id, tz, scope, found, end, last_moment)
    _load_static(conn, project_id, subject, model, scope, found)
    return found


def _load_mrr(
    conn: Connection,
    project_id: int,
    tz: ZoneInfo,
    scope: Scope,
    key: Any,
    found: dict[int, CustomerRows],
    end: date,
    last_moment: datetime,
) -> None:
    history: dict[int, list[tuple[date, float | None]]] = {}
    for owner, at, mrr in conn.execute(
        select(key, mrr_changes.c.effective_at, mrr_changes.c.mrr)
        .where(mrr_changes.c.project_id == project_id, scope.on(key), mrr_changes.c.effective_at < last_moment)
        .order_by(key, mrr_changes.c.effective_at, mrr_changes.c.id)
    ):
        day = local_day(at, tz)
        if owner in found and day <= end:
            history.setdefault(owner, []).append((day, _money(mrr)))
    for owner, values in history.items():
        found[owner].mrr = last_per_day(values)


def _money(value: Any) -> float | None:
    """A stored mrr as a number; None for what is not a finite one (a NaN or text stored before
    the door checked it: docs/revenue.md, "Values out of range")."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _load_pulses(
    conn: Connection,
    project_id: int,
    tz: ZoneInfo,
    scope: Scope,
    found: dict[int, CustomerRows],
    end: date,
    last_moment: datetime,
) -> None:
    rated: dict[int, list[tuple[date, int]]] = {}
    for owner, at, score in conn.execute(
        select(pulses.c.account_id, pulses.c.rated_at, pulses.c.score)
        .where(pulses.c.project_id == project_id, scope.on(pulses.c.account_id), pulses.c.rated_at < last_moment)
        .order_by(pulses.c.account_id, pulses.c.rated_at, pulses.c.id)
    ):
        day = local_day(at, tz)
        if owner in found and day <= end:
            rated.setdefault(owner, []).append((day, score))
    for owner, scores in rated.items():
        found[owner].pulses = last_per_day(scores)


def _load_static(
    conn: Connection, project_id: int, subject: str, model: SubjectModel, scope: Scope, found: dict[int, CustomerRows]
) -> None:
    """Which customers each condition's static filters (params, account_uid, absolute times)
    hold for, by the list language's own SQL (store/read/filters.py)."""
    table = _tables(subject)[0]
    list_subject = Subject.ACCOUNTS if subject == "account" else Subject.CONTACTS
    dialect = conn.dialect.name
    seen: set[str] = set()
    for condition in model.conditions():
        if condition.text in seen:
            continue
        seen.add(condition.text)
        holders = _static_holders(conn, project_id, dialect, table, list_subject, condition, scope)
        for customer_id, rows in found.items():
            rows.static[condition.text] = holders is None or customer_id in holders


def _static_holders(
    conn: Connection,
    project_id: int,
    dialect: str,
    table: Any,
    subject: Subject,
    condition: Condition,
    scope: Scope,
) -> set[int] | None:
    """The ids of `scope` its static filters hold for; None when it has none (holds for all)."""
    static = static_filters(condition)
    if not static:
        return None
    fields = list_fields(dialect, table, {}, HealthRule())
    fields["mrr"] = param_number(dialect, table.c.params, "mrr")
    where = list_conditions(dialect, subject, ListQuery(filters=list(static)), fields, project_id)
    return set(
        conn.execute(select(table.c.id).where(table.c.project_id == project_id, scope.on(table.c.id), *where)).scalars()
    )


def id_ranges(conn: Connection, project_id: int, subject: str, size: int) -> Sequence[Scope]:
    """The project's customers of a subject as ranges of `size` ids or fewer, in id order."""
    table = _tables(subject)[0]
    ids = list(conn.execute(select(table.c.id).where(table.c.project_id == project_id).order_by(table.c.id)).scalars())
    return [Scope(low=part[0], high=part[-1]) for part in (ids[i : i + size] for i in range(0, len(ids), size))]
