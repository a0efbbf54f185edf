"""Saved segments: a list filter under a name, shown in the dashboard's sidebar.

A segment stores the list query language of domain/list_query.py as a query string, the very
string GET /v1/contacts or /v1/accounts takes, so what the sidebar counts is what the API lists.
Its `kind` column holds the list's Subject ("contacts" or "accounts").
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from salesmachine_server.domain.list_query import Subject
from salesmachine_server.store.db.schema import saved_segments
from salesmachine_server.store.records.projects import utcnow


@dataclass(frozen=True, slots=True)
class Segment:
    id: int
    subject: Subject
    name: str
    query: str


def save_segment(
    engine: Engine, project_id: int, subject: Subject, name: str, query: str, user_id: int | None
) -> Segment:
    """Save a filter under a name; saving again under the same name replaces its filter (the
    query is stored as given: the caller has read it with parse_list_query)."""
    name = " ".join(name.split())
    if not name:
        raise ValueError("a segment needs a name")
    if len(name) > 200:
        raise ValueError("a segment's name has at most 200 characters")
    # PostgreSQL's text cannot hold a NUL; SQLite's can, but a name is for reading on both.
    if "\x00" in name or "\x00" in query:
        raise ValueError("a segment's name and filter cannot contain a NUL character")
    with engine.begin() as conn:
        found = conn.execute(
            select(saved_segments.c.id).where(
                saved_segments.c.project_id == project_id,
                saved_segments.c.kind == subject.value,
                saved_segments.c.name == name,
            )
        ).scalar()
        if found is not None:
            conn.execute(saved_segments.update().where(saved_segments.c.id == found).values(query=query))
            return Segment(found, subject, name, query)
        segment_id = conn.execute(
            saved_segments.insert()
            .values(
                project_id=project_id,
                kind=subject.value,
                name=name,
                query=query,
                created_by=user_id,
                created_at=utcnow(),
            )
            .returning(saved_segments.c.id)
        ).scalar_one()
    return Segment(segment_id, subject, name, query)


def list_segments(conn: Connection, project_id: int) -> list[Segment]:
    rows = conn.execute(
        select(saved_segments.c.id, saved_segments.c.kind, saved_segments.c.name, saved_segments.c.query)
        .where(saved_segments.c.project_id == project_id)
        .order_by(saved_segments.c.kind, saved_segments.c.name)
    )
    return [_segment(*row) for row in rows]


def find_segment(conn: Connection, project_id: int, segment_id: int) -> Segment | None:
    row = conn.execute(
        select(saved_segments.c.id, saved_segments.c.kind, saved_segments.c.name, saved_segments.c.query).where(
            saved_segments.c.project_id == project_id, saved_segments.c.id == segment_id
        )
    ).first()
    return None if row is None else _segment(*row)


def _segment(segment_id: int, kind: str, name: str, query: str) -> Segment:
    return Segment(segment_id, Subject(kind), name, query)


def delete_segment(engine: Engine, project_id: int, segment_id: int) -> bool:
    with engine.begin() as conn:
        result = conn.execute(
            saved_segments.delete().where(saved_segments.c.project_id == project_id, saved_segments.c.id == segment_id)
        )
    return result.rowcount > 0
