"""Which message ids a project has already applied (the door's `duplicates` count,
ingest/journal_append.py; the projector's claim in store/write/apply.py is what decides)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from salesmachine_server.store.db.dialect import chunks
from salesmachine_server.store.db.schema import message_ids


def applied_ids(conn: Connection, project_id: int, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(ids, 500):
        query = select(message_ids.c.message_id).where(
            message_ids.c.project_id == project_id, message_ids.c.message_id.in_(chunk)
        )
        found.update(conn.execute(query).scalars())
    return found
