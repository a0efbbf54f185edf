"""When contacts and accounts were active: the days a run counts (contact_days, and from them
account_days and the health marks) and the first and last times it saw each row."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from salesmachine_server.store.db.dialect import Dialect, unnest
from salesmachine_server.store.db.schema import account_days, accounts, contact_days, contacts
from salesmachine_server.store.write.health_marks import FAR_BACK, MarkWriter
from salesmachine_server.store.write.memberships import Members, add_member_days

ONE_DAY = timedelta(days=1)

_DAY_COLUMNS = ("contact_id", "day", "project_id", "events")
_ACCOUNT_DAY_COLUMNS = ("account_id", "day", "project_id")
# first_seen_at lowered and last_seen_at raised to what the run saw; a row without activity
# in the run leaves last_seen_at alone. The same statements mark the row's health for
# re-evaluation from the earliest day the run may have changed (project/health_history.py):
# a UTC day minus one is on or before the local day in any time zone, and the mark costs no
# statement of its own.
_FIRST = "first_seen_at = CASE WHEN t.first_seen_at > {f} THEN {f} ELSE t.first_seen_at END"
_LAST = "last_seen_at = CASE WHEN t.last_seen_at IS NULL OR t.last_seen_at < {l} THEN {l} ELSE t.last_seen_at END"
_DIRTY = (
    "health_dirty_from = CASE WHEN t.health_dirty_from IS NULL OR t.health_dirty_from > {d} THEN {d} "
    "ELSE t.health_dirty_from END"
)
# PostgreSQL: one statement over arrays per kind, with or without activity. An indexed column
# set to the value it had leaves the update HOT (PostgreSQL compares the values).
_POSTGRES_SEEN = {
    (kind, active): f"UPDATE {table.name} AS t SET {_FIRST.format(f='v.first_seen_at')}"
    + (f", {_LAST.format(l='v.last_seen_at')}" if active else "")
    + f", {_DIRTY.format(d='v.health_dirty_from')}"
    + " FROM "
    + unnest(
        table,
        ("id", "first_seen_at", "last_seen_at", "health_dirty_from")
        if active
        else ("id", "first_seen_at", "health_dirty_from"),
    )
    + " WHERE t.id = v.id"
    for kind, table in (("contact", contacts), ("account", accounts))
    for active in (True, False)
}
# SQLite rewrites the entries of every index on a column an UPDATE sets, whatever the value,
# and first_seen_at and health_dirty_from are indexed; a row is seen again far more often than
# it is seen earlier or marked anew. So SQLite sets them only where they change, and
# last_seen_at on its own: 9.1 -> 5.5 µs a row among 10,000 contacts, 26.7 -> 8.3 among
# 200,000 (the index pages no longer read and written). They run per row: the first on the tuples
# of the PostgreSQL statement, (id, first, latest, dirty) with activity and (id, first, dirty)
# without; the second on (id, latest).
_SQLITE_EARLIER = {
    (kind, active): f"UPDATE {table.name} AS t SET {_FIRST.format(f='?2')}, {_DIRTY.format(d=dirty)} "
    f"WHERE id = ?1 AND (first_seen_at > ?2 OR health_dirty_from IS NULL OR health_dirty_from > {dirty})"
    for kind, table in (("contact", contacts), ("account", accounts))
    for active, dirty in ((True, "?4"), (False, "?3"))
}
_SQLITE_LATER = {
    kind: f"UPDATE {table.name} SET last_seen_at = ?2 WHERE id = ?1 AND (last_seen_at IS NULL OR last_seen_at < ?2)"
    for kind, table in (("contact", contacts), ("account", accounts))
}


class Activity:
    """The events a run counts per contact and local day, and the times it saw each row:
    per kind ("contact", "account"), the earliest time of each row and its latest activity.
    Plain dicts keyed by row id, which apply_run (run.py) also updates inline for events, the
    bulk of what arrives, so that an event costs no call and no object here."""

    def __init__(self) -> None:
        self.days: dict[tuple[int, date], int] = defaultdict(int)
        self.first: dict[str, dict[int, datetime]] = {"contact": {}, "account": {}}
        self.last: dict[str, dict[int, datetime]] = {"contact": {}, "account": {}}

    def count_day(self, contact_id: int, day: date) -> None:
        self.days[(contact_id, day)] += 1

    def seen(self, kind: str, row_id: int, at: datetime, activity: bool) -> None:
        first = self.first[kind]
        earliest = first.get(row_id)
        if earliest is None or at < earliest:
            first[row_id] = at
        if activity:
            last = self.last[kind]
            latest = last.get(row_id)
            if latest is None or at > latest:
                last[row_id] = at

    def save_days(self, db: Dialect, project_id: int, members: Members, marks: MarkWriter) -> None:
        """The contacts' days counted, their accounts' days (those of the run's contacts, and
        every day of the contacts of new memberships), and the marks of those with a new day."""
        days = [(c, db.day(day), n) for (c, day), n in self.days.items()]
        new_days = days  # SQLite: the marks' statement tells the new ones by their count, per row
        stored = db.upsert_adding(
            contact_days,
            _DAY_COLUMNS,
            [(c, day, project_id, n) for c, day, n in days],
            key=("contact_id", "day"),
            counter="events",
            returning="contact_id, day, events" if db.postgres else None,
        )
        if db.postgres:
            # A day is new when its stored count is the run's own. Told here from the upsert's
            # own rows, the marks' statement takes only the new days (most groups have none)
            # where it joined every day of the group to contact_days to find them (0.07 s a
            # group of 30,000 items among 10,000 contacts).
            ours = {(c, day): n for c, day, n in days}
            new_days = [(c, day, n) for c, day, n in stored if ours[(c, day)] == n]
        account_rows = sorted({(a, day, project_id) for c, day, _ in days for a in members.of.get(c, ())})
        changed = {
            a
            for (a,) in db.insert_ignoring(
                account_days, _ACCOUNT_DAY_COLUMNS, account_rows, conflict=("account_id", "day"), returning="account_id"
            )
        }
        changed_from = min((day for _, day in self.days), default=FAR_BACK)
        if members.new:
            add_member_days(db, members.new)
            changed.update(a for a, _ in members.new)
            changed_from = FAR_BACK  # the new member's every day is the account's now
        marks.refresh(project_id, new_days, changed, changed_from)

    def save_seen(self, db: Dialect) -> None:
        """first_seen_at and last_seen_at of every row the run saw, and its health mark."""
        for kind in ("contact", "account"):
            last = self.last[kind]
            active, idle = [], []
            for row_id, first in self.first[kind].items():
                dirty = db.day(first.date() - ONE_DAY)
                latest = last.get(row_id)
                if latest is None:
                    idle.append((row_id, db.time(first), dirty))
                else:
                    active.append((row_id, db.time(first), db.time(latest), dirty))
            db.many(_SQLITE_EARLIER[kind, True], _POSTGRES_SEEN[kind, True], active)
            db.many(_SQLITE_EARLIER[kind, False], _POSTGRES_SEEN[kind, False], idle)
            if not db.postgres:  # PostgreSQL's statement set last_seen_at with the others
                db.execute(_SQLITE_LATER[kind], [(i, latest) for i, _, latest, _ in active], many=True)
