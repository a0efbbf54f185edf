"""Everything held about one contact, for an access request (GET /v1/contacts/{uid}/export).

The small parts (profile row, uids, accounts, revenue history) are read at once; the events,
which may be millions, page by page on fresh connections as store/read/exports.py does, so the
document streams with flat memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, true, tuple_

from salesmachine_server.store.db.schema import accounts, contact_uids, contacts, events, memberships, mrr_changes
from salesmachine_server.store.read.exports import ENRICHMENT, PAGE_SIZE, exported_event


@dataclass(frozen=True)
class Person:
    contact_id: int
    contact: dict[str, Any]  # the row's fields: first uid, params, first and last seen
    uids: list[str]
    accounts: list[dict[str, Any]]
    mrr_history: list[dict[str, Any]]


def person(engine: Engine, project_id: int, uid: str) -> Person | None:
    """The contact one of whose uids is `uid`, without its events; None when there is none."""
    with engine.connect() as conn:
        contact_id = conn.execute(
            select(contact_uids.c.contact_id).where(contact_uids.c.project_id == project_id, contact_uids.c.uid == uid)
        ).scalar()
        if contact_id is None:
            return None
        row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).one()
        uids = list(
            conn.execute(
                select(contact_uids.c.uid).where(contact_uids.c.contact_id == contact_id).order_by(contact_uids.c.uid)
            ).scalars()
        )
        member_of = [
            {"account_uid": r.account_uid, "params": r.params, "joined_at": r.created_at}
            for r in conn.execute(
                select(accounts.c.account_uid, accounts.c.params, memberships.c.created_at)
                .select_from(memberships.join(accounts, accounts.c.id == memberships.c.account_id))
                .where(memberships.c.contact_id == contact_id)
                .order_by(accounts.c.account_uid)
            )
        ]
        history = [
            {"mrr": r.mrr, "effective_at": r.effective_at, "received_at": r.received_at}
            for r in conn.execute(
                select(mrr_changes)
                .where(mrr_changes.c.contact_id == contact_id)
                .order_by(mrr_changes.c.effective_at, mrr_changes.c.id)
            )
        ]
    contact = {
        "contact_uid": row.contact_uid,
        "params": row.params,
        "first_seen_at": row.first_seen_at,
        "last_seen_at": row.last_seen_at,
    }
    return Person(contact_id, contact, uids, member_of, history)


def person_events(engine: Engine, contact_id: int) -> Iterator[dict[str, Any]]:
    """The contact's events and pageviews, oldest first, with their enrichment; pages walk the
    index on (contact_id, occurred_at), so a million events read in linear time."""
    after: tuple[Any, int] | None = None
    while True:
        with engine.connect() as conn:
            page = conn.execute(
                select(
                    events.c.id,
                    events.c.name,
                    events.c.kind,
                    events.c.params,
                    events.c.occurred_at,
                    events.c.received_at,
                    events.c.message_id,
                    accounts.c.account_uid,
                    *(events.c[name] for name in ENRICHMENT),
                )
                .select_from(events.outerjoin(accounts, accounts.c.id == events.c.account_id))
                .where(
                    events.c.contact_id == contact_id,
                    true() if after is None else tuple_(events.c.occurred_at, events.c.id) > tuple_(*after),
                )
                .order_by(events.c.occurred_at, events.c.id)
                .limit(PAGE_SIZE)
            ).all()
        if not page:
            return
        for r in page:
            yield exported_event(r)
        after = (page[-1].occurred_at, page[-1].id)
