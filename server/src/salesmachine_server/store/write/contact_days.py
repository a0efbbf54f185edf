"""Rebuild a project's `contact_days` from its events, e.g. after its time zone changed, and
what is derived from them: `account_days` and the health marks (store/write/health_marks.py)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, delete, func, insert, select

from salesmachine_server.domain.health import HealthRule
from salesmachine_server.domain.project_settings import from_stored
from salesmachine_server.domain.timezones import local_day, zone
from salesmachine_server.store.db.dialect import Dialect
from salesmachine_server.store.db.schema import account_days, contact_days, events, memberships, projects
from salesmachine_server.store.write import health_marks

PAGE_SIZE = 10_000


def rebuild_contact_days(engine: Engine, project_id: int, timezone: str) -> int:
    """Recount every event per contact and local day, in one transaction; the number of rows."""
    tz = zone(timezone)
    counts: Counter[tuple[int, date]] = Counter()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Writers count new events into contact_days: hold them off until the recount is in,
            # or an event committed between our read and our delete would be lost from the count.
            conn.exec_driver_sql("LOCK TABLE contact_days, account_days IN EXCLUSIVE MODE")
        last_id = 0
        while True:
            page = conn.execute(
                select(events.c.id, events.c.contact_id, events.c.occurred_at)
                .where(events.c.project_id == project_id, events.c.id > last_id)
                .order_by(events.c.id)
                .limit(PAGE_SIZE)
            ).all()
            if not page:
                break
            for _, contact_id, occurred_at in page:
                counts[(contact_id, local_day(occurred_at, tz))] += 1
            last_id = page[-1].id
        conn.execute(
            delete(contact_days).where(
                contact_days.c.project_id == project_id, contact_days.c.day >= _recount_from(conn, project_id, tz)
            )
        )
        db = Dialect(conn)
        rows = [(c, db.day(d), project_id, n) for (c, d), n in counts.items()]
        for start in range(0, len(rows), PAGE_SIZE):
            db.upsert_adding(
                contact_days,
                ("contact_id", "day", "project_id", "events"),
                rows[start : start + PAGE_SIZE],
                key=("contact_id", "day"),
                counter="events",
            )
        _rebuild_account_days(conn, project_id)
        health_marks.refresh_project(conn, project_id, _rule(conn, project_id))
    return len(counts)


def _recount_from(conn: Connection, project_id: int, tz: ZoneInfo) -> date:
    """The first day recounted: the days before the first event still held are kept as counted,
    their events deleted by retention (store/write/retention.py: active days are history). Two
    days before it, in the new zone: a day of the old one may begin up to 26 hours apart."""
    first = conn.execute(select(func.min(events.c.occurred_at)).where(events.c.project_id == project_id)).scalar()
    return date.max if first is None else local_day(first, tz) - timedelta(days=2)


def refresh_health_marks(engine: Engine, project_id: int) -> None:
    """Recompute the project's health marks for the thresholds of its settings (after they
    changed); a read with the new rule counts active days until this has committed."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Writers read the thresholds after writing their days: wait for those that read
            # the old ones (store/write/health_marks.py).
            conn.exec_driver_sql("LOCK TABLE contact_days, account_days IN EXCLUSIVE MODE")
        health_marks.refresh_project(conn, project_id, _rule(conn, project_id))


def _rule(conn: Connection, project_id: int) -> HealthRule:
    return from_stored(conn.execute(select(projects.c.settings).where(projects.c.id == project_id)).scalar_one()).health


def _rebuild_account_days(conn: Connection, project_id: int) -> None:
    """An account's active days: the days any of its contacts was active."""
    conn.execute(delete(account_days).where(account_days.c.project_id == project_id))
    conn.execute(
        insert(account_days).from_select(
            ["account_id", "day", "project_id"],
            select(memberships.c.account_id, contact_days.c.day, memberships.c.project_id)
            .distinct()
            .select_from(memberships.join(contact_days, contact_days.c.contact_id == memberships.c.contact_id))
            .where(memberships.c.project_id == project_id),
        )
    )
