"""One run of messages (everything between two aliases) applied set-wise, in a handful of
statements whatever its length:
1. resolve every contact uid and account uid at once, creating the new ones (identity.py);
2. load the current params and memberships of the rows the run touches, and for the rows it
   sets mrr on, the latest entry of their revenue history (revenue.py: the whole history only
   of the few that get a value older than their latest, a backfill);
3. walk the messages in order in memory: params merged (mrr changes noted), memberships added,
   events attributed to accounts and written as they are found (event_insert.py: on
   PostgreSQL a COPY open for the walk), activity counted;
4. save the results: changed params, new memberships (memberships.py), revenue history, active
   days, the health marks of those with a new one, first/last seen (activity.py), each as one
   statement.
Order is kept exactly: step 3 sees each message after all those before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Connection, Text, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from salesmachine_server.domain.messages import Message
from salesmachine_server.domain.timezones import UTC, local_day
from salesmachine_server.store.db.dialect import Dialect, array_literal, chunks, unnest
from salesmachine_server.store.db.schema import accounts, contacts, mrr_changes
from salesmachine_server.store.write.activity import Activity
from salesmachine_server.store.write.event_insert import EventRow, EventWriter
from salesmachine_server.store.write.health_marks import MarkWriter
from salesmachine_server.store.write.identity import Identity
from salesmachine_server.store.write.memberships import Members
from salesmachine_server.store.write.revenue import Owner, Revenue, owner_column

K = TypeVar("K")
_NONE: tuple[Any, ...] = ()  # no linked accounts: shared, never appended to


def apply_run(
    conn: Connection,
    identity: Identity,
    marks: MarkWriter,
    project_id: int,
    run: list[tuple[Message, datetime]],
    tz: ZoneInfo,
    received_at: datetime,
) -> Run | None:
    """Apply `run`, (message, received at) in order, none of them an alias; what it changed
    (None for an empty run), for what follows in the same transaction (trigger_inbox.py)."""
    if not run:
        return None
    contact_first_seen: dict[str, datetime] = {}
    account_first_seen: dict[str, datetime] = {}
    linked_uids = [_linked_accounts(m) for m, _ in run]  # read twice below
    for (m, _), uids in zip(run, linked_uids):
        at = m.occurred_at
        assert at is not None
        if m.contact_uid is not None:
            _earliest(contact_first_seen, m.contact_uid, at)
        for uid in uids:
            _earliest(account_first_seen, uid, at)
    contact_ids = identity.resolve(project_id, contact_first_seen)
    account_ids = identity.resolve_accounts(project_id, account_first_seen)
    mrr_writes: list[tuple[Owner, datetime]] = []  # in run order
    for m, _ in run:
        if m.kind in ("contact", "account") and "mrr" in m.params:
            owner_uid = m.account_uid if m.kind == "account" else m.contact_uid
            ids = account_ids if m.kind == "account" else contact_ids
            assert owner_uid is not None and m.occurred_at is not None
            mrr_writes.append(((m.kind, ids[owner_uid]), m.occurred_at))
    state = Run.load(
        conn,
        contacts_with_params=[contact_ids[m.contact_uid] for m, _ in run if m.kind == "contact" and m.contact_uid],
        contacts_with_accounts=list(contact_ids.values()),
        accounts_with_params=[account_ids[m.account_uid] for m, _ in run if m.kind == "account" and m.account_uid],
        mrr_writes=mrr_writes,
    )
    # Events are most of a run: the loop below updates the run's state for them inline (local
    # names, no call or object per event); contact and account updates go through methods.
    activity = state.activity
    days = activity.days
    contact_last = activity.last["contact"]
    account_first, account_last = activity.first["account"], activity.last["account"]
    members = state.members
    utc = tz is UTC
    with EventWriter(conn, project_id, state.events) as writer:
        add_event = writer.add
        for (m, received), uids in zip(run, linked_uids):
            at = m.occurred_at
            assert at is not None
            if m.kind == "account":
                assert m.account_uid is not None
                account_id = account_ids[m.account_uid]
                state.merge_params("account", account_id, m.params, at)
                activity.seen("account", account_id, at, activity=False)
                continue
            assert m.contact_uid is not None
            contact_id = contact_ids[m.contact_uid]
            linked = [account_ids[uid] for uid in uids] if uids else _NONE
            for account_id in linked:
                members.join(account_id, contact_id)
            if m.kind == "contact":
                params = {k: v for k, v in m.params.items() if k != "account_uid"}
                if params:
                    state.merge_params("contact", contact_id, params, at)
                activity.seen("contact", contact_id, at, activity=False)
                continue
            event_account: int | None
            if m.account_given:  # an imported event: the account it had (ingest/importer.py)
                event_account = account_ids[m.account_uid] if m.account_uid is not None else None
            else:
                event_account = linked[0] if linked else members.sole_account(contact_id)
            add_event((contact_id, event_account, m, received))
            days[(contact_id, at.date() if utc else local_day(at, tz))] += 1
            latest = contact_last.get(contact_id)
            if latest is None or at > latest:
                contact_last[contact_id] = at
            if event_account is not None:  # activity.seen("account", event_account, at, activity=True)
                earliest = account_first.get(event_account)
                if earliest is None or at < earliest:
                    account_first[event_account] = at
                latest = account_last.get(event_account)
                if latest is None or at > latest:
                    account_last[event_account] = at
    # Every message of a run but accounts' names a contact: its earliest is the run's earliest
    # time of any of its uids (aliases may have made two uids one contact).
    contact_first = activity.first["contact"]
    for uid, at in contact_first_seen.items():
        _earliest(contact_first, contact_ids[uid], at)
    state.save(conn, project_id, received_at, marks)
    return state


class Run:
    """What one run of messages reads, changes in memory, and saves at its end."""

    def __init__(self, members: Members) -> None:
        self.params: dict[Owner, dict[str, Any]] = {}
        self.dirty: set[Owner] = set()
        self.members = members
        self.revenue = Revenue()
        self.events: list[EventRow] = []
        self.activity = Activity()

    @classmethod
    def load(
        cls,
        conn: Connection,
        contacts_with_params: list[int],
        contacts_with_accounts: list[int],
        accounts_with_params: list[int],
        mrr_writes: list[tuple[Owner, datetime]],
    ) -> Run:
        state = cls(Members.load(conn, contacts_with_accounts))
        mrr_owners = {owner for owner, _ in mrr_writes}
        postgres = conn.dialect.name == "postgresql"
        for kind, row_ids in (("contact", contacts_with_params), ("account", accounts_with_params)):
            distinct = list(dict.fromkeys(row_ids))
            # PostgreSQL takes them all in one statement (`_load_params`), SQLite in chunks.
            parts = chunks(distinct, len(distinct) or 1) if postgres else chunks(distinct)
            for part in parts:
                with_mrr = not mrr_owners.isdisjoint((kind, row_id) for row_id in part)
                ids = array_literal(part) if postgres else list(part)
                for row in conn.execute(_LOAD_PARAMS[postgres, kind, with_mrr], {"ids": ids}):
                    owner = (kind, row[0])
                    state.params[owner] = row[1]
                    if owner in mrr_owners:
                        state.revenue.latest[owner] = None if row[2] is None else (row[2], row[3])
        if mrr_writes:
            state.revenue.plan(conn, mrr_writes)
        return state

    def merge_params(self, kind: str, row_id: int, sent: dict[str, Any], effective_at: datetime) -> None:
        """A key sent replaces its value, a key sent as null is removed, others are kept. A value
        of mrr is a row of revenue history when it differs from the value in force at its time,
        and becomes the current mrr only when it is the newest (docs/revenue.md)."""
        key = (kind, row_id)
        current = self.params.get(key, {})
        if "mrr" in sent and not self.revenue.set(key, sent["mrr"], effective_at):
            sent = {k: v for k, v in sent.items() if k != "mrr"}
        merged = merge_params(current, sent)
        if merged != current:
            self.params[key] = merged
            self.dirty.add(key)

    def save(self, conn: Connection, project_id: int, received_at: datetime, marks: MarkWriter) -> None:
        # Through the dialect's driver cursor (store/db/dialect.py): these statements carry a row
        # per contact or account the run touched, and SQLAlchemy's per-value bind processing cost
        # more than SQLite; on PostgreSQL each is one statement over arrays.
        db = Dialect(conn)
        now = db.time(received_at)
        for kind in ("contact", "account"):
            db.many(
                _UPDATE_PARAMS["sqlite", kind],
                _UPDATE_PARAMS["postgresql", kind],
                [(row_id, db.json(self.params[(k, row_id)]), now) for (k, row_id) in self.dirty if k == kind],
            )
        self.members.save(db, project_id, received_at)
        self.revenue.save(conn, project_id, received_at)
        self.activity.save_days(db, project_id, self.members, marks)
        self.activity.save_seen(db)


# The statements of Run.load, built once: building a SELECT costs more Python than running
# it on a small group, and a statement object built once keeps its cache key.
def _latest_mrr(kind: str, table: Any) -> list[Any]:
    """The time and value of a row's latest mrr history entry (NULL when it has none), as two
    columns of the query that loads its params: an index probe each, no extra statement."""

    def latest(field: Any) -> Any:
        return (
            select(field)
            .where(owner_column(kind) == table.c.id)
            .order_by(mrr_changes.c.effective_at.desc(), mrr_changes.c.id.desc())
            .limit(1)
            .correlate(table)
            .scalar_subquery()
        )

    return [latest(mrr_changes.c.effective_at), latest(mrr_changes.c.mrr)]


def _load_params(kind: str, table: Any, with_mrr: bool, postgres: bool) -> Any:
    """A run's rows of `table` (and their latest mrr): on PostgreSQL in one statement, joined to
    the ids sent as one array, where an expanded IN list of 500 placeholders a chunk cost
    SQLAlchemy's expansion, psycopg's parsing (it caches no query with more than 50 parameters)
    and PostgreSQL's, chunk after chunk. Joined rather than `id = ANY(array)`: with the array a
    parameter, PostgreSQL searched it for every row it scanned (3.4 s over six groups of 50,000
    items, against 0.2 s with the IN lists)."""
    query = select(table.c.id, table.c.params, *(_latest_mrr(kind, table) if with_mrr else []))
    if not postgres:
        return query.where(table.c.id.in_(bindparam("ids", expanding=True)))
    array = cast(bindparam("ids", type_=Text()), ARRAY(BigInteger))  # the ids' text form, array_literal
    sent = func.unnest(array).table_valued("id").render_derived(name="v")
    return query.select_from(sent.join(table, table.c.id == sent.c.id))


_LOAD_PARAMS = {
    (postgres, kind, with_mrr): _load_params(kind, table, with_mrr, postgres)
    for kind, table in (("contact", contacts), ("account", accounts))
    for with_mrr in (False, True)
    for postgres in (False, True)
}
# Changed params: SQLite once per (id, params, updated_at) tuple, PostgreSQL over arrays.
_UPDATE_PARAMS = {
    (engine, kind): sql
    for kind, table in (("contact", contacts), ("account", accounts))
    for engine, sql in (
        ("sqlite", f"UPDATE {table.name} SET params = ?2, updated_at = ?3 WHERE id = ?1"),
        (
            "postgresql",
            f"UPDATE {table.name} AS t SET params = v.params, updated_at = v.updated_at "
            f"FROM {unnest(table, ('id', 'params', 'updated_at'))} WHERE t.id = v.id",
        ),
    )
}


def merge_params(current: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, value in sent.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _linked_accounts(message: Message) -> Sequence[str]:
    """Account uids a message names: the account itself, or `params.account_uid`."""
    if message.kind == "account":
        assert message.account_uid is not None
        return [message.account_uid]
    value = message.params.get("account_uid")
    if not message.account_given:  # all but imported events
        if value is None:
            return _NONE
        if type(value) is str:
            return (value,)
    linked = [] if value is None else [str(uid) for uid in (value if isinstance(value, list) else [value])]
    if message.account_given and message.account_uid is not None and message.account_uid not in linked:
        linked.append(message.account_uid)  # an imported event's account (its contact was a member)
    return linked


def _earliest(seen: dict[K, datetime], key: K, at: datetime) -> None:
    earliest = seen.get(key)
    if earliest is None or at < earliest:
        seen[key] = at
