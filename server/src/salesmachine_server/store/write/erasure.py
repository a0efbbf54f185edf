"""Erase a contact or an account everywhere, in small transactions that never stall the writer.

An erasure runs beside ingestion, which must not stop for more than a moment (bench/erasure.py
measures it): a contact may have a million events, and deleting them in one transaction would
hold SQLite's one write lock, or PostgreSQL's locks on the contact, for as long. So:
1. one transaction records the uid hashes as suppressed (ingest/suppression.py refuses or
   drops writes naming them from then on) and reads every uid of the contact;
2. its events and pageviews go `BATCH` rows per transaction, the writer's turn between two;
   then the refused items whose payload names one of its uids (domain/payload_uids.py);
3. one last short transaction removes what is left: events that arrived meanwhile, active
   days, memberships, revenue history, uids and the row itself, and recomputes what its
   accounts derived from it (active days, health marks, last seen) as if it had never been.
Accounts are erased the same way; their events stay their contacts' and lose the account.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from salesmachine_server.domain.payload_uids import names_any
from salesmachine_server.domain.uid_hashes import Kind
from salesmachine_server.store.db.dialect import Dialect, chunks
from salesmachine_server.store.db.schema import (
    account_days,
    accounts,
    contact_days,
    contact_uids,
    contacts,
    events,
    memberships,
    mrr_changes,
    notes,
    pulses,
    rejected_items,
    suppressions,
    tasks,
)
from salesmachine_server.store.records.deliveries import delete_naming
from salesmachine_server.store.write import health_history, health_marks
from salesmachine_server.store.write.health_marks import FAR_BACK

# Rows per transaction: a few tens of milliseconds of the write lock on either engine.
BATCH = 2000
# Slept between two transactions so that the writer thread, waiting for SQLite's one writer
# connection, takes its turn rather than the erasure taking the connection straight back.
PAUSE_SECONDS = 0.002
Hasher = Callable[[Kind, str], str]


@dataclass
class Erased:
    """What an erasure removed: rows per kind, and the hashes of the uids it suppressed."""

    kind: Kind
    counts: dict[str, int] = field(default_factory=dict)
    uid_hashes: list[str] = field(default_factory=list)

    def add(self, what: str, rows: int) -> None:
        self.counts[what] = self.counts.get(what, 0) + max(rows, 0)


def erase_contact(
    engine: Engine, project_id: int, uid: str, hasher: Hasher, now: datetime, settle: float = 0.0, batch: int = BATCH
) -> Erased | None:
    """Erase the contact one of whose uids is `uid`; None when no contact has it. `settle`:
    seconds to wait once the uids are suppressed, for every write checked before to land."""
    with engine.begin() as conn:
        contact_id = conn.execute(
            select(contact_uids.c.contact_id).where(contact_uids.c.project_id == project_id, contact_uids.c.uid == uid)
        ).scalar()
        if contact_id is None:
            return None
        uids = _contact_uids(conn, contact_id)
        erased = Erased(
            "contact",
            {"events": 0, "pageviews": 0},
            uid_hashes=_suppress(conn, project_id, "contact", uids, hasher, now),
        )
    time.sleep(settle)
    _in_batches(
        engine, batch, functools.partial(_delete_some_events, erased=erased, contact_id=contact_id, limit=batch)
    )
    with engine.begin() as conn:
        _lock(conn, contacts, [contact_id])
        uids |= _contact_uids(conn, contact_id)  # an alias may have come meanwhile
        _delete_some_events(conn, erased, contact_id, None)
        account_ids = sorted(
            conn.execute(select(memberships.c.account_id).where(memberships.c.contact_id == contact_id)).scalars()
        )
        _lock(conn, accounts, account_ids)
        erased.add(
            "active_days", conn.execute(delete(contact_days).where(contact_days.c.contact_id == contact_id)).rowcount
        )
        erased.add(
            "memberships", conn.execute(delete(memberships).where(memberships.c.contact_id == contact_id)).rowcount
        )
        erased.add(
            "mrr_changes", conn.execute(delete(mrr_changes).where(mrr_changes.c.contact_id == contact_id)).rowcount
        )
        _delete_work_items(conn, erased, project_id, "contact", contact_id)
        erased.add("uids", conn.execute(delete(contact_uids).where(contact_uids.c.contact_id == contact_id)).rowcount)
        erased.add("contacts", conn.execute(delete(contacts).where(contacts.c.id == contact_id)).rowcount)
        health_history.delete_customers(conn, project_id, "contact", [contact_id])
        _recompute_accounts(conn, project_id, account_ids)
        erased.uid_hashes = _suppress(conn, project_id, "contact", uids, hasher, now)
    erased.add("rejected_items", _delete_rejected(engine, project_id, frozenset(uids), batch))
    erased.add("deliveries", delete_naming(engine, project_id, frozenset(uids), batch))
    return erased


def erase_account(
    engine: Engine, project_id: int, uid: str, hasher: Hasher, now: datetime, settle: float = 0.0, batch: int = BATCH
) -> Erased | None:
    """Erase the account `uid`; None when there is none. Its contacts and their events stay."""
    with engine.begin() as conn:
        account_id = conn.execute(
            select(accounts.c.id).where(accounts.c.project_id == project_id, accounts.c.account_uid == uid)
        ).scalar()
        if account_id is None:
            return None
        erased = Erased("account", uid_hashes=_suppress(conn, project_id, "account", {uid}, hasher, now))
    time.sleep(settle)
    erased.add("events_detached", _in_batches(engine, batch, lambda conn: _detach_some_events(conn, account_id, batch)))
    with engine.begin() as conn:
        _lock(conn, accounts, [account_id])
        erased.add("events_detached", _detach_some_events(conn, account_id, None))
        erased.add(
            "active_days", conn.execute(delete(account_days).where(account_days.c.account_id == account_id)).rowcount
        )
        erased.add(
            "memberships", conn.execute(delete(memberships).where(memberships.c.account_id == account_id)).rowcount
        )
        erased.add(
            "mrr_changes", conn.execute(delete(mrr_changes).where(mrr_changes.c.account_id == account_id)).rowcount
        )
        _delete_work_items(conn, erased, project_id, "account", account_id)
        erased.add("pulses", conn.execute(delete(pulses).where(pulses.c.account_id == account_id)).rowcount)
        erased.add("accounts", conn.execute(delete(accounts).where(accounts.c.id == account_id)).rowcount)
        health_history.delete_customers(conn, project_id, "account", [account_id])
    erased.add("rejected_items", _delete_rejected(engine, project_id, frozenset({uid}), batch))
    erased.add("deliveries", delete_naming(engine, project_id, frozenset({uid}), batch))
    return erased


def _delete_work_items(conn: Connection, erased: Erased, project_id: int, subject: str, customer_id: int) -> None:
    """What people wrote and had to do about the customer is about a person too: it goes."""
    for name, table in (("notes", notes), ("tasks", tasks)):
        erased.add(
            name,
            conn.execute(
                delete(table).where(
                    table.c.project_id == project_id, table.c.subject == subject, table.c.customer_id == customer_id
                )
            ).rowcount,
        )


def _contact_uids(conn: Connection, contact_id: int) -> set[str]:
    return set(conn.execute(select(contact_uids.c.uid).where(contact_uids.c.contact_id == contact_id)).scalars())


def _suppress(
    conn: Connection, project_id: int, kind: Kind, uids: set[str], hasher: Hasher, now: datetime
) -> list[str]:
    """Record the hashes of `uids` as suppressed (once each); the hashes, sorted."""
    hashes = sorted({hasher(kind, uid) for uid in uids})
    db = Dialect(conn)
    db.insert_ignoring(
        suppressions,
        ("project_id", "uid_hash", "created_at"),
        [(project_id, h, db.time(now)) for h in hashes],
        conflict=("project_id", "uid_hash"),
    )
    return hashes


def _in_batches(engine: Engine, batch: int, step: Callable[[Connection], int]) -> int:
    """Run `step` in transactions of its own until it changes fewer than `batch` rows."""
    total = 0
    while True:
        with engine.begin() as conn:
            done = step(conn)
        total += done
        if done < batch:
            return total
        time.sleep(PAUSE_SECONDS)


def _delete_some_events(conn: Connection, erased: Erased, contact_id: int, limit: int | None) -> int:
    """Delete up to `limit` (None: all) of the contact's events and pageviews, counted per kind
    (RETURNING: both engines); one pass over its index, whatever the mix of kinds."""
    some = select(events.c.id).where(events.c.contact_id == contact_id)
    if limit is not None:
        some = some.limit(limit)
    kinds = conn.execute(delete(events).where(events.c.id.in_(some.scalar_subquery())).returning(events.c.kind))
    removed = Counter(kinds.scalars())
    for kind, count in removed.items():
        erased.add(f"{kind}s", count)
    return sum(removed.values())


def _detach_some_events(conn: Connection, account_id: int, limit: int | None) -> int:
    some = select(events.c.id).where(events.c.account_id == account_id)
    if limit is not None:
        some = some.limit(limit)
    return conn.execute(update(events).where(events.c.id.in_(some.scalar_subquery())).values(account_id=None)).rowcount


def _lock(conn: Connection, table: Any, ids: Sequence[int]) -> None:
    """Lock rows in id order, as writers do (store/write/identity.py): a writer touching them
    waits for this transaction, and sees the state after it. SQLite has one writer anyway."""
    if ids and conn.dialect.name == "postgresql":
        conn.execute(select(table.c.id).where(table.c.id.in_(list(ids))).order_by(table.c.id).with_for_update())


def _recompute_accounts(conn: Connection, project_id: int, account_ids: Sequence[int]) -> None:
    """Active days, health marks and last seen of accounts, from what their remaining contacts
    and events hold: the figures of a project that never had the erased contact."""
    if not account_ids:
        return
    for part in chunks(list(account_ids)):
        conn.execute(delete(account_days).where(account_days.c.account_id.in_(part)))
        conn.execute(
            insert(account_days).from_select(
                ["account_id", "day", "project_id"],
                select(memberships.c.account_id, contact_days.c.day, memberships.c.project_id)
                .distinct()
                .select_from(memberships.join(contact_days, contact_days.c.contact_id == memberships.c.contact_id))
                .where(memberships.c.account_id.in_(part)),
            )
        )
        latest = (
            select(func.max(events.c.occurred_at))
            .where(events.c.account_id == accounts.c.id)
            .correlate(accounts)
            .scalar_subquery()
        )
        # Their health history is computed again, as if the contact had never been.
        conn.execute(
            update(accounts).where(accounts.c.id.in_(part)).values(last_seen_at=latest, health_dirty_from=FAR_BACK)
        )
    health_marks.refresh_rows(conn, project_id, "account", account_ids)


def _delete_rejected(engine: Engine, project_id: int, uids: frozenset[str], batch: int) -> int:
    """Delete the project's refused items whose payload names one of `uids`, read page by page
    (a page is parsed outside any write transaction) and deleted per page."""
    removed, last_id = 0, 0
    while True:
        with engine.connect() as conn:
            page = conn.execute(
                select(rejected_items.c.id, rejected_items.c.raw)
                .where(rejected_items.c.project_id == project_id, rejected_items.c.id > last_id)
                .order_by(rejected_items.c.id)
                .limit(batch)
            ).all()
        if not page:
            return removed
        last_id = page[-1].id
        doomed = [row.id for row in page if names_any(row.raw, uids)]
        if doomed:
            with engine.begin() as conn:
                removed += conn.execute(delete(rejected_items).where(rejected_items.c.id.in_(doomed))).rowcount
