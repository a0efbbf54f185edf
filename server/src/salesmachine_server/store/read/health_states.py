"""Reading the health history (project/health_history.py writes it): each customer's state in
force, its states day by day, and the days the project's health model changed.

A row of `health_history` is a state over the local days [from_day, to_day), to_day NULL for
the state in force; `since` is the first day of that state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Connection, Table, not_, or_, select

from salesmachine_server.domain.project_settings import from_stored
from salesmachine_server.domain.timezones import local_day
from salesmachine_server.store.db.dialect import chunks
from salesmachine_server.store.db.schema import health_history, projects
from salesmachine_server.store.read.health_models import saved_days


@dataclass(frozen=True)
class CurrentHealth:
    status: str
    stage: str | None
    band: str | None  # None: churned, or not started
    reason: str
    since: date


@dataclass(frozen=True)
class DayHealth:
    day: date
    status: str
    stage: str | None
    band: str | None
    reason: str


def current(conn: Connection, project_id: int, subject: str, customer_ids: Iterable[int]) -> dict[int, CurrentHealth]:
    """The state in force of each customer that has one (a customer the server has not
    evaluated yet has none)."""
    found: dict[int, CurrentHealth] = {}
    h = health_history.c
    for part in chunks(sorted(set(customer_ids))):
        rows = conn.execute(
            select(h.customer_id, h.status, h.stage, h.band, h.reason, h.from_day).where(
                h.project_id == project_id, h.subject == subject, h.customer_id.in_(part), h.to_day.is_(None)
            )
        )
        for row in rows:
            found[row.customer_id] = CurrentHealth(row.status, row.stage, row.band, row.reason, row.from_day)
    return found


def days(
    conn: Connection, project_id: int, subject: str, customer_id: int, from_day: date, to_day: date
) -> list[DayHealth]:
    """One entry per day of [from_day, to_day] on which the customer had a state (none before
    it was first seen), oldest first."""
    h = health_history.c
    rows = conn.execute(
        select(h.from_day, h.to_day, h.status, h.stage, h.band, h.reason)
        .where(
            h.project_id == project_id,
            h.subject == subject,
            h.customer_id == customer_id,
            h.from_day <= to_day,
            or_(h.to_day.is_(None), h.to_day > from_day),
        )
        .order_by(h.from_day)
    ).all()
    out: list[DayHealth] = []
    for row in rows:
        day = max(row.from_day, from_day)
        end = to_day if row.to_day is None else min(to_day, row.to_day - timedelta(days=1))
        while day <= end:
            out.append(DayHealth(day, row.status, row.stage, row.band, row.reason))
            day += timedelta(days=1)
    return out


def rule_changes(conn: Connection, project_id: int, from_day: date, to_day: date) -> list[date]:
    """The local days, in [from_day, to_day], on which a new health model was saved."""
    settings = conn.execute(select(projects.c.settings).where(projects.c.id == project_id)).scalar_one()
    tz = from_stored(settings).zone
    changed = sorted({local_day(at, tz) for at in saved_days(conn, project_id)})
    return [day for day in changed if from_day <= day <= to_day]


@dataclass(frozen=True)
class HistoryBand:
    """The band in force of a list's rows (contacts or accounts), from the health history: what a
    list's `health=` filter, its `health` column and the dashboard's counts read. Rows without
    a band (churned, not started, not evaluated yet) are in no band: `health!=bad` holds them."""

    table: Table
    subject: str  # "account" or "contact"
    project_id: int

    def _in(self, level: str) -> ColumnElement[bool]:
        h = health_history.c
        return self.table.c.id.in_(
            select(h.customer_id).where(
                h.project_id == self.project_id, h.subject == self.subject, h.to_day.is_(None), h.band == level
            )
        )

    def band(self) -> ColumnElement[str]:
        h = health_history.c
        return (
            select(h.band)
            .where(
                h.project_id == self.project_id,
                h.subject == self.subject,
                h.customer_id == self.table.c.id,
                h.to_day.is_(None),
            )
            .limit(1)
            .correlate(self.table)
            .scalar_subquery()
        )

    def is_(self, level: str) -> ColumnElement[bool]:
        return self._in(level)

    def is_not(self, level: str) -> ColumnElement[bool]:
        return not_(self._in(level))
