"""Which accounts a contact belongs to, as a run of messages reads and adds to it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from salesmachine_server.store.db.dialect import Dialect, array_literal, chunks
from salesmachine_server.store.db.schema import memberships

_LOAD = "SELECT contact_id, account_id FROM memberships WHERE contact_id IN ({marks})"
# PostgreSQL: every contact of the group in one statement over one array, where an IN list of
# 500 placeholders a statement cost psycopg's parsing of each (it caches no query with more
# than 50 parameters) and PostgreSQL's of 500 parameters, chunk after chunk.
_LOAD_POSTGRESQL = (
    "SELECT m.contact_id, m.account_id FROM unnest(%s::bigint[]) AS v(id) JOIN memberships AS m ON m.contact_id = v.id"
)
_COLUMNS = ("account_id", "contact_id", "project_id", "created_at")
# Every day of a contact, as a day of an account ((account_id, contact_id) rows).
_MEMBER_DAYS = {
    "sqlite": "INSERT INTO account_days (account_id, day, project_id) SELECT ?1, day, project_id FROM contact_days "
    "WHERE contact_id = ?2 ON CONFLICT (account_id, day) DO NOTHING",
    "postgresql": "INSERT INTO account_days (account_id, day, project_id) "
    "SELECT v.account_id, cd.day, cd.project_id FROM unnest(%s::bigint[], %s::bigint[]) "
    "AS v(account_id, contact_id) JOIN contact_days AS cd ON cd.contact_id = v.contact_id "
    "ON CONFLICT (account_id, day) DO NOTHING",
}


class Members:
    """The accounts of the contacts of a run: those stored, and those the run adds."""

    def __init__(self) -> None:
        self.of: dict[int, set[int]] = defaultdict(set)  # contact id -> account ids
        self.new: list[tuple[int, int]] = []  # (account_id, contact_id), in run order

    @classmethod
    def load(cls, conn: Connection, contact_ids: list[int]) -> Members:
        """Through the driver (store/db/dialect.py): a row per membership of every contact of a
        group, where SQLAlchemy's result processing cost more than the query."""
        members = cls()
        db = Dialect(conn)
        distinct = list(dict.fromkeys(contact_ids))
        if db.postgres:
            found = db.fetch(_LOAD_POSTGRESQL, (array_literal(distinct),)) if distinct else []
        else:
            found = []
            for part in chunks(distinct):
                found += db.fetch(_LOAD.format(marks=", ".join([db.p] * len(part))), tuple(part))
        for contact_id, account_id in found:
            members.of[contact_id].add(account_id)
        return members

    def join(self, account_id: int, contact_id: int) -> None:
        if account_id not in self.of[contact_id]:
            self.of[contact_id].add(account_id)
            self.new.append((account_id, contact_id))

    def sole_account(self, contact_id: int) -> int | None:
        """The contact's account when it belongs to exactly one (docs/wire.md: event attribution)."""
        accounts_of = self.of.get(contact_id)
        return next(iter(accounts_of)) if accounts_of and len(accounts_of) == 1 else None

    def save(self, db: Dialect, project_id: int, created_at: datetime) -> None:
        """The new memberships (their days are the accounts': activity.py)."""
        now = db.time(created_at)
        db.insert_ignoring(
            memberships, _COLUMNS, [(a, c, project_id, now) for a, c in self.new], conflict=("account_id", "contact_id")
        )


def add_member_days(db: Dialect, pairs: Sequence[tuple[int, int]]) -> None:
    """Every active day of each contact as an active day of its account, for (account_id,
    contact_id) pairs."""
    db.many(_MEMBER_DAYS["sqlite"], _MEMBER_DAYS["postgresql"], list(pairs))
