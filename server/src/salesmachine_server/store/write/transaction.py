"""Apply canonical messages inside one database transaction (docs/wire.md, Semantics).

A `WriteTransaction` applies the messages of a group commit set-wise, so that its cost grows
with the number of statements, not of items: a run of messages (everything between two
aliases) is applied in a handful of statements whatever its length —
1. claim the message ids (the duplicates drop out);
2. resolve every contact uid and account uid at once, creating the new ones (identity.py);
3. load the current params and memberships of the rows the run touches, and for the rows it
   sets mrr on, the latest row of their revenue history (the whole history only of the few
   that get a value older than their latest: a backfill);
4. walk the messages in order in memory: params merged (mrr changes noted), memberships added,
   events attributed to accounts, activity counted;
5. write the results: changed params, new memberships, revenue history, events, active days
   (of contacts, then of accounts and the health marks of those with a new one:
   health_marks.py), first/last seen, each as one statement.
Order is kept exactly: step 4 sees each message after all those before it. An alias is applied
alone, after everything before it was written, because it may merge two contacts.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, select

from salesmachine_server.domain.messages import PAGEVIEW, Message
from salesmachine_server.store.db.bulk import chunks, distinct, insert_ignore_many, unnest
from salesmachine_server.store.db.driver import Driver
from salesmachine_server.store.write.event_insert import insert_events
from salesmachine_server.store.write.health_marks import MarkWriter
from salesmachine_server.store.write.identity import Identity
from salesmachine_server.store.db.schema import (
    accounts,
    contact_days,
    contacts,
    memberships,
    message_ids,
    mrr_changes,
    rejected_items,
)
from salesmachine_server.domain.timezones import local_day, zone
@dataclass(slots=True)
class Seen:
    """The earliest time a contact or account was seen, and its latest activity, in this run."""

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
        self.received_at = received_at
        self.identity = Identity(connection, received_at)
        self.lock_rows = dialect == "postgresql"
        self.timezones: dict[int, ZoneInfo] = {}
        self.account_ids: dict[tuple[int, str], int] = {}
        self.driver = Driver(connection)
        self.marks = MarkWriter(connection)

    def set_timezone(self, project_id: int, name: str | None) -> None:
        self.timezones[project_id] = zone(name)

    def apply_all(self, project_id: int, messages: list[Message], received_at: list[datetime]) -> list[bool]:
        """Apply messages in order; for each, False when its messageId was already applied."""
        applied = self._claim_message_ids(project_id, messages, received_at)
        run: list[tuple[Message, datetime]] = []
        for message, fresh, received in zip(messages, applied, received_at):
            if not fresh:
                continue
            if message.kind == "alias":
                self._apply_run(project_id, run)
                run = []
                assert message.contact_uid is not None and message.alias is not None
                assert message.occurred_at is not None
                self.identity.alias(project_id, message.contact_uid, message.alias, message.occurred_at)
            else:
                run.append((message, received))
        self._apply_run(project_id, run)
        return applied

    def reject(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(rejected_items.insert(), rows)

    # -- step 1 -------------------------------------------------------------------------------

    def _claim_message_ids(self, project_id: int, messages: list[Message], received_at: list[datetime]) -> list[bool]:
        first_of: dict[str, int] = {}
        keys = [m.message_id if m.import_key is None else m.import_key for m in messages]
        for index, key in enumerate(keys):
            if key is not None:
                first_of.setdefault(key, index)
        claimed = {
            message_id
            for (message_id,) in insert_ignore_many(
                self.conn, message_ids, ["project_id", "message_id"],
                [{"project_id": project_id, "message_id": mid, "received_at": received_at[i]}
                 for mid, i in first_of.items()],
                message_ids.c.message_id,
            )
        } if first_of else set()
        return [key is None or (key in claimed and first_of[key] == i) for i, key in enumerate(keys)]

    # -- steps 2 to 5 -------------------------------------------------------------------------

    def _apply_run(self, project_id: int, run: list[tuple[Message, datetime]]) -> None:
        if not run:
            return
        contact_first_seen: dict[str, datetime] = {}
        account_first_seen: dict[str, datetime] = {}
        linked_uids = [_linked_accounts(m) for m, _ in run]  # read twice below
        for (m, _), uids in zip(run, linked_uids):
            assert m.occurred_at is not None
            if m.contact_uid is not None:
                _earliest(contact_first_seen, m.contact_uid, m.occurred_at)
            for uid in uids:
                _earliest(account_first_seen, uid, m.occurred_at)
        contact_ids = self.identity.resolve(project_id, contact_first_seen)
        account_ids = self._resolve_accounts(project_id, account_first_seen)
        mrr_writes: list[tuple[Owner, datetime]] = []  # in run order
        for m, _ in run:
            if m.kind in ("contact", "account") and "mrr" in m.params:
                uid, ids = (m.account_uid, account_ids) if m.kind == "account" else (m.contact_uid, contact_ids)
                assert uid is not None and m.occurred_at is not None
                mrr_writes.append(((m.kind, ids[uid]), m.occurred_at))
        state = RunState.load(
            self.conn,
            contacts_with_params=[contact_ids[m.contact_uid] for m, _ in run if m.kind == "contact" and m.contact_uid],
            contacts_with_accounts=list(contact_ids.values()),
            accounts_with_params=[account_ids[m.account_uid] for m, _ in run if m.kind == "account" and m.account_uid],
            mrr_writes=mrr_writes,
        )
        tz = self.timezones.get(project_id) or zone(None)
        for (m, received), uids in zip(run, linked_uids):
            assert m.occurred_at is not None
            if m.kind == "account":
                assert m.account_uid is not None
                account_id = account_ids[m.account_uid]
                state.merge_params("account", account_id, m.params, m.occurred_at)
                state.seen("account", account_id, m.occurred_at, activity=False)
                continue
            assert m.contact_uid is not None
            contact_id = contact_ids[m.contact_uid]
            linked = [account_ids[uid] for uid in uids]
            for account_id in linked:
                state.join(account_id, contact_id)
            if m.kind == "contact":
                params = {k: v for k, v in m.params.items() if k != "account_uid"}
                if params:
                    state.merge_params("contact", contact_id, params, m.occurred_at)
                state.seen("contact", contact_id, m.occurred_at, activity=False)
                continue
            if m.account_given:  # an imported event: the account it had (ingest/importer.py)
                account_id = account_ids[m.account_uid] if m.account_uid is not None else None
            else:
                account_id = linked[0] if linked else state.sole_account(contact_id)
            state.events.append({
                "project_id": project_id, "contact_id": contact_id, "account_id": account_id,
                "name": m.event_name, "kind": "pageview" if m.event_name == PAGEVIEW else "event",
                "params": m.params, "occurred_at": m.occurred_at, "received_at": received,
                "message_id": m.message_id, "enrichment": m.enrichment,
            })
            state.count_day(contact_id, local_day(m.occurred_at, tz))
            state.seen("contact", contact_id, m.occurred_at, activity=True)
            if account_id is not None:
                state.seen("account", account_id, m.occurred_at, activity=True)
        state.write(self.conn, project_id, self.received_at, self.marks)

    def _resolve_accounts(self, project_id: int, first_seen: dict[str, datetime]) -> dict[str, int]:
        """Account ids for uids, creating accounts when first named, locked for us.

        Looked up first and only the missing ones inserted: most uids of a group name existing
        accounts, and inserting them all (to be ignored) cost more than the lookup."""
        resolved = {uid: self.account_ids[(project_id, uid)] for uid in first_seen
                    if (project_id, uid) in self.account_ids}
        missing = [uid for uid in first_seen if uid not in resolved]
        if not missing:
            return resolved
        found = dict(self.driver.lookup("accounts", "account_uid", "id", project_id, missing))
        new = [uid for uid in missing if uid not in found]
        if new:
            # Another process may create the same uid meanwhile: ON CONFLICT DO NOTHING keeps
            # one row, and the lookup after it finds that row whoever inserted it.
            d = self.driver
            d.insert("accounts", ("project_id", "account_uid", "params", "first_seen_at", "updated_at"),
                     [(project_id, uid, "{}", d.time(first_seen[uid]), d.time(self.received_at)) for uid in new],
                     conflict=("project_id", "account_uid"), json_columns=("params",))
            found.update(d.lookup("accounts", "account_uid", "id", project_id, new))
        if self.lock_rows:
            self.driver.select_in("SELECT id FROM accounts WHERE id IN ({in}) ORDER BY id FOR UPDATE", (),
                                  sorted(found.values()))
        for uid, account_id in found.items():
            self.account_ids[(project_id, uid)] = account_id
        return resolved | found

Owner = tuple[str, int]  # ("contact" | "account", row id)
MrrEntry = tuple[datetime, Any]  # (effective_at, mrr); mrr None when it was removed


class RunState:
    """What one run of messages reads, changes in memory, and writes back at its end."""

    def __init__(self) -> None:
        self.params: dict[Owner, dict[str, Any]] = {}
        self.dirty: set[Owner] = set()
        self.members: dict[int, set[int]] = defaultdict(set)  # contact id -> account ids
        self.new_members: list[tuple[int, int]] = []
        # Revenue history of the rows the run sets mrr on: the latest entry of each (stored or
        # written by this run; None when it has none), and the whole history, oldest first,
        # of those that get a value older than their latest (plan_mrr).
        self.mrr_latest: dict[Owner, MrrEntry | None] = {}
        self.mrr_history: dict[Owner, list[MrrEntry]] = {}
        self.mrr_rows: list[tuple[str, int, Any, datetime]] = []
        self.events: list[dict[str, Any]] = []
        self.days: dict[tuple[int, date], int] = defaultdict(int)
        self.seen_rows: dict[Owner, Seen] = {}

    @classmethod
    def load(
        cls,
        conn: Connection,
        contacts_with_params: list[int],
        contacts_with_accounts: list[int],
        accounts_with_params: list[int],
        mrr_writes: Sequence[tuple[Owner, datetime]] = (),
    ) -> "RunState":
        state = cls()
        mrr_owners = {owner for owner, _ in mrr_writes}
        for kind, row_ids in (("contact", contacts_with_params), ("account", accounts_with_params)):
            for part in chunks(distinct(row_ids)):
                with_mrr = not mrr_owners.isdisjoint((kind, row_id) for row_id in part)
                for row in conn.execute(_LOAD_PARAMS[kind, with_mrr], {"ids": list(part)}):
                    owner = (kind, row[0])
                    state.params[owner] = row[1]
                    if owner in mrr_owners:
                        state.mrr_latest[owner] = None if row[2] is None else (row[2], row[3])
        for part in chunks(distinct(contacts_with_accounts)):
            for contact_id, account_id in conn.execute(_LOAD_MEMBERSHIPS, {"ids": list(part)}):
                state.members[contact_id].add(account_id)
        if mrr_writes:
            state.plan_mrr(conn, mrr_writes)
        return state

    def plan_mrr(self, conn: Connection, mrr_writes: Sequence[tuple[Owner, datetime]]) -> None:
        """Load the whole revenue history of the rows that, in this run, get an mrr value older
        than their latest (stored, or sent earlier in the run): a backfill must be compared with
        the value in force at its own time and slotted in there. The common case, every value
        newer than what is stored, loads nothing more: the latest entry is enough."""
        newest: dict[Owner, datetime] = {o: e[0] for o, e in self.mrr_latest.items() if e is not None}
        backfilled: set[Owner] = set()
        for owner, at in mrr_writes:
            latest = newest.get(owner)
            if latest is not None and at < latest:
                backfilled.add(owner)
            else:
                newest[owner] = at
        if not backfilled:
            return
        for owner in backfilled:
            self.mrr_history[owner] = []
        for kind in ("contact", "account"):
            stored = sorted(row_id for k, row_id in backfilled if k == kind and self.mrr_latest.get((k, row_id)))
            for part in chunks(stored):
                for row_id, effective_at, mrr in conn.execute(_LOAD_MRR_HISTORY[kind], {"ids": list(part)}):
                    self.mrr_history[(kind, row_id)].append((effective_at, mrr))

    def merge_params(self, kind: str, row_id: int, sent: dict[str, Any], effective_at: datetime) -> None:
        """A key sent replaces its value, a key sent as null is removed, others are kept. A value
        of mrr is a row of revenue history when it differs from the value in force at its time,
        and becomes the current mrr only when it is the newest (docs/revenue.md)."""
        key = (kind, row_id)
        current = self.params.get(key, {})
        if "mrr" in sent and not self.set_mrr(key, sent["mrr"], effective_at):
            sent = {k: v for k, v in sent.items() if k != "mrr"}
        merged = merge_params(current, sent)
        if merged != current:
            self.params[key] = merged
            self.dirty.add(key)

    def set_mrr(self, owner: Owner, value: Any, at: datetime) -> bool:
        """Record mrr `value` effective at `at`; True when it is now the owner's latest value.

        The value in force at `at` is the latest entry at or before it, so at equal times the
        value recorded last wins (in a request, the later item). A value equal to the one in
        force records nothing. A value older than the latest entry goes in between and leaves
        the current value alone, even when the entry after it now repeats it."""
        history = self.mrr_history.get(owner)
        if history is None:  # every value sent for it in this run is at or after its latest
            latest = self.mrr_latest.get(owner)
            assert latest is None or at >= latest[0], "plan_mrr missed a backfill"
            if value != (None if latest is None else latest[1]):
                self.mrr_latest[owner] = (at, value)
                self.mrr_rows.append((owner[0], owner[1], value, at))
            return True
        index = bisect_right(history, at, key=itemgetter(0))
        newest = index == len(history)
        if value != (history[index - 1][1] if index else None):
            history.insert(index, (at, value))
            self.mrr_rows.append((owner[0], owner[1], value, at))
        return newest

    def join(self, account_id: int, contact_id: int) -> None:
        if account_id not in self.members[contact_id]:
            self.members[contact_id].add(account_id)
            self.new_members.append((account_id, contact_id))

    def sole_account(self, contact_id: int) -> int | None:
        """The contact's account when it belongs to exactly one (docs/wire.md: event attribution)."""
        accounts_of = self.members.get(contact_id)
        return next(iter(accounts_of)) if accounts_of and len(accounts_of) == 1 else None

    def count_day(self, contact_id: int, day: date) -> None:
        self.days[(contact_id, day)] += 1

    def seen(self, kind: str, row_id: int, at: datetime, activity: bool) -> None:
        entry = self.seen_rows.get((kind, row_id))
        if entry is None:
            self.seen_rows[(kind, row_id)] = entry = Seen(first=at)
        entry.note(at, activity)

    def write(self, conn: Connection, project_id: int, received_at: datetime, marks: MarkWriter) -> None:
        # Through the driver (driver.py): these statements carry a row per contact or account
        # the run touched, and SQLAlchemy's per-value bind processing cost more than SQLite;
        # on PostgreSQL each is one statement over arrays (Driver.many).
        d = Driver(conn)
        now = d.time(received_at)
        for kind in ("contact", "account"):
            d.many(_UPDATE_PARAMS["sqlite", kind], _UPDATE_PARAMS["postgresql", kind], [
                (row_id, d.json(self.params[(k, row_id)]), now) for (k, row_id) in self.dirty if k == kind])
        d.many(_ADD_MEMBERS["sqlite"], _ADD_MEMBERS["postgresql"],
               [(a, c, project_id, now) for a, c in self.new_members])
        if self.mrr_rows:
            conn.execute(mrr_changes.insert(), [
                {"project_id": project_id, "contact_id": row_id if kind == "contact" else None,
                 "account_id": row_id if kind == "account" else None, "mrr": mrr, "effective_at": at,
                 "received_at": received_at}
                for kind, row_id, mrr, at in self.mrr_rows])
        insert_events(conn, self.events)
        days = [(c, d.day(day), n) for (c, day), n in self.days.items()]
        d.many(_COUNT_DAYS["sqlite"], _COUNT_DAYS["postgresql"], [(c, day, project_id, n) for c, day, n in days])
        marks.write(project_id, days, self.members, self.new_members)
        for kind in ("contact", "account"):
            active, idle = [], []
            for (k, row_id), s in self.seen_rows.items():
                if k == kind:
                    if s.last_activity is None:
                        idle.append((row_id, d.time(s.first)))
                    else:
                        active.append((row_id, d.time(s.first), d.time(s.last_activity)))
            d.many(_SEEN["sqlite", kind, True], _SEEN["postgresql", kind, True], active)
            d.many(_SEEN["sqlite", kind, False], _SEEN["postgresql", kind, False], idle)


# The statements of RunState.load, built once: building a SELECT costs more Python than running
# it on a small group, and a statement object built once keeps its cache key.
_IDS = bindparam("ids", expanding=True)


def _owner_column(kind: str) -> Any:
    return mrr_changes.c.contact_id if kind == "contact" else mrr_changes.c.account_id


def _latest_mrr(kind: str, table: Any) -> list[Any]:
    """The time and value of a row's latest mrr history entry (NULL when it has none), as two
    columns of the query that loads its params: an index probe each, no extra statement."""

    def latest(field: Any) -> Any:
        return (
            select(field)
            .where(_owner_column(kind) == table.c.id)
            .order_by(mrr_changes.c.effective_at.desc(), mrr_changes.c.id.desc())
            .limit(1)
            .correlate(table)
            .scalar_subquery()
        )

    return [latest(mrr_changes.c.effective_at), latest(mrr_changes.c.mrr)]


_LOAD_PARAMS = {
    (kind, with_mrr): select(table.c.id, table.c.params, *(_latest_mrr(kind, table) if with_mrr else []))
    .where(table.c.id.in_(_IDS))
    for kind, table in (("contact", contacts), ("account", accounts))
    for with_mrr in (False, True)
}
_LOAD_MEMBERSHIPS = select(memberships.c.contact_id, memberships.c.account_id).where(
    memberships.c.contact_id.in_(_IDS))
# The statements of RunState.write, for SQLite (executemany of a row's values: ?1 is the
# first of its tuple) and PostgreSQL (the same tuples as one array per column: Driver.many).
def _per_engine(sqlite_sql: str, postgres_sql: str) -> dict[str, str]:
    return {"sqlite": sqlite_sql, "postgresql": postgres_sql}


_UPDATE_PARAMS = {
    (engine, kind): sql
    for kind, table in (("contact", contacts), ("account", accounts))
    for engine, sql in _per_engine(
        f"UPDATE {table.name} SET params = ?2, updated_at = ?3 WHERE id = ?1",
        f"UPDATE {table.name} AS t SET params = v.params, updated_at = v.updated_at "
        f"FROM {unnest(table, ('id', 'params', 'updated_at'))} WHERE t.id = v.id",
    ).items()
}
_MEMBER_COLUMNS = ("account_id", "contact_id", "project_id", "created_at")
_ADD_MEMBERS = _per_engine(
    f"INSERT INTO memberships ({', '.join(_MEMBER_COLUMNS)}) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (account_id, contact_id) DO NOTHING",
    f"INSERT INTO memberships ({', '.join(_MEMBER_COLUMNS)}) SELECT * FROM {unnest(memberships, _MEMBER_COLUMNS)} "
    "ON CONFLICT (account_id, contact_id) DO NOTHING",
)
_DAY_COLUMNS = ("contact_id", "day", "project_id", "events")
_COUNT_DAYS = _per_engine(
    f"INSERT INTO contact_days ({', '.join(_DAY_COLUMNS)}) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (contact_id, day) DO UPDATE SET events = contact_days.events + excluded.events",
    f"INSERT INTO contact_days ({', '.join(_DAY_COLUMNS)}) SELECT * FROM {unnest(contact_days, _DAY_COLUMNS)} "
    "ON CONFLICT (contact_id, day) DO UPDATE SET events = contact_days.events + excluded.events",
)
# first_seen_at lowered and last_seen_at raised to what the run saw; a row without activity
# in the run (False) leaves last_seen_at alone.
_FIRST = "first_seen_at = CASE WHEN t.first_seen_at > {f} THEN {f} ELSE t.first_seen_at END"
_LAST = ("last_seen_at = CASE WHEN t.last_seen_at IS NULL OR t.last_seen_at < {l} THEN {l} "
         "ELSE t.last_seen_at END")
_SEEN = {
    (engine, kind, active): sql
    for kind, table in (("contact", contacts), ("account", accounts))
    for active in (True, False)
    for engine, sql in _per_engine(
        f"UPDATE {table.name} AS t SET {_FIRST.format(f='?2')}" + (f", {_LAST.format(l='?3')}" if active else "")
        + " WHERE id = ?1",
        f"UPDATE {table.name} AS t SET {_FIRST.format(f='v.first_seen_at')}"
        + (f", {_LAST.format(l='v.last_seen_at')}" if active else "")
        + f" FROM {unnest(table, ('id', 'first_seen_at', 'last_seen_at') if active else ('id', 'first_seen_at'))}"
        " WHERE t.id = v.id",
    ).items()
}
_LOAD_MRR_HISTORY = {
    kind: select(_owner_column(kind), mrr_changes.c.effective_at, mrr_changes.c.mrr)
    .where(_owner_column(kind).in_(_IDS))
    .order_by(_owner_column(kind), mrr_changes.c.effective_at, mrr_changes.c.id)
    for kind in ("contact", "account")
}


def merge_params(current: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, value in sent.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _linked_accounts(message: Message) -> list[str]:
    """Account uids a message names: the account itself, or `params.account_uid`."""
    if message.kind == "account":
        assert message.account_uid is not None
        return [message.account_uid]
    value = message.params.get("account_uid")
    linked = [] if value is None else [str(uid) for uid in (value if isinstance(value, list) else [value])]
    if message.account_given and message.account_uid is not None and message.account_uid not in linked:
        linked.append(message.account_uid)  # an imported event's account (its contact was a member)
    return linked


def _earliest(seen: dict[str, datetime], uid: str, at: datetime) -> None:
    if uid not in seen or at < seen[uid]:
        seen[uid] = at
