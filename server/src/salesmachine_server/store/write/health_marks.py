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
from salesmachine_server.store.db.dialect import Dialect, chunks, unnest
from salesmachine_server.store.db.schema import account_days, accounts, contact_days, contacts, health_marks, projects

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
    _insert_thresholds(Dialect(conn), project_id, rule)
    return thresholds(conn, project_id)


def _insert_thresholds(db: Dialect, project_id: int, rule: HealthRule) -> bool:
    """The project's row of thresholds unless it has one; True when inserted."""
    return bool(
        db.insert_ignoring(
            health_marks,
            ("project_id", "good_above", "bad_at_most"),
            [(project_id, rule.good_above, rule.bad_at_most)],
            conflict=("project_id",),
            returning="project_id",
        )
    )


def _nth_day(days: str, owner: str, row: str, offset: str) -> str:
    return f"(SELECT day FROM {days} WHERE {owner} = {row}.id ORDER BY day DESC LIMIT 1 OFFSET {offset})"


def _set_marks(kind: str, row: str, good: str, not_bad: str) -> str:
    _table, days, owner = KINDS[kind]
    return (
        f"good_day = {_nth_day(days.name, owner, row, good)}, not_bad_day = {_nth_day(days.name, owner, row, not_bad)}"
    )


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
# The accounts whose days changed are also marked for their health history (project/
# health_history.py) from a day on: `?4` (a run's earliest new day, or far back for a new member).
_MARK_HEALTH = (
    "health_dirty_from = CASE WHEN health_dirty_from IS NULL OR health_dirty_from > {d} THEN {d} "
    "ELSE health_dirty_from END"
)
_ACCOUNTS = {
    "sqlite": f"UPDATE accounts SET {_set_marks('account', 'accounts', '?2', '?3')}, "
    f"{_MARK_HEALTH.format(d='?4')} WHERE id = ?1",
    "postgresql": f"UPDATE accounts AS t SET {_set_marks('account', 't', '%s', '%s')}, "
    f"{_MARK_HEALTH.format(d='%s::date')} WHERE t.id = ANY(%s)",
}
# Far enough back for any history: a new membership brings every day of its contact.
FAR_BACK = date(1970, 1, 1)


class MarkWriter:
    """Keeps the marks current for the rows of a message transaction, after its contact_days
    and account_days are written (activity.py)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.db = Dialect(conn)
        self.rules: dict[int, Thresholds] = {}

    def thresholds(self, project_id: int) -> Thresholds:
        # Read once per transaction, after its first days were written (the module's docstring),
        # through the driver: SQLAlchemy's execution cost more than the writer's own statements.
        if project_id not in self.rules:
            found = self.db.fetch(
                f"SELECT good_above, bad_at_most FROM health_marks WHERE project_id = {self.db.p}", (project_id,)
            )
            self.rules[project_id] = (found[0][0], found[0][1]) if found else thresholds(self.conn, project_id)
        return self.rules[project_id]

    def refresh(
        self,
        project_id: int,
        days: Sequence[tuple[Any, Any, int]],
        changed_accounts: set[int],
        changed_from: date = FAR_BACK,
    ) -> None:
        """`days`: the run's (contact_id, day, events) as written to contact_days (the dialect's
        day format), of which those whose count is the run's own are new; `changed_accounts`:
        the accounts with a new row of account_days, on `changed_from` or later."""
        if not days and not changed_accounts:
            return
        good, not_bad = self.thresholds(project_id)
        if days:
            if self.db.postgres:
                self.db.execute(_NEW_CONTACT_DAYS["postgresql"], (good, not_bad, *(list(col) for col in zip(*days))))
            else:
                self.db.execute(_NEW_CONTACT_DAYS["sqlite"], [(*row, good, not_bad) for row in days], many=True)
        self.refresh_accounts(sorted(changed_accounts), good, not_bad, changed_from)

    def refresh_accounts(self, account_ids: Sequence[int], good: int, not_bad: int, changed_from: date) -> None:
        if not account_ids:
            return
        day = self.db.day(changed_from)
        if self.db.postgres:
            self.db.execute(_ACCOUNTS["postgresql"], (good, not_bad, day, day, list(account_ids)))
        else:
            self.db.execute(_ACCOUNTS["sqlite"], [(a, good, not_bad, day) for a in account_ids], many=True)


# -- whole rows and projects (alias merges, time zone and threshold changes) -------------------


def nth_day(kind: str, offset: int) -> Any:
    """The correlated subquery of a row's (offset + 1)-th most recent active day."""
    table, days, owner = KINDS[kind]
    return (
        select(days.c.day)
        .where(days.c[owner] == table.c.id)
        .order_by(days.c.day.desc())
        .limit(1)
        .offset(offset)
        .correlate(table)
        .scalar_subquery()
    )


def refresh_rows(conn: Connection, project_id: int, kind: str, ids: Sequence[int]) -> None:
    """Recompute the marks of some contacts or accounts, by their ids."""
    good, not_bad = thresholds(conn, project_id)
    table = KINDS[kind][0]
    for part in chunks(list(ids)):
        conn.execute(
            update(table)
            .where(table.c.id.in_(part))
            .values(good_day=nth_day(kind, good), not_bad_day=nth_day(kind, not_bad))
        )


def refresh_project(conn: Connection, project_id: int, rule: HealthRule) -> None:
    """Recompute every mark of a project with the rule's thresholds, and record them. The
    caller holds contact_days and account_days (store/write/contact_days.py)."""
    values = {"good_above": rule.good_above, "bad_at_most": rule.bad_at_most}
    if not _insert_thresholds(Dialect(conn), project_id, rule):
        conn.execute(update(health_marks).where(health_marks.c.project_id == project_id).values(**values))
    for kind, (table, _, _) in KINDS.items():
        conn.execute(
            update(table)
            .where(table.c.project_id == project_id)
            .values(good_day=nth_day(kind, rule.good_above), not_bad_day=nth_day(kind, rule.bad_at_most))
        )
