"""The newest contacts with their health, for the home page.

list_contacts can sort by first_seen_at, but it aggregates every contact's active days to
do so (1.4 s over 100,000 contacts on SQLite); the home page needs eight rows, so this takes the
eight newest first and reads only their states in force in the health history (store/read/
health_states.py, as the lists and profiles show them). The eight newest are
read from the index ix_contacts_project_first_seen (project_id, first_seen_at, id), backwards:
without it, every contact of the project is sorted (45-200 ms over 100,000 contacts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from salesmachine_server.store.db.schema import contacts
from salesmachine_server.store.read.attention import states_in_force


@dataclass(frozen=True)
class Signup:
    contact_uid: str
    params: dict[str, Any]
    first_seen_at: datetime
    health: str | None  # the band in force; None: churned, not started, or not evaluated yet
    status: str | None


def recent_signups(conn: Connection, project_id: int, limit: int = 8) -> list[Signup]:
    rows = conn.execute(
        select(contacts.c.id, contacts.c.contact_uid, contacts.c.params, contacts.c.first_seen_at)
        .where(contacts.c.project_id == project_id)
        .order_by(contacts.c.first_seen_at.desc(), contacts.c.id.desc())
        .limit(limit)
    ).all()
    states = states_in_force(conn, project_id, "contact", [r.id for r in rows])
    return [
        Signup(
            r.contact_uid,
            r.params,
            r.first_seen_at,
            state.band if (state := states.get(r.id)) else None,
            state.status if state else None,
        )
        for r in rows
    ]
