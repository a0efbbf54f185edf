"""Apply canonical messages inside one database transaction (WIRE.md, Semantics).

One `WriteTransaction` applies every message of a group commit, in order. It keeps what it
has already resolved (uid -> row id) so that a batch touching one contact a hundred times
reads it once, and it defers the append-only inserts (events) and the last-seen bookkeeping
to `finish()`, where they go out as one statement each.

Concurrency (several server processes on one PostgreSQL): every contact and account row
this transaction changes or hangs an event on is locked `FOR UPDATE` when first resolved, so
an alias merging it away in another process either waits for us or has already finished, in
which case the uid is resolved again to the contact it was merged into. Uids and accounts are
created with INSERT ... ON CONFLICT DO NOTHING, so two processes creating the same one agree.
Deadlocks between two groups are detected by PostgreSQL and the group is retried whole by
the caller (nothing of it was committed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, case, delete, select, update

from salesmachine_server.ingest.messages import PAGEVIEW, Message
from salesmachine_server.store.schema import (
    accounts,
    contact_days,
    contact_uids,
    contacts,
    events,
    memberships,
    message_ids,
    mrr_changes,
    rejected_items,
)
from salesmachine_server.store.upsert import insert_ignore, upsert_add
from salesmachine_server.timezones import local_day, zone

# How often a uid is looked up again when another process merged or created it meanwhile.
_RESOLVE_ATTEMPTS = 20


@dataclass(slots=True)
class Seen:
    """The earliest and latest time a contact or account was seen in this transaction."""

    first: datetime
    last_activity: datetime | None = None

    def note(self, at: datetime, activity: bool) -> None:
        if at < self.first:
            self.first = at
        if activity and (self.last_activity is None or at > self.last_activity):
            self.last_activity = at


class WriteTransaction:
    def __init__(self, connection: Connection, dialect: str, received_at: datetime) -> None:
        self.conn = connection
        self.dialect = dialect
        self.lock_rows = dialect == "postgresql"  # SQLite has one writer: nothing to lock
        self.received_at = received_at
        self.contact_ids: dict[tuple[int, str], int] = {}
        self.account_ids: dict[tuple[int, str], int] = {}
        self.sole_account: dict[int, int | None] = {}
        self.pending_events: list[dict[str, Any]] = []
        self.contacts_seen: dict[int, Seen] = {}
        self.accounts_seen: dict[int, Seen] = {}
        # Events per (project, contact, local day), added to contact_days at flush.
        self.day_counts: dict[tuple[int, int, date], int] = {}
        self.timezones: dict[int, ZoneInfo] = {}

    def set_timezone(self, project_id: int, name: str | None) -> None:
        self.timezones[project_id] = zone(name)

    # -- messages ---------------------------------------------------------------------------

    def lock_in_order(self, project_id: int, messages: list[Message]) -> None:
        """Lock the existing contacts and accounts these messages touch, in id order, before
        applying any: two processes then take shared rows in the same order and do not
        deadlock. Rows created or merged meanwhile are still handled by `_contact`."""
        if not self.lock_rows or not messages:
            return
        uids = {uid for m in messages for uid in (m.contact_uid, m.alias) if uid is not None}
        account_uids = {m.account_uid for m in messages if m.account_uid is not None}
        for m in messages:
            account_uids.update(str(uid) for uid in _as_list(m.params.get("account_uid")))
        if uids:
            contact_ids = select(contact_uids.c.contact_id).where(
                contact_uids.c.project_id == project_id, contact_uids.c.uid.in_(uids)
            )
            self.conn.execute(
                select(contacts.c.id).where(contacts.c.id.in_(contact_ids)).order_by(contacts.c.id).with_for_update()
            ).all()
        if account_uids:
            self.conn.execute(
                select(accounts.c.id)
                .where(accounts.c.project_id == project_id, accounts.c.account_uid.in_(account_uids))
                .order_by(accounts.c.id)
                .with_for_update()
            ).all()

    def apply(self, project_id: int, message: Message) -> bool:
        """Apply one message; False when its messageId was already applied (a duplicate)."""
        if message.message_id is not None and not self._claim_message_id(project_id, message.message_id):
            return False
        if message.kind == "contact":
            self._apply_contact(project_id, message)
        elif message.kind == "account":
            self._apply_account(project_id, message)
        elif message.kind == "event":
            self._apply_event(project_id, message)
        else:
            self._apply_alias(project_id, message)
        return True

    def reject(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(rejected_items.insert(), rows)

    def finish(self) -> None:
        """Write what was deferred. Must run before the commit."""
        self._flush_events()
        self._flush_seen()

    def _apply_contact(self, project_id: int, message: Message) -> None:
        assert message.contact_uid is not None and message.occurred_at is not None
        contact_id = self._contact(project_id, message.contact_uid, message.occurred_at)
        params = dict(message.params)
        linked = params.pop("account_uid", None)
        if params:
            self._merge_params(contacts, project_id, contact_id, params, message.occurred_at)
        for account_uid in _as_list(linked):
            self._join(project_id, self._account(project_id, str(account_uid), message.occurred_at), contact_id)
        self._seen(self.contacts_seen, contact_id, message.occurred_at, activity=False)

    def _apply_account(self, project_id: int, message: Message) -> None:
        assert message.account_uid is not None and message.occurred_at is not None
        account_id = self._account(project_id, message.account_uid, message.occurred_at)
        if message.params:
            self._merge_params(accounts, project_id, account_id, message.params, message.occurred_at)
        self._seen(self.accounts_seen, account_id, message.occurred_at, activity=False)

    def _apply_event(self, project_id: int, message: Message) -> None:
        assert message.contact_uid is not None and message.occurred_at is not None
        contact_id = self._contact(project_id, message.contact_uid, message.occurred_at)
        named_accounts = _as_list(message.params.get("account_uid"))
        account_id: int | None
        if named_accounts:
            # The event says which account it belongs to; the contact is then one of its members.
            account_ids = [self._account(project_id, str(uid), message.occurred_at) for uid in named_accounts]
            for one in account_ids:
                self._join(project_id, one, contact_id)
            account_id = account_ids[0]
        else:
            account_id = self._sole_account(contact_id)
        self.pending_events.append(
            {
                "project_id": project_id,
                "contact_id": contact_id,
                "account_id": account_id,
                "name": message.event_name,
                "kind": "pageview" if message.event_name == PAGEVIEW else "event",
                "params": message.params,
                "occurred_at": message.occurred_at,
                "received_at": self.received_at,
                "message_id": message.message_id,
            }
        )
        self._seen(self.contacts_seen, contact_id, message.occurred_at, activity=True)
        day = (project_id, contact_id, local_day(message.occurred_at, self.timezones.get(project_id) or zone(None)))
        self.day_counts[day] = self.day_counts.get(day, 0) + 1
        if account_id is not None:
            self._seen(self.accounts_seen, account_id, message.occurred_at, activity=True)

    def _apply_alias(self, project_id: int, message: Message) -> None:
        """Make `alias` name the same contact as `contact_uid`, merging two contacts if need be."""
        assert message.contact_uid is not None and message.alias is not None
        assert message.occurred_at is not None
        primary_uid, other_uid = message.contact_uid, message.alias
        if primary_uid == other_uid:
            return
        # Deferred rows name contacts by id; a merge below may delete one of those ids.
        self.finish()
        for _ in range(_RESOLVE_ATTEMPTS):
            primary = self._lookup_uid(project_id, primary_uid)
            other = self._lookup_uid(project_id, other_uid)
            if primary is None and other is None:
                contact_id = self._contact(project_id, primary_uid, message.occurred_at)
                if self._add_uid(project_id, other_uid, contact_id):
                    return
            elif primary is None or other is None:
                known_uid, new_uid = (other_uid, primary_uid) if primary is None else (primary_uid, other_uid)
                contact_id = self._contact(project_id, known_uid, message.occurred_at)
                if self._add_uid(project_id, new_uid, contact_id):
                    return
            elif primary == other:
                return
            elif self._lock_pair(project_id, primary_uid, primary, other_uid, other):
                self._merge_contacts(project_id, keep=primary, gone=other)
                return
            self._forget_uids(project_id)
        raise RuntimeError(f"alias {primary_uid!r} ~ {other_uid!r} kept racing with other writers")

    # -- contacts and accounts ---------------------------------------------------------------

    def _lookup_uid(self, project_id: int, uid: str) -> int | None:
        return self.conn.execute(
            select(contact_uids.c.contact_id).where(
                contact_uids.c.project_id == project_id, contact_uids.c.uid == uid
            )
        ).scalar()

    def _contact(self, project_id: int, uid: str, seen_at: datetime) -> int:
        """The id of the contact a uid names, created when the uid is new; locked for us."""
        key = (project_id, uid)
        cached = self.contact_ids.get(key)
        if cached is not None:
            return cached
        for _ in range(_RESOLVE_ATTEMPTS):
            contact_id = self._lookup_uid(project_id, uid)
            if contact_id is None:
                contact_id = self._create_contact(project_id, uid, seen_at)
            elif not self._lock(contacts, contact_id):
                contact_id = None  # merged into another contact meanwhile: look again
            if contact_id is not None:
                self.contact_ids[key] = contact_id
                return contact_id
        raise RuntimeError(f"contact uid {uid!r} kept racing with other writers")

    def _create_contact(self, project_id: int, uid: str, seen_at: datetime) -> int | None:
        contact_id = self.conn.execute(
            contacts.insert()
            .values(
                project_id=project_id,
                contact_uid=uid,
                params={},
                first_seen_at=seen_at,
                updated_at=self.received_at,
            )
            .returning(contacts.c.id)
        ).scalar_one()
        if self._add_uid(project_id, uid, contact_id):
            return contact_id
        # Another process created this uid first; ours is an empty row nobody names.
        self.conn.execute(delete(contacts).where(contacts.c.id == contact_id))
        return None

    def _add_uid(self, project_id: int, uid: str, contact_id: int) -> bool:
        inserted = insert_ignore(
            self.conn, contact_uids, ["project_id", "uid"], project_id=project_id, uid=uid, contact_id=contact_id
        )
        if inserted:
            self.contact_ids[(project_id, uid)] = contact_id
        return bool(inserted)

    def _account(self, project_id: int, uid: str, seen_at: datetime) -> int:
        key = (project_id, uid)
        cached = self.account_ids.get(key)
        if cached is not None:
            return cached
        insert_ignore(
            self.conn,
            accounts,
            ["project_id", "account_uid"],
            project_id=project_id,
            account_uid=uid,
            params={},
            first_seen_at=seen_at,
            updated_at=self.received_at,
        )
        query = select(accounts.c.id).where(accounts.c.project_id == project_id, accounts.c.account_uid == uid)
        if self.lock_rows:
            query = query.with_for_update()
        account_id = self.conn.execute(query).scalar_one()
        self.account_ids[key] = account_id
        return account_id

    def _lock(self, table: Any, row_id: int) -> bool:
        """Lock a row for the rest of the transaction; False when it no longer exists."""
        query = select(table.c.id).where(table.c.id == row_id)
        if self.lock_rows:
            query = query.with_for_update()
        return self.conn.execute(query).first() is not None

    def _join(self, project_id: int, account_id: int, contact_id: int) -> None:
        inserted = insert_ignore(
            self.conn,
            memberships,
            ["account_id", "contact_id"],
            project_id=project_id,
            account_id=account_id,
            contact_id=contact_id,
            created_at=self.received_at,
        )
        if inserted:
            self.sole_account.pop(contact_id, None)

    def _sole_account(self, contact_id: int) -> int | None:
        """The contact's account when it belongs to exactly one (WIRE.md: event attribution)."""
        if contact_id not in self.sole_account:
            rows = self.conn.execute(
                select(memberships.c.account_id).where(memberships.c.contact_id == contact_id).limit(2)
            ).all()
            self.sole_account[contact_id] = rows[0][0] if len(rows) == 1 else None
        return self.sole_account[contact_id]

    def _merge_params(
        self, table: Any, project_id: int, row_id: int, sent: dict[str, Any], effective_at: datetime
    ) -> None:
        """A key sent replaces its value, a key sent as null is removed, others are kept."""
        current = self.conn.execute(select(table.c.params).where(table.c.id == row_id)).scalar_one()
        merged = merge_params(current, sent)
        if merged != current:
            self.conn.execute(update(table).where(table.c.id == row_id).values(params=merged, updated_at=self.received_at))
        if "mrr" in sent and sent["mrr"] != current.get("mrr"):
            owner = "contact_id" if table is contacts else "account_id"
            self.conn.execute(
                mrr_changes.insert().values(
                    project_id=project_id,
                    mrr=sent["mrr"],
                    effective_at=effective_at,
                    received_at=self.received_at,
                    **{owner: row_id},
                )
            )

    def _lock_pair(self, project_id: int, uid_a: str, id_a: int, uid_b: str, id_b: int) -> bool:
        """Lock both contacts (in id order, so two merges cannot deadlock each other) and check
        that both uids still name them."""
        if self.lock_rows:
            locked = self.conn.execute(
                select(contacts.c.id).where(contacts.c.id.in_([id_a, id_b])).order_by(contacts.c.id).with_for_update()
            ).all()
            if len(locked) != 2:
                return False
        return self._lookup_uid(project_id, uid_a) == id_a and self._lookup_uid(project_id, uid_b) == id_b

    def _merge_contacts(self, project_id: int, keep: int, gone: int) -> None:
        """Fold contact `gone` into `keep`: fields (keep's win), uids, events, memberships,
        revenue history. The contact known first gives the merged contact its contact_uid."""
        rows = {
            row.id: row
            for row in self.conn.execute(
                select(contacts.c.id, contacts.c.contact_uid, contacts.c.params, contacts.c.first_seen_at,
                       contacts.c.last_seen_at).where(contacts.c.id.in_([keep, gone]))
            )
        }
        kept, merged_away = rows[keep], rows[gone]
        earliest = min(kept, merged_away, key=lambda row: (row.first_seen_at, row.id))
        last_seen = [t for t in (kept.last_seen_at, merged_away.last_seen_at) if t is not None]
        self.conn.execute(
            update(contacts)
            .where(contacts.c.id == keep)
            .values(
                params={**merged_away.params, **kept.params},
                contact_uid=earliest.contact_uid,
                first_seen_at=earliest.first_seen_at,
                last_seen_at=max(last_seen) if last_seen else None,
                updated_at=self.received_at,
            )
        )
        for table in (contact_uids, events, mrr_changes):
            self.conn.execute(update(table).where(table.c.contact_id == gone).values(contact_id=keep))
        gone_days = self.conn.execute(
            select(contact_days.c.day, contact_days.c.events).where(contact_days.c.contact_id == gone)
        ).all()
        upsert_add(
            self.conn,
            contact_days,
            ["contact_id", "day"],
            "events",
            [{"contact_id": keep, "day": day, "project_id": project_id, "events": n} for day, n in gone_days],
        )
        self.conn.execute(delete(contact_days).where(contact_days.c.contact_id == gone))
        for (account_id,) in self.conn.execute(
            select(memberships.c.account_id).where(memberships.c.contact_id == gone)
        ).all():
            self._join(project_id, account_id, keep)
        self.conn.execute(delete(memberships).where(memberships.c.contact_id == gone))
        self.conn.execute(delete(contacts).where(contacts.c.id == gone))
        self.sole_account.pop(keep, None)
        self._forget_uids(project_id)

    def _forget_uids(self, project_id: int) -> None:
        """Drop cached uid -> contact ids: after a merge some name a contact that is gone."""
        self.contact_ids = {key: value for key, value in self.contact_ids.items() if key[0] != project_id}

    # -- message ids, deferred writes -------------------------------------------------------

    def _claim_message_id(self, project_id: int, message_id: str) -> bool:
        return insert_ignore(
            self.conn,
            message_ids,
            ["project_id", "message_id"],
            project_id=project_id,
            message_id=message_id,
            received_at=self.received_at,
        )

    def _seen(self, seen: dict[int, Seen], row_id: int, at: datetime, activity: bool) -> None:
        entry = seen.get(row_id)
        if entry is None:
            seen[row_id] = entry = Seen(first=at)
        entry.note(at, activity)

    def _flush_events(self) -> None:
        if self.pending_events:
            self.conn.execute(events.insert(), self.pending_events)
            self.pending_events = []
        if self.day_counts:
            rows = [
                {"project_id": project_id, "contact_id": contact_id, "day": day, "events": count}
                for (project_id, contact_id, day), count in self.day_counts.items()
            ]
            upsert_add(self.conn, contact_days, ["contact_id", "day"], "events", rows)
            self.day_counts = {}

    def _flush_seen(self) -> None:
        for table, seen in ((contacts, self.contacts_seen), (accounts, self.accounts_seen)):
            for row_id, entry in seen.items():
                values: dict[str, Any] = {
                    "first_seen_at": case(
                        (table.c.first_seen_at > entry.first, entry.first), else_=table.c.first_seen_at
                    )
                }
                if entry.last_activity is not None:
                    values["last_seen_at"] = case(
                        (table.c.last_seen_at.is_(None), entry.last_activity),
                        (table.c.last_seen_at < entry.last_activity, entry.last_activity),
                        else_=table.c.last_seen_at,
                    )
                self.conn.execute(update(table).where(table.c.id == row_id).values(**values))
            seen.clear()


def merge_params(current: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, value in sent.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
