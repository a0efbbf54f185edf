"""A run's revenue history: the mrr values it sets, slotted in by their effective time
(docs/revenue.md)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, bindparam, select

from salesmachine_server.store.db.dialect import chunks
from salesmachine_server.store.db.schema import mrr_changes

Owner = tuple[str, int]  # ("contact" | "account", row id)
MrrEntry = tuple[datetime, Any]  # (effective_at, mrr); mrr None when it was removed


def owner_column(kind: str) -> Any:
    return mrr_changes.c.contact_id if kind == "contact" else mrr_changes.c.account_id


_LOAD_HISTORY = {
    kind: select(owner_column(kind), mrr_changes.c.effective_at, mrr_changes.c.mrr)
    .where(owner_column(kind).in_(bindparam("ids", expanding=True)))
    .order_by(owner_column(kind), mrr_changes.c.effective_at, mrr_changes.c.id)
    for kind in ("contact", "account")
}


class Revenue:
    """The revenue history of the rows a run sets mrr on: the latest entry of each (stored or
    written by this run; None when it has none, loaded with the params: run.py), and the whole
    history, oldest first, of those that get a value older than their latest (`plan`)."""

    def __init__(self) -> None:
        self.latest: dict[Owner, MrrEntry | None] = {}
        self.history: dict[Owner, list[MrrEntry]] = {}
        self.rows: list[tuple[str, int, Any, datetime]] = []  # (kind, row id, mrr, effective_at)
        # Changes of a row's current mrr, (owner, before, after, effective_at): playbooks' mrr
        # triggers (store/write/trigger_inbox.py). A backfill behind the latest value is no move.
        self.moves: list[tuple[Owner, Any, Any, datetime]] = []

    def plan(self, conn: Connection, mrr_writes: Sequence[tuple[Owner, datetime]]) -> None:
        """Load the whole revenue history of the rows that, in this run, get an mrr value older
        than their latest (stored, or sent earlier in the run): a backfill must be compared with
        the value in force at its own time and slotted in there. The common case, every value
        newer than what is stored, loads nothing more: the latest entry is enough."""
        newest: dict[Owner, datetime] = {o: e[0] for o, e in self.latest.items() if e is not None}
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
            self.history[owner] = []
        for kind in ("contact", "account"):
            stored = sorted(row_id for k, row_id in backfilled if k == kind and self.latest.get((k, row_id)))
            for part in chunks(stored):
                for row_id, effective_at, mrr in conn.execute(_LOAD_HISTORY[kind], {"ids": list(part)}):
                    self.history[(kind, row_id)].append((effective_at, mrr))

    def set(self, owner: Owner, value: Any, at: datetime) -> bool:
        """Record mrr `value` effective at `at`; True when it is now the owner's latest value.

        The value in force at `at` is the latest entry at or before it, so at equal times the
        value recorded last wins (in a request, the later item). A value equal to the one in
        force records nothing. A value older than the latest entry goes in between and leaves
        the current value alone, even when the entry after it now repeats it."""
        history = self.history.get(owner)
        if history is None:  # every value sent for it in this run is at or after its latest
            latest = self.latest.get(owner)
            assert latest is None or at >= latest[0], "plan missed a backfill"
            before = None if latest is None else latest[1]
            if value != before:
                self.latest[owner] = (at, value)
                self.rows.append((owner[0], owner[1], value, at))
                self.moves.append((owner, before, value, at))
            return True
        index = bisect_right(history, at, key=itemgetter(0))
        newest = index == len(history)
        before = history[index - 1][1] if index else None
        if value != before:
            history.insert(index, (at, value))
            self.rows.append((owner[0], owner[1], value, at))
            if newest:
                self.moves.append((owner, before, value, at))
        return newest

    def save(self, conn: Connection, project_id: int, received_at: datetime) -> None:
        """The history entries recorded (few: SQLAlchemy's insert is fast enough)."""
        if self.rows:
            conn.execute(
                mrr_changes.insert(),
                [
                    {
                        "project_id": project_id,
                        "contact_id": row_id if kind == "contact" else None,
                        "account_id": row_id if kind == "account" else None,
                        "mrr": mrr,
                        "effective_at": at,
                        "received_at": received_at,
                    }
                    for kind, row_id, mrr, at in self.rows
                ],
            )
