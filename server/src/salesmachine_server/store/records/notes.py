"""Notes: free text a user writes about an account or a contact, shown in its timeline.

The author's address is kept as text beside their user id: the id decides who may edit the
note, the text says who wrote it. When contacts merge by an alias, their notes move to the
contact that stays (store/write/identity.py calls `move_to`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from salesmachine_server.domain.work_items import checked_body, checked_subject
from salesmachine_server.store.db.schema import notes
from salesmachine_server.store.records.projects import utcnow


@dataclass(frozen=True, slots=True)
class Note:
    id: int
    subject: str
    customer_id: int
    author_user_id: int | None
    author: str
    body: str
    created_at: datetime
    updated_at: datetime

    @property
    def kind(self) -> str:
        """What a timeline calls it, beside its events' "event" and "pageview"."""
        return "note"

    @property
    def at(self) -> datetime:
        """Where it sits in a timeline: when it was written."""
        return self.created_at


def add_note(
    conn: Connection,
    project_id: int,
    *,
    subject: str,
    customer_id: int,
    body: str,
    author: str,
    author_user_id: int | None,
) -> Note:
    """Add a note in the caller's transaction (the body read by domain/work_items.py)."""
    now = utcnow()
    text = checked_body(body)
    note_id = conn.execute(
        notes.insert()
        .values(
            project_id=project_id,
            subject=checked_subject(subject),
            customer_id=customer_id,
            author_user_id=author_user_id,
            author=author[:320],
            body=text,
            created_at=now,
            updated_at=now,
        )
        .returning(notes.c.id)
    ).scalar_one()
    return Note(int(note_id), subject, customer_id, author_user_id, author[:320], text, now, now)


def find_note(conn: Connection, project_id: int, note_id: int) -> Note | None:
    row = conn.execute(select(notes).where(notes.c.project_id == project_id, notes.c.id == note_id)).first()
    return None if row is None else note_of(row)


def edit_note(conn: Connection, project_id: int, note_id: int, body: str) -> None:
    """Replace a note's text (the caller has checked that its author asks)."""
    conn.execute(
        notes.update()
        .where(notes.c.project_id == project_id, notes.c.id == note_id)
        .values(body=checked_body(body), updated_at=utcnow())
    )


def note_of(row: Row[Any]) -> Note:
    return Note(
        int(row.id),
        row.subject,
        int(row.customer_id),
        row.author_user_id,
        row.author,
        row.body,
        row.created_at,
        row.updated_at,
    )
