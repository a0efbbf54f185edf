"""Everything of a project, row by row, in pages: exports stream with flat memory.

Each page is read on a fresh connection and released before its rows are handed on, so a slow
client never holds a database connection (or an SQLite read snapshot) for the whole export.
The rows are what `ingest/importer.py` reads back: an export imports into an empty project as the
same profiles, each event with the account and the enrichment it had.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, select

from salesmachine_server.store.db.schema import accounts, contact_uids, contacts, events, memberships, mrr_changes
from salesmachine_server.store.read.timelines import ENRICHMENT_NAMES, event_rows

PAGE_SIZE = 2000
KINDS = ("contacts", "accounts", "events")
# An event's enrichment as exported, flat: the names of timelines.ENRICHMENT_NAMES.
ENRICHMENT = ENRICHMENT_NAMES
COLUMNS = {
    "contacts": ["contact_uid", "aliases", "params", "accounts", "first_seen_at", "last_seen_at", "mrr_history"],
    "accounts": ["account_uid", "params", "first_seen_at", "last_seen_at", "mrr_history"],
    "events": [
        "contact_uid",
        "event_uid",
        "kind",
        "account_uid",
        "params",
        "created_at",
        "received_at",
        "message_id",
        *ENRICHMENT,
    ],
}


def rows(engine: Engine, project_id: int, kind: str) -> Iterator[dict[str, Any]]:
    return {"contacts": _contacts, "accounts": _accounts, "events": _events}[kind](engine, project_id)


def _in_project(table: Any, project_id: int) -> Any:
    """The project condition of a page query, written so that no index can serve it.

    Pages walk the primary key (`id > last_id ORDER BY id LIMIT n`). Offered an index on
    (project_id, ...), SQLite takes it, reads every row of the project and sorts them, for each
    page: an export of a million events took minutes per page. `project_id + 0` leaves it (and
    PostgreSQL) only the primary key, so each page reads just its rows and the export is linear.
    """
    return table.c.project_id + 0 == project_id


def _pages(engine: Engine, table: Any, project_id: int, fetch) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    last_id = 0
    while True:
        with engine.connect() as conn:
            page = conn.execute(
                select(table)
                .where(_in_project(table, project_id), table.c.id > last_id)
                .order_by(table.c.id)
                .limit(PAGE_SIZE)
            ).all()
            if not page:
                return
            shaped = fetch(conn, page)
        yield from shaped
        last_id = page[-1].id


def _history(conn: Any, column: Any, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    history: dict[int, list[dict[str, Any]]] = defaultdict(list)
    query = (
        select(column, mrr_changes.c.mrr, mrr_changes.c.effective_at)
        .where(column.in_(ids))
        .order_by(mrr_changes.c.effective_at, mrr_changes.c.id)
    )
    for owner, mrr, at in conn.execute(query):
        history[owner].append({"mrr": mrr, "effective_at": at})
    return history


def _contacts(engine: Engine, project_id: int) -> Iterator[dict[str, Any]]:
    def fetch(conn, page):  # type: ignore[no-untyped-def]
        ids = [r.id for r in page]
        uids: dict[int, list[str]] = defaultdict(list)
        for contact_id, uid in conn.execute(
            select(contact_uids.c.contact_id, contact_uids.c.uid)
            .where(contact_uids.c.contact_id.in_(ids))
            .order_by(contact_uids.c.uid)
        ):
            uids[contact_id].append(uid)
        member_of: dict[int, list[str]] = defaultdict(list)
        for contact_id, account_uid in conn.execute(
            select(memberships.c.contact_id, accounts.c.account_uid)
            .select_from(memberships.join(accounts, accounts.c.id == memberships.c.account_id))
            .where(memberships.c.contact_id.in_(ids))
            .order_by(accounts.c.account_uid)
        ):
            member_of[contact_id].append(account_uid)
        history = _history(conn, mrr_changes.c.contact_id, ids)
        return [
            {
                "contact_uid": r.contact_uid,
                "aliases": [u for u in uids[r.id] if u != r.contact_uid],
                "params": r.params,
                "accounts": member_of[r.id],
                "first_seen_at": r.first_seen_at,
                "last_seen_at": r.last_seen_at,
                "mrr_history": history[r.id],
            }
            for r in page
        ]

    return _pages(engine, contacts, project_id, fetch)


def _accounts(engine: Engine, project_id: int) -> Iterator[dict[str, Any]]:
    def fetch(conn, page):  # type: ignore[no-untyped-def]
        history = _history(conn, mrr_changes.c.account_id, [r.id for r in page])
        return [
            {
                "account_uid": r.account_uid,
                "params": r.params,
                "first_seen_at": r.first_seen_at,
                "last_seen_at": r.last_seen_at,
                "mrr_history": history[r.id],
            }
            for r in page
        ]

    return _pages(engine, accounts, project_id, fetch)


def exported_event(r: Any) -> dict[str, Any]:
    """An event row (with ENRICHMENT's columns last) as an export gives it, but for its contact:
    the project's export names it, a person's export is all one contact's (person_export.py)."""
    return {
        "event_uid": r.name,
        "kind": r.kind,
        "account_uid": r.account_uid,
        "params": r.params,
        "created_at": r.occurred_at,
        "received_at": r.received_at,
        "message_id": r.message_id,
        **dict(zip(ENRICHMENT, r[-len(ENRICHMENT) :])),
    }


def _events(engine: Engine, project_id: int) -> Iterator[dict[str, Any]]:
    last_id = 0
    while True:
        with engine.connect() as conn:
            page = conn.execute(
                event_rows(*(events.c[name] for name in ENRICHMENT))
                .where(_in_project(events, project_id), events.c.id > last_id)
                .order_by(events.c.id)
                .limit(PAGE_SIZE)
            ).all()
        if not page:
            return
        for r in page:
            yield {"contact_uid": r.contact_uid, **exported_event(r)}
        last_id = page[-1].id
