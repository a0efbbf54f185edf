"""Delete the events and pageviews each project keeps no longer (its `retention_days` setting).

In small transactions (BATCH rows) with a pause between them, so that ingestion never waits
long: on SQLite the group commit and this share the one write connection, and each batch holds
it for a moment only; on PostgreSQL a batch locks only the rows it deletes. An event is old by
the time it happened (`occurred_at`), not the time it was received: an import of last year's
events into a project that keeps 30 days is deleted at the next run.

Only `events` is touched (pageviews are events of kind "pageview"). What was derived from them
stays, as history: active days (`contact_days`, `account_days`) and so health, first and last
seen, profiles, memberships and revenue history. A contact active on a day of last year still
was, after that day's events are gone; docs/privacy.md, Retention, says so to users.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select

from salesmachine_server.domain.retention import retention_days
from salesmachine_server.store.db.schema import events, projects

log = logging.getLogger("salesmachine.retention")

BATCH = 5_000
PAUSE_SECONDS = 0.1


def delete_expired_events(
    engine: Engine, stop: threading.Event, batch: int = BATCH, pause: float = PAUSE_SECONDS
) -> int:
    """Delete, project by project, the events older than the project's retention; the number
    deleted. Returns early, between two batches, once `stop` is set (the rest waits for the
    next run: every batch is complete on its own)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    deleted = 0
    for project_id, days in _retentions(engine):
        cutoff = now - timedelta(days=days)
        removed = _delete_older(engine, project_id, cutoff, stop, batch, pause)
        if removed:
            log.info(
                "retention: deleted %d events and pageviews of project %d older than %d days", removed, project_id, days
            )
        deleted += removed
        if stop.is_set():
            break
    return deleted


def _retentions(engine: Engine) -> list[tuple[int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(projects.c.id, projects.c.settings).order_by(projects.c.id)).all()
    found = [(row.id, retention_days(row.settings)) for row in rows]
    return [(project_id, days) for project_id, days in found if days is not None]


def _delete_older(
    engine: Engine, project_id: int, cutoff: datetime, stop: threading.Event, batch: int, pause: float
) -> int:
    # By id through the (project_id, occurred_at) index: LIMIT on DELETE itself is not portable.
    doomed = select(events.c.id).where(events.c.project_id == project_id, events.c.occurred_at < cutoff).limit(batch)
    deleted = 0
    while not stop.is_set():
        with engine.begin() as conn:
            removed = conn.execute(delete(events).where(events.c.id.in_(doomed))).rowcount
        deleted += removed
        if removed < batch:
            break
        stop.wait(pause)  # the writer's turn
    return deleted
