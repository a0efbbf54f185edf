"""Writing the health history: a group of customers' newly computed intervals put in place of
what was stored from a day on (`replace_from`), or of all of it (`rebuild_rows`), changing only
what differs.

A stored row identical to a computed interval is kept as it is (its id, its `written_by`): the
playbook runner reads new `live` rows above a watermark, so a row rewritten for nothing would
fire its triggers again. The row in force across the first recomputed day is extended (same
state) or closed there (a new one). A rebuild keeps identical rows too: after a rule change
most of the past is often what it was (at 1/20 of issue 18's bench scale, 403,000 of 705,000
rows), and deleting and inserting them again was most of a rebuild's writing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, bindparam, delete, or_, select, update

from salesmachine_server.domain.health_timeline import Interval
from salesmachine_server.store.db.dialect import Dialect, chunks
from salesmachine_server.store.db.schema import health_history

INSERTED = (
    "project_id",
    "subject",
    "customer_id",
    "from_day",
    "to_day",
    "status",
    "stage",
    "band",
    "reason",
    "written_by",
    "written_at",
)


@dataclass(frozen=True)
class StoredRow:
    id: int
    interval: Interval


@dataclass
class Plan:
    """What to change for one customer: rows to delete, rows whose end moves, intervals to add."""

    deletes: list[int]
    ends: list[tuple[int, date | None]]
    inserts: list[Interval]


def plan(stored: list[StoredRow], computed: list[Interval], start: date) -> Plan:
    """Replace the history from `start` on by `computed` (which starts on `start` or later, and
    whose last interval is open when it reaches today). `stored` are the rows ending after
    `start` (or open), by from_day."""
    out = Plan([], [], [])
    new = list(computed)
    for row in stored:
        old = row.interval
        if old.to_day is not None and old.to_day <= start:  # over before `start`: not ours to change
            continue
        if old.from_day < start:  # in force across `start`
            first = new[0] if new else None
            if first is not None and first.from_day == start and old.same_state(first):
                new[0] = Interval(old.from_day, first.to_day, old.status, old.stage, old.band, old.reason)
                if old.to_day != first.to_day:
                    out.ends.append((row.id, first.to_day))
                new.pop(0)
            else:
                out.ends.append((row.id, start))
            continue
        if old in new:
            new.remove(old)
        else:
            days = (old.from_day, old.to_day)
            match = next((i for i, n in enumerate(new) if (n.from_day, n.to_day) == days and old.same_state(n)), None)
            if match is None:
                out.deletes.append(row.id)
            else:
                new.pop(match)  # the same state over the same days: only the reason's words differ
    out.inserts = new
    return out


def plan_rebuild(stored: list[StoredRow], computed: list[Interval]) -> Plan:
    """Make a customer's whole history `computed`: a stored row equal to a computed interval
    (days, state and reason) is kept, every other one deleted (those before the two years a
    rebuild covers among them), every computed interval not stored inserted."""
    kept: Counter[Interval] = Counter()
    wanted = Counter(computed)
    out = Plan([], [], [])
    for row in stored:
        if kept[row.interval] < wanted[row.interval]:
            kept[row.interval] += 1
        else:
            out.deletes.append(row.id)
    for interval in computed:
        if kept[interval]:
            kept[interval] -= 1
        else:
            out.inserts.append(interval)
    return out


def stored_from(
    conn: Connection, project_id: int, subject: str, customer_ids: Iterable[int], start: date | None
) -> dict[int, list[StoredRow]]:
    """The rows of these customers that end after `start` (or are open; all of them for None),
    by from_day."""
    h = health_history.c
    found: dict[int, list[StoredRow]] = {}
    for part in chunks(sorted(set(customer_ids))):
        query = select(h.id, h.customer_id, h.from_day, h.to_day, h.status, h.stage, h.band, h.reason).where(
            h.project_id == project_id, h.subject == subject, h.customer_id.in_(part)
        )
        if start is not None:
            query = query.where(or_(h.to_day.is_(None), h.to_day > start))
        rows = conn.execute(query.order_by(h.customer_id, h.from_day)).all()
        for r in rows:
            interval = Interval(r.from_day, r.to_day, r.status, r.stage, r.band, r.reason)
            found.setdefault(r.customer_id, []).append(StoredRow(r.id, interval))
    return found


def replace_from(
    conn: Connection,
    project_id: int,
    subject: str,
    start: date,
    computed: Mapping[int, list[Interval]],
    customer_ids: Iterable[int],
    written_by: str,
    now: datetime,
) -> int:
    """Make the history of `customer_ids` from `start` on what `computed` says (a customer
    missing from it has no state from `start`: it was erased or not seen yet). Returns how
    many rows were written or deleted."""
    ids = sorted(set(customer_ids) | set(computed))
    stored = stored_from(conn, project_id, subject, ids, start)
    plans = {cid: plan(stored.get(cid, []), computed.get(cid, []), start) for cid in ids}
    return _apply(conn, project_id, subject, plans, written_by, now)


def rebuild_rows(
    conn: Connection,
    project_id: int,
    subject: str,
    computed: Mapping[int, list[Interval]],
    customer_ids: Iterable[int],
    now: datetime,
) -> int:
    """Make the whole history of `customer_ids` what `computed` says (a rebuild): rows that
    differ deleted, intervals not stored written as `rebuild`, identical rows kept. Returns
    how many rows were written or deleted."""
    ids = sorted(set(customer_ids) | set(computed))
    stored = stored_from(conn, project_id, subject, ids, None)
    plans = {cid: plan_rebuild(stored.get(cid, []), computed.get(cid, [])) for cid in ids}
    return _apply(conn, project_id, subject, plans, "rebuild", now)


def _apply(
    conn: Connection, project_id: int, subject: str, plans: Mapping[int, Plan], written_by: str, now: datetime
) -> int:
    # Tuples for the driver, in the forms SQLAlchemy would store (store/db/dialect.py): a
    # rebuild writes hundreds of thousands of rows, and SQLAlchemy's parameter processing per
    # row cost as much as SQLite's own insert.
    dialect = Dialect(conn)
    day, at = dialect.day, dialect.time(now)
    deletes: list[int] = []
    ends: list[dict[str, object]] = []
    inserts: list[tuple[object, ...]] = []
    for customer_id, change in plans.items():
        deletes += change.deletes
        ends += [{"row_id": row_id, "end": end} for row_id, end in change.ends]
        inserts += [
            (
                project_id,
                subject,
                customer_id,
                day(i.from_day),
                None if i.to_day is None else day(i.to_day),
                i.status,
                i.stage,
                i.band,
                i.reason,
                written_by,
                at,
            )
            for i in change.inserts
        ]
    for part in chunks(deletes):
        conn.execute(delete(health_history).where(health_history.c.id.in_(part)))
    if ends:
        conn.execute(
            update(health_history).where(health_history.c.id == bindparam("row_id")).values(to_day=bindparam("end")),
            ends,
        )
    dialect.insert(health_history, INSERTED, inserts)
    return len(deletes) + len(ends) + len(inserts)


def delete_customers(conn: Connection, project_id: int, subject: str, customer_ids: Iterable[int]) -> None:
    """Every row of these customers (erasure, a rebuild starting over)."""
    h = health_history.c
    for part in chunks(sorted(set(customer_ids))):
        conn.execute(
            delete(health_history).where(h.project_id == project_id, h.subject == subject, h.customer_id.in_(part))
        )
