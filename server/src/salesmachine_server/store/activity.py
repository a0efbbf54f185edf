"""Rebuild a project's `contact_days` from its events, e.g. after its time zone changed."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import Engine, delete, select

from salesmachine_server.store.schema import contact_days, events
from salesmachine_server.store.upsert import upsert_add
from salesmachine_server.timezones import local_day, zone

PAGE_SIZE = 10_000


def rebuild_contact_days(engine: Engine, project_id: int, timezone: str) -> int:
    """Recount every event per contact and local day, in one transaction; the number of rows."""
    tz = zone(timezone)
    counts: Counter[tuple[int, date]] = Counter()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Writers count new events into contact_days: hold them off until the recount is in,
            # or an event committed between our read and our delete would be lost from the count.
            conn.exec_driver_sql("LOCK TABLE contact_days IN EXCLUSIVE MODE")
        last_id = 0
        while True:
            page = conn.execute(
                select(events.c.id, events.c.contact_id, events.c.occurred_at)
                .where(events.c.project_id == project_id, events.c.id > last_id)
                .order_by(events.c.id).limit(PAGE_SIZE)
            ).all()
            if not page:
                break
            for _, contact_id, occurred_at in page:
                counts[(contact_id, local_day(occurred_at, tz))] += 1
            last_id = page[-1].id
        conn.execute(delete(contact_days).where(contact_days.c.project_id == project_id))
        rows = [{"contact_id": c, "day": d, "project_id": project_id, "events": n} for (c, d), n in counts.items()]
        for start in range(0, len(rows), PAGE_SIZE):
            upsert_add(conn, contact_days, ["contact_id", "day"], "events", rows[start : start + PAGE_SIZE])
    return len(counts)
