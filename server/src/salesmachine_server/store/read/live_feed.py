"""What arrived last, in the order it arrived: the live view's events and refused items.

Ordered by id, not by the time an event says it happened: a client that sends yesterday's
events must see them at the top of the live view now, as it sends them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from salesmachine_server.store.db.schema import events, rejected_items
from salesmachine_server.store.read.timelines import event_rows


def recent_events(conn: Connection, project_id: int, after_id: int = 0, limit: int = 50) -> list[Any]:
    """The newest events and pageviews with an id above `after_id`, newest first."""
    return list(
        conn.execute(
            event_rows()
            .where(events.c.project_id == project_id, events.c.id > after_id)
            .order_by(events.c.id.desc())
            .limit(limit)
        ).all()
    )


def recent_rejections(conn: Connection, project_id: int, after_id: int = 0, limit: int = 50) -> list[Any]:
    """The newest refused items with an id above `after_id`, newest first, with their reason."""
    return list(
        conn.execute(
            select(rejected_items)
            .where(rejected_items.c.project_id == project_id, rejected_items.c.id > after_id)
            .order_by(rejected_items.c.id.desc())
            .limit(limit)
        ).all()
    )
