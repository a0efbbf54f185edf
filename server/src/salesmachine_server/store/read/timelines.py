"""Timelines: a contact's, an account's or the project's events and pageviews, newest first,
in keyset pages, with the enrichment stored with each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, or_, select

from salesmachine_server.domain.list_query import encode_cursor
from salesmachine_server.store.db.schema import (
    accounts,
    contacts,
    events,
)
from salesmachine_server.store.read.work_items import notes_of
from salesmachine_server.store.write.event_insert import ENRICHMENT_COLUMNS

# -- timelines ----------------------------------------------------------------------------

# An event's enrichment as stored (enrich/, event_insert.ENRICHMENT_COLUMNS, less the version of
# the enrichment applied): where from and with what. All None for an event that carried no
# address or agent, or that was not enriched.
ENRICHMENT_NAMES = tuple(name for name in ENRICHMENT_COLUMNS if name != "enrichment")
ENRICHMENT = tuple(events.c[name] for name in ENRICHMENT_NAMES)


def event_rows(*extra: Any) -> Select[Any]:
    """Events as every reader takes them (timelines, exports, the live feed): the event, its
    contact's uid and its account's uid (None when it has none), and any `extra` columns."""
    return select(
        events.c.id,
        events.c.name,
        events.c.kind,
        events.c.params,
        events.c.occurred_at,
        events.c.received_at,
        events.c.message_id,
        contacts.c.contact_uid,
        accounts.c.account_uid,
        *extra,
    ).select_from(
        events.join(contacts, contacts.c.id == events.c.contact_id).outerjoin(
            accounts, accounts.c.id == events.c.account_id
        )
    )


@dataclass(frozen=True)
class EventQuery:
    names: tuple[str, ...] = ()
    kind: str | None = None  # "event" or "pageview"
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    after: tuple[datetime, int] | None = None


def events_page(
    conn: Connection,
    project_id: int,
    query: EventQuery,
    *,
    contact_id: int | None = None,
    account_id: int | None = None,
) -> tuple[list[Any], str | None]:
    """Events newest first, keyset-paged on (occurred_at, id)."""
    statement = event_rows(*ENRICHMENT).where(events.c.project_id == project_id)
    if contact_id is not None:
        statement = statement.where(events.c.contact_id == contact_id)
    if account_id is not None:
        statement = statement.where(events.c.account_id == account_id)
    if query.names:
        statement = statement.where(events.c.name.in_(query.names))
    if query.kind:
        statement = statement.where(events.c.kind == query.kind)
    if query.since is not None:
        statement = statement.where(events.c.occurred_at >= query.since)
    if query.until is not None:
        statement = statement.where(events.c.occurred_at < query.until)
    if query.after is not None:
        at, last_id = query.after
        statement = statement.where(
            or_(events.c.occurred_at < at, and_(events.c.occurred_at == at, events.c.id < last_id))
        )
    rows = list(
        conn.execute(statement.order_by(events.c.occurred_at.desc(), events.c.id.desc()).limit(query.limit + 1)).all()
    )
    if len(rows) <= query.limit:
        return rows, None
    rows = rows[: query.limit]
    return rows, encode_cursor(rows[-1].occurred_at, rows[-1].id)


# -- notes beside the events ----------------------------------------------------------------


def with_notes(
    conn: Connection,
    project_id: int,
    rows: list[Any],
    query: EventQuery,
    next_cursor: str | None,
    *,
    subject: str,
    customer_id: int,
) -> list[Any]:
    """A page of a customer's timeline with its notes (docs/work.md) in their place: the notes
    written within the span of time the page covers (from the event after its last, or the
    beginning, to the event before its first, or now), newest first with the events. A page of
    only events or only pageviews (`query.kind`) shows none."""
    if query.kind is not None:
        return rows
    up_to = query.after[0] if query.after is not None else None
    newer_than = rows[-1].occurred_at if next_cursor is not None and rows else None
    notes = notes_of(conn, project_id, subject, customer_id, newer_than=newer_than, up_to=up_to)
    merged = [*rows, *notes]
    merged.sort(key=lambda entry: entry.at if entry.kind == "note" else entry.occurred_at, reverse=True)
    return merged
