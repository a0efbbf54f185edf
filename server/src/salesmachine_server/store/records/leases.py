"""Leases: which server process runs a periodic task, so that exactly one does at a time.

One row per task in `leases`: its holder and when the holding ends unless renewed. A process
claims a task in one statement that succeeds only when no one holds it, its holder's time ran
out, or it is the holder already (then it renews); the database serialises the claims, so on
PostgreSQL shared by several `serve` processes one of them wins, and on SQLite the same table
and statement work unchanged. Every time is the database's clock (seconds since the epoch): the
servers' own clocks may disagree, the database's is one.

A lease is a promise with an end, not a lock: a holder that stops renewing (a crash, a lost
network) loses it when it expires, and another process takes over. So a task runs in steps
that are each complete (store/write/retention.py's batches), and its runner stops it when a
renewal fails (serving/periodic.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, TextClause, text

# The database's clock in seconds since the epoch. clock_timestamp(), not now(): now() is the
# start of the transaction.
_NOW = {
    "postgresql": "extract(epoch FROM clock_timestamp())",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}

# Claim or renew: a row comes back only to the process that holds the lease afterwards.
_CLAIM = """
INSERT INTO leases (task, holder, expires_at) VALUES (:task, :holder, {now} + :seconds)
ON CONFLICT (task) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE leases.holder = excluded.holder OR leases.holder IS NULL OR leases.expires_at < {now}
RETURNING ran_at, {now} AS now
"""
_RAN = "UPDATE leases SET ran_at = {now} WHERE task = :task AND holder = :holder"
# Released: expired now, so that another process takes the task at its next look.
_RELEASE = "UPDATE leases SET holder = NULL, expires_at = {now} WHERE task = :task AND holder = :holder"


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease held: when its task last completed (None: never), and the database's time now."""

    ran_at: float | None
    now: float

    def due(self, interval: float) -> bool:
        """Whether the task should run again, `interval` seconds after it last completed."""
        return self.ran_at is None or self.now - self.ran_at >= interval


def claim(engine: Engine, task: str, holder: str, seconds: float) -> Lease | None:
    """Take or renew the lease of `task` for `seconds`; None when another process holds it."""
    with engine.begin() as conn:
        row = conn.execute(_sql(conn, _CLAIM), {"task": task, "holder": holder, "seconds": seconds}).first()
    if row is None:
        return None
    # float(): PostgreSQL's extract() is numeric, a Decimal here.
    return Lease(ran_at=None if row.ran_at is None else float(row.ran_at), now=float(row.now))


def mark_ran(engine: Engine, task: str, holder: str) -> bool:
    """Note that `task` completed now; False when `holder` no longer holds its lease."""
    with engine.begin() as conn:
        return conn.execute(_sql(conn, _RAN), {"task": task, "holder": holder}).rowcount == 1


def release(engine: Engine, task: str, holder: str) -> None:
    """Give the lease up (a graceful stop), if `holder` still holds it."""
    with engine.begin() as conn:
        conn.execute(_sql(conn, _RELEASE), {"task": task, "holder": holder})


def _sql(conn: Connection, statement: str) -> TextClause:
    return text(statement.format(now=_NOW[conn.dialect.name]))
