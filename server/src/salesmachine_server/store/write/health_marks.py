"""Health without counting: two days per contact and per account, kept by the write path, from
which any day's health band is read by comparison.

Health counts the active days since the window's first day S (domain/health.py): good is more than
g = good_above, bad is b = bad_at_most or fewer. A customer has more than g active days since S
exactly when its (g+1)-th most recent active day is S or later. So each contact and account
keeps that day (`good_day`) and its (b+1)-th most recent active day (`not_bad_day`), NULL when
it has fewer active days, and its band on any day, over any window, is:

    good     when good_day >= S
    bad      when not_bad_day is NULL or < S
    average  otherwise

Days passing change S, not the marks: a mark changes only when the customer gets a new active
day, which the write path sees (a new row of contact_days or account_days). A window change
needs nothing; the marks hold for one time zone (days are local: store/write/contact_days.py recomputes
them with the days) and one pair (g, b), kept in `health_marks`: changing the thresholds
recomputes them (refresh_project). A read whose rule is not the one the marks were computed
with, for a moment or for good, counts active days as before (`usable`): slower, never wrong.

A race with a writer on PostgreSQL: a writer reads (g, b) after writing its new days, holding
its lock on contact_days and account_days; refresh_project takes those tables in EXCLUSIVE
mode first, so it waits for any writer that read the old pair, and recomputes after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, case, or_, select, update

from salesmachine_server.domain.health import AVERAGE, BAD, GOOD, HealthRule
from salesmachine_server.domain.project_settings import from_stored
from salesmachine_server.store.db.bulk import chunks, unnest
from salesmachine_server.store.db.driver import Driver
from salesmachine_server.store.db.schema import account_days, accounts, contact_days, contacts, health_marks, projects
from salesmachine_server.store.db.upsert import insert_ignore
Thresholds = tuple[int, int]  # (good_above, bad_at_most)

# The marks of each kind: its table, the table of its active days, the key between them.
KINDS = {"contact": (contacts, contact_days, "contact_id"), "account": (accounts, account_days, "account_id")}


# -- reading ------------------------------------------------------------------------------


def usable(conn: Connection, project_id: int, rule: HealthRule) -> bool:
    """Whether the project's marks were computed with this rule's thresholds."""
    row = conn.execute(
        select(health_marks.c.good_above, health_marks.c.bad_at_most).where(health_marks.c.project_id == project_id)
    ).first()
    return row is not None and tuple(row) == (rule.good_above, rule.bad_at_most)


@dataclass(frozen=True)
class Marks:
    """The health of a table's rows (contacts or accounts) for a window starting on `since`."""

    table: Table
    since: date

    def band(self) -> ColumnElement[str]:
        """good, average or bad, as the rule's classification of the active days would say."""
        return case((self.is_(GOOD), GOOD), (self.is_(BAD), BAD), else_=AVERAGE)

    def is_(self, level: str) -> ColumnElement[bool]:
        """The rows in a band, as range conditions on the indexed marks."""
        good_day, not_bad_day = self.table.c.good_day, self.table.c.not_bad_day
        bad = or_(not_bad_day.is_(None), not_bad_day < self.since)
        if level == GOOD:
            return good_day >= self.since
        if level == BAD:
            return bad
        return (not_bad_day >= self.since) & or_(good_day.is_(None), good_day < self.since)

    def is_not(self, level: str) -> ColumnElement[bool]:
        if level == GOOD:
            return or_(self.table.c.good_day.is_(None), self.table.c.good_day < self.since)
        if level == BAD:
            return self.table.c.not_bad_day >= self.since
        return or_(self.is_(GOOD), self.is_(BAD))


# -- the write path -----------------------------------------------------------------------


def thresholds(conn: Connection, project_id: int) -> Thresholds:
    """The (good_above, bad_at_most) of the project's marks; a project that has none yet (it
    is new: the migration gave every older project its row) takes its settings' rule."""
    row = conn.execute(
        select(health_marks.c.good_above, health_marks.c.bad_at_most).where(health_marks.c.project_id == project_id)
    ).first()
    if row is not None:
        return row[0], row[1]
    settings = conn.execute(select(projects.c.settings).where(projects.c.id == project_id)).scalar_one()
    rule = from_stored(settings).health
    insert_ignore(conn, health_marks, ["project_id"], project_id=project_id,
                  good_above=rule.good_above, bad_at_most=rule.bad_at_most)
    return thresholds(conn, project_id)


def _nth_day(days: str, owner: str, row: str, offset: str) -> str:
    return f"(SELECT day FROM {days} WHERE {owner} = {row}.id ORDER BY day DESC LIMIT 1 OFFSET {offset})"


def _set_marks(kind: str, row: str, good: str, not_bad: str) -> str:
    table, days, owner = KINDS[kind]
    return (f"good_day = {_nth_day(days.name, owner, row, good)}, "
            f"not_bad_day = {_nth_day(days.name, owner, row, not_bad)}")


# Recompute the marks of the contacts whose (contact_id, day, events) rows are new: a row is new
# when its count is the run's own (the upsert added nothing to an older count). SQLite runs it
# per row (executemany, (contact_id, day, events, g, b)); PostgreSQL over arrays.
_NEW_CONTACT_DAYS = {
    "sqlite": f"UPDATE contacts SET {_set_marks('contact', 'contacts', '?4', '?5')} WHERE id = ?1 AND EXISTS "
              "(SELECT 1 FROM contact_days WHERE contact_id = ?1 AND day = ?2 AND events = ?3)",
    "postgresql": f"UPDATE contacts AS t SET {_set_marks('contact', 't', '%s', '%s')} "
                  f"FROM {unnest(contact_days, ('contact_id', 'day', 'events'))} "
                  "JOIN contact_days AS cd ON cd.contact_id = v.contact_id AND cd.day = v.day AND cd.events = v.events "
                  "WHERE t.id = v.contact_id",
}
_ACCOUNTS = {
    "sqlite": f"UPDATE accounts SET {_set_marks('account', 'accounts', '?2', '?3')} WHERE id = ?1",
    "postgresql": f"UPDATE accounts AS t SET {_set_marks('account', 't', '%s', '%s')} WHERE t.id = ANY(%s)",
}
_ACCOUNT_DAYS = (f"INSERT INTO account_days (account_id, day, project_id) "
                 f"SELECT * FROM {unnest(account_days, ('account_id', 'day', 'project_id'))} "
                 "ON CONFLICT (account_id, day) DO NOTHING RETURNING account_id")
# Every day of the contacts of new memberships, as days of their accounts.
_MEMBER_DAYS = {
    "sqlite": "INSERT INTO account_days (account_id, day, project_id) SELECT ?1, day, project_id FROM contact_days "
              "WHERE contact_id = ?2 ON CONFLICT (account_id, day) DO NOTHING",
    "postgresql": "INSERT INTO account_days (account_id, day, project_id) "
                  "SELECT v.account_id, cd.day, cd.project_id FROM unnest(%s::bigint[], %s::bigint[]) "
                  "AS v(account_id, contact_id) JOIN contact_days AS cd ON cd.contact_id = v.contact_id "
                  "ON CONFLICT (account_id, day) DO NOTHING",
}


class MarkWriter:
    """Keeps account_days and the marks current for the rows of a write transaction, after its
    contact_days are written."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.driver = Driver(conn)
        self.engine = "postgresql" if self.driver.postgres else "sqlite"
        self.rules: dict[int, Thresholds] = {}

    def thresholds(self, project_id: int) -> Thresholds:
        # Read once per transaction, after its first days were written (the module's docstring),
        # through the driver: SQLAlchemy's execution cost more than the writer's own statements.
        if project_id not in self.rules:
            found = self.driver.fetch(f"SELECT good_above, bad_at_most FROM health_marks WHERE project_id = "
                                      f"{self.driver.p}", (project_id,))
            self.rules[project_id] = tuple(found[0]) if found else thresholds(self.conn, project_id)  # type: ignore[assignment]
        return self.rules[project_id]

    def write(self, project_id: int, days: Sequence[tuple[Any, Any, int]], members: dict[int, set[int]],
              new_members: Sequence[tuple[int, int]]) -> None:
        """`days`: the run's (contact_id, day, events) as written to contact_days (the driver's
        day format); `members`: contact id -> its account ids, the new ones included;
        `new_members`: the run's new (account_id, contact_id)."""
        d = self.driver
        account_rows = sorted({(a, day, project_id) for c, day, _ in days for a in members.get(c, ())})
        if d.postgres and account_rows:  # one array per column: psycopg adapts three values, not 3 per row
            changed = {a for (a,) in d.fetch(_ACCOUNT_DAYS, tuple(list(col) for col in zip(*account_rows)))}
        else:
            changed = {a for (a,) in d.insert("account_days", ("account_id", "day", "project_id"), account_rows,
                                              conflict=("account_id", "day"), returning="account_id")}
        if new_members:
            d.many(_MEMBER_DAYS["sqlite"], _MEMBER_DAYS["postgresql"], list(new_members))
            changed.update(a for a, _ in new_members)
        if not days and not changed:
            return
        good, not_bad = self.thresholds(project_id)
        if days:
            if d.postgres:
                d.execute(_NEW_CONTACT_DAYS["postgresql"], (good, not_bad, *(list(col) for col in zip(*days))))
            else:
                d.execute(_NEW_CONTACT_DAYS["sqlite"], [(*row, good, not_bad) for row in days], many=True)
        self.refresh_accounts(sorted(changed), good, not_bad)

    def refresh_accounts(self, account_ids: Sequence[int], good: int, not_bad: int) -> None:
        if not account_ids:
            return
        if self.driver.postgres:
            self.driver.execute(_ACCOUNTS["postgresql"], (good, not_bad, list(account_ids)))
        else:
            self.driver.execute(_ACCOUNTS["sqlite"], [(a, good, not_bad) for a in account_ids], many=True)


# -- whole rows and projects (alias merges, time zone and threshold changes) -------------------


def nth_day(kind: str, offset: int) -> Any:
    """The correlated subquery of a row's (offset + 1)-th most recent active day."""
    table, days, owner = KINDS[kind]
    return (select(days.c.day).where(days.c[owner] == table.c.id).order_by(days.c.day.desc())
            .limit(1).offset(offset).correlate(table).scalar_subquery())


def refresh_rows(conn: Connection, project_id: int, kind: str, ids: Sequence[int]) -> None:
    """Recompute the marks of some contacts or accounts, by their ids."""
    good, not_bad = thresholds(conn, project_id)
    table = KINDS[kind][0]
    for part in chunks(list(ids)):
        conn.execute(update(table).where(table.c.id.in_(part))
                     .values(good_day=nth_day(kind, good), not_bad_day=nth_day(kind, not_bad)))


def refresh_project(conn: Connection, project_id: int, rule: HealthRule) -> None:
    """Recompute every mark of a project with the rule's thresholds, and record them. The
    caller holds contact_days and account_days (store/write/contact_days.py)."""
    values = {"good_above": rule.good_above, "bad_at_most": rule.bad_at_most}
    if not insert_ignore(conn, health_marks, ["project_id"], project_id=project_id, **values):
        conn.execute(update(health_marks).where(health_marks.c.project_id == project_id).values(**values))
    for kind, (table, _, _) in KINDS.items():
        conn.execute(update(table).where(table.c.project_id == project_id).values(
            good_day=nth_day(kind, rule.good_above), not_bad_day=nth_day(kind, rule.bad_at_most)))
