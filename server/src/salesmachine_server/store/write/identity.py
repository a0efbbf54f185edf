"""Which contact or account a uid names: resolution in bulk, creation, and alias merges.

Several server processes may write to one PostgreSQL at once (docs/design.md). Every existing
contact and account a transaction touches is locked `FOR UPDATE` in id order as it is resolved,
so an alias merging a contact away in another process either waits for us or has already
committed, in which case the uid is looked up again and names the contact it was merged into.
New uids are claimed with an insert ignoring conflicts: of two processes creating one contact
uid, one wins and the other drops its empty contact row and takes the winner's; of two creating
one account, one inserts it and both find it by the lookup after the insert (accounts are
never merged, so a row found stays the row of its uid).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select, update

from salesmachine_server.store.db.dialect import Dialect, chunks
from salesmachine_server.store.db.schema import (
    accounts,
    contact_days,
    contact_uids,
    contacts,
    events,
    memberships,
    mrr_changes,
    notes,
    tasks,
)
from salesmachine_server.store.write import health_history, health_marks
from salesmachine_server.store.write.health_marks import FAR_BACK
from salesmachine_server.store.write.memberships import add_member_days

# How often uids are looked up again when other processes merged or created them meanwhile.
RESOLVE_ATTEMPTS = 20


class Identity:
    def __init__(self, conn: Connection, received_at: datetime) -> None:
        self.conn = conn
        self.received_at = received_at
        self.contact_ids: dict[tuple[int, str], int] = {}
        self.account_ids: dict[tuple[int, str], int] = {}
        self.db = Dialect(conn)

    def forget(self, project_id: int) -> None:
        """Drop resolved uids: after a merge some name a contact that is gone."""
        self.contact_ids = {key: value for key, value in self.contact_ids.items() if key[0] != project_id}

    # -- bulk resolution ----------------------------------------------------------------------

    def resolve(self, project_id: int, first_seen: dict[str, datetime]) -> dict[str, int]:
        """The contact id of every uid (keys of `first_seen`), creating contacts for new uids
        (first seen at the given time) and locking existing ones for this transaction."""
        resolved = {
            uid: self.contact_ids[(project_id, uid)] for uid in first_seen if (project_id, uid) in self.contact_ids
        }
        pending = [uid for uid in first_seen if uid not in resolved]
        for _ in range(RESOLVE_ATTEMPTS):
            if not pending:
                break
            found = self._lookup(project_id, pending)
            new = [uid for uid in pending if uid not in found]
            created = self._create(project_id, {uid: first_seen[uid] for uid in new}) if new else {}
            locked = self._lock(set(found.values()))
            pending = [uid for uid in new if uid not in created] + [
                uid for uid, cid in found.items() if cid not in locked
            ]
            for uid, contact_id in [*created.items(), *((u, c) for u, c in found.items() if c in locked)]:
                resolved[uid] = contact_id
                self.contact_ids[(project_id, uid)] = contact_id
        if pending:
            raise RuntimeError(f"contact uids kept racing with other writers: {pending[:5]}")
        return resolved

    def resolve_accounts(self, project_id: int, first_seen: dict[str, datetime]) -> dict[str, int]:
        """The account id of every uid (keys of `first_seen`), creating accounts for new uids
        and locking every one for this transaction.

        Looked up first and only the missing ones inserted: most uids of a group name existing
        accounts, and inserting them all (to be ignored) cost more than the lookup."""
        resolved = {
            uid: self.account_ids[(project_id, uid)] for uid in first_seen if (project_id, uid) in self.account_ids
        }
        missing = [uid for uid in first_seen if uid not in resolved]
        if not missing:
            return resolved
        db = self.db
        found = dict(db.lookup(accounts, "account_uid", "id", project_id, missing))
        new = [uid for uid in missing if uid not in found]
        if new:
            now = db.time(self.received_at)
            db.insert_ignoring(
                accounts,
                ("project_id", "account_uid", "params", "first_seen_at", "updated_at"),
                [(project_id, uid, "{}", db.time(first_seen[uid]), now) for uid in new],
                conflict=("project_id", "account_uid"),
            )
            found.update(db.lookup(accounts, "account_uid", "id", project_id, new))
        db.lock(accounts, list(found.values()))
        for uid, account_id in found.items():
            self.account_ids[(project_id, uid)] = account_id
        return resolved | found

    def _lookup(self, project_id: int, uids: list[str]) -> dict[str, int]:
        return dict(self.db.lookup(contact_uids, "uid", "contact_id", project_id, uids))

    def _create(self, project_id: int, first_seen: dict[str, datetime]) -> dict[str, int]:
        """New contacts for new uids; the uids another process claimed first are left out."""
        db = self.db
        now = db.time(self.received_at)
        ids = dict(
            db.insert(
                contacts,
                ("project_id", "contact_uid", "params", "first_seen_at", "updated_at"),
                [(project_id, uid, "{}", db.time(at), now) for uid, at in first_seen.items()],
                returning="contact_uid, id",
            )
        )
        claimed = {
            uid
            for (uid,) in db.insert_ignoring(
                contact_uids,
                ("project_id", "uid", "contact_id"),
                [(project_id, uid, ids[uid]) for uid in first_seen],
                conflict=("project_id", "uid"),
                returning="uid",
            )
        }
        orphans = [ids[uid] for uid in first_seen if uid not in claimed]
        for part in chunks(orphans):
            self.conn.execute(delete(contacts).where(contacts.c.id.in_(part)))
        return {uid: ids[uid] for uid in first_seen if uid in claimed}

    def _lock(self, contact_ids: set[int]) -> set[int]:
        """Lock contacts in id order; the ids that still exist (others were merged away)."""
        return self.db.lock(contacts, list(contact_ids))

    # -- alias --------------------------------------------------------------------------------

    def alias(self, project_id: int, primary_uid: str, other_uid: str, at: datetime) -> None:
        """Make `other_uid` name the same contact as `primary_uid`, merging two contacts if need be."""
        if primary_uid == other_uid:
            return
        for _ in range(RESOLVE_ATTEMPTS):
            self.forget(project_id)
            primary = self._lookup(project_id, [primary_uid]).get(primary_uid)
            other = self._lookup(project_id, [other_uid]).get(other_uid)
            if primary is None and other is None:
                contact_id = self.resolve(project_id, {primary_uid: at})[primary_uid]
                if self._add_uid(project_id, other_uid, contact_id):
                    return
            elif primary is None or other is None:
                known_uid, new_uid = (other_uid, primary_uid) if primary is None else (primary_uid, other_uid)
                contact_id = self.resolve(project_id, {known_uid: at})[known_uid]
                if self._add_uid(project_id, new_uid, contact_id):
                    return
            elif primary == other:
                return
            elif self._lock({primary, other}) == {primary, other} and self._lookup(
                project_id, [primary_uid, other_uid]
            ) == {primary_uid: primary, other_uid: other}:
                self._merge(project_id, keep=primary, gone=other)
                return
        raise RuntimeError(f"alias {primary_uid!r} ~ {other_uid!r} kept racing with other writers")

    def _add_uid(self, project_id: int, uid: str, contact_id: int) -> bool:
        return bool(
            self.db.insert_ignoring(
                contact_uids,
                ("project_id", "uid", "contact_id"),
                [(project_id, uid, contact_id)],
                conflict=("project_id", "uid"),
                returning="uid",
            )
        )

    def _merge(self, project_id: int, keep: int, gone: int) -> None:
        """Fold contact `gone` into `keep`: fields (keep's win), uids, events, memberships,
        active days, revenue history, notes, tasks and the owner (keep's, else gone's). The
        contact known first gives its contact_uid."""
        rows = {
            row.id: row
            for row in self.conn.execute(
                select(
                    contacts.c.id,
                    contacts.c.contact_uid,
                    contacts.c.params,
                    contacts.c.first_seen_at,
                    contacts.c.last_seen_at,
                    contacts.c.owner_user_id,
                ).where(contacts.c.id.in_([keep, gone]))
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
                # The kept contact's owner stays; one without takes the other's.
                owner_user_id=kept.owner_user_id if kept.owner_user_id is not None else merged_away.owner_user_id,
            )
        )
        for table in (contact_uids, events, mrr_changes):
            self.conn.execute(update(table).where(table.c.contact_id == gone).values(contact_id=keep))
        # What people wrote and have to do about either is about the one contact now.
        for work in (notes, tasks):
            self.conn.execute(
                update(work)
                .where(work.c.project_id == project_id, work.c.subject == "contact", work.c.customer_id == gone)
                .values(customer_id=keep)
            )
        db = self.db
        moved = self.conn.execute(select(memberships).where(memberships.c.contact_id == gone)).all()
        db.insert_ignoring(
            memberships,
            ("account_id", "contact_id", "project_id", "created_at"),
            [(m.account_id, keep, project_id, db.time(m.created_at)) for m in moved],
            conflict=("account_id", "contact_id"),
        )
        self.conn.execute(delete(memberships).where(memberships.c.contact_id == gone))
        days = self.conn.execute(select(contact_days).where(contact_days.c.contact_id == gone)).all()
        db.upsert_adding(
            contact_days,
            ("contact_id", "day", "project_id", "events"),
            [(keep, db.day(d.day), project_id, d.events) for d in days],
            key=("contact_id", "day"),
            counter="events",
        )
        self.conn.execute(delete(contact_days).where(contact_days.c.contact_id == gone))
        self.conn.execute(delete(contacts).where(contacts.c.id == gone))
        # The accounts of either now have the days of both; the marks follow the days.
        account_ids = [
            a for (a,) in self.conn.execute(select(memberships.c.account_id).where(memberships.c.contact_id == keep))
        ]
        add_member_days(db, [(a, keep) for a in account_ids])
        health_marks.refresh_rows(self.conn, project_id, "contact", [keep])
        health_marks.refresh_rows(self.conn, project_id, "account", account_ids)
        # Their health history is computed again from the start; the contact merged away has none.
        for table, ids in ((contacts, [keep]), (accounts, account_ids)):
            for part in chunks(ids):
                self.conn.execute(update(table).where(table.c.id.in_(part)).values(health_dirty_from=FAR_BACK))
        health_history.delete_customers(self.conn, project_id, "contact", [gone])
        self.forget(project_id)
