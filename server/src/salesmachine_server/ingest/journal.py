"""The journal: accepted submissions made durable on this server's disk before the 201.

An SQLite file in WAL mode with `synchronous=FULL`, beside the data (`journal_path`): a commit
is on disk (the WAL fsynced) before it returns, a torn last write is a WAL frame whose checksum
does not match and is ignored when the file is opened again, and several processes (the
request workers, the projector) share the file with SQLite's own locking. It does not depend
on the store: with PostgreSQL as the store, writes are acknowledged while PostgreSQL is down.

- `entries`: one row per project of an append, holding its submissions (ingest/journal_codec.py),
  `seq` increasing in commit order (SQLite serialises writers, so no smaller seq ever appears
  after a larger one).
- `tally`: what was `appended` (seq, items, bytes, when).
- `meta`: the journal's id, a uuid made when the file is created. The store keeps a position
  per journal id, so a journal made anew starts at 0 whatever the store holds.

Only the request workers write this file, one append at a time under a lock file beside it
(`_FileLock`: the next writer starts the moment the lock is released, where SQLite's busy
handler would sleep 1, 2, 5, 10... ms between tries), so the workers' fsyncs follow each other
without gaps. Counters that need no fsync are in a second file, `<journal>-counters`: `projected`
(seq, items, bytes, when, rate, per journal id), a mirror written by the projector after each
store commit (the truth is the store's `journal_positions` row, project/projector.py, which
the projector writes here again when it starts), and the rate limit's `rate_buckets`. Depth is the
difference of the two tallies, and a read waits until `projected` reaches the `appended` it saw
(serving/read_your_writes.py). Entries already applied are deleted by a worker's next append,
at most every `DELETE_EVERY_SECONDS`.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from salesmachine_server.store.db.engine import normalise_url

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL,
    received_at REAL NOT NULL,
    items INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS tally (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    items INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    at REAL NOT NULL,
    rate REAL NOT NULL
);
INSERT OR IGNORE INTO tally VALUES ('appended', 0, 0, 0, 0, 0);
"""

COUNTERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS projected (
    journal_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    items INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    at REAL NOT NULL,
    rate REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rate_buckets (
    project_id INTEGER PRIMARY KEY,
    tokens REAL NOT NULL,
    updated_at REAL NOT NULL
);
"""


_INSERT_ENTRY = "INSERT INTO entries (project_id, received_at, items, bytes, body) VALUES (?, ?, ?, ?, ?)"
# How often a process's appends delete the entries applied: the delete, and the read of the
# projector's position it needs, were two of an append's six statements, each of which waits
# for the process's GIL and a core on a busy machine; under single events an append took 3 ms,
# a third of it waiting for the other worker's append to release the lock it holds meanwhile
# (bench/request_cpu.py, eight interleaved pairs: the rate the same within the machine's noise,
# p99 medians 21.4 -> 20.0 ms).
DELETE_EVERY_SECONDS = 0.1

# Pages of WAL (4 KiB each) after which a worker's commit checkpoints the journal itself.
FALLBACK_CHECKPOINT_PAGES = 16_384

# The projector's rate is its last ten seconds'; older than this, it has applied nothing lately.
RATE_FRESH_SECONDS = 10.0


class JournalFull(Exception):
    """The journal holds more than its disk budget of entries not yet applied."""


@dataclass(frozen=True)
class NewEntry:
    project_id: int
    received_at: float  # epoch seconds
    items: int  # messages and refusals
    body: bytes  # journal_codec.encode


@dataclass(frozen=True)
class Entry:
    seq: int
    project_id: int
    received_at: float
    items: int
    body: bytes


@dataclass(frozen=True)
class Depth:
    """What the journal holds that the store does not yet: the projection's backlog."""

    acknowledged: int  # the last seq appended
    projected: int  # the last seq applied to the store (the projector's mirror)
    items: int
    bytes: int
    lag_seconds: float  # age of the oldest entry not yet applied (0: none)
    rate: float  # items per second the projector applied, lately


def journal_path(database_url: str, configured: str = "") -> Path:
    """Where the journal of a store lives: `configured` if set; beside an SQLite file
    (`data/x.db` -> `data/x.journal.sqlite`); for PostgreSQL, in `./data/` under a name made of
    the database's host, port and name, so that servers of different databases never share one."""
    if configured:
        return Path(configured)
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() == "sqlite" and url.database:
        database = Path(url.database)
        return database.with_name(f"{database.stem}.journal.sqlite")
    name = f"{url.host or 'local'}-{url.port or 5432}-{url.database or 'postgres'}"
    return Path("data") / f"journal-{''.join(c if c.isalnum() or c in '-_' else '_' for c in name)}.sqlite"


class Journal:
    """The journal file; each thread that uses it gets a connection of its own."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        conn = self._conn()
        conn.executescript(SCHEMA)  # idempotent; concurrent openers queue on SQLite's lock
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('journal_id', ?)", (str(uuid.uuid4()),))
        self.journal_id: str = conn.execute("SELECT value FROM meta WHERE key = 'journal_id'").fetchone()[0]
        self.counters_path = path.with_name(f"{path.name}-counters")
        self._counters().executescript(COUNTERS_SCHEMA)
        # Bytes waiting to be applied as of this process's last append: the budget's check on
        # every write request reads it instead of the files.
        self.pending_after_append = 0
        self._delete_after = 0.0  # when this process's next append deletes the applied entries
        self._projected_bytes = 0  # the projector's bytes applied, as read for the last delete

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            # The projector checkpoints after each group it applies (`checkpoint`), off the
            # request path; a worker's commit checkpoints only when the WAL has grown this large
            # without it (the projector stopped), so an acknowledgement rarely waits for one.
            conn.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_CHECKPOINT_PAGES}")
            self._local.conn = conn
        return conn

    def _counters(self) -> sqlite3.Connection:
        """This thread's connection to the counters file (no fsync: a crash may forget the last
        of them; the projected mirror is written again from the store when the projector starts)."""
        conn: sqlite3.Connection | None = getattr(self._local, "counters", None)
        if conn is None:
            conn = sqlite3.connect(self.counters_path, isolation_level=None, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            self._local.counters = conn
        return conn

    def _projected_row(self) -> tuple[int, int, int, float, float]:
        """(seq, items, bytes, at, rate) of what the projector has applied of this journal."""
        row = (
            self._counters()
            .execute("SELECT seq, items, bytes, at, rate FROM projected WHERE journal_id = ?", (self.journal_id,))
            .fetchone()
        )
        return (0, 0, 0, 0.0, 0.0) if row is None else row

    def _writing(self) -> _FileLock:
        lock: _FileLock | None = getattr(self._local, "lock", None)
        if lock is None:
            lock = self._local.lock = _FileLock(Path(f"{self.path}.lock"))
        return lock

    def close(self) -> None:
        """Close this thread's connections (others close with their threads)."""
        for name in ("conn", "counters"):
            conn = getattr(self._local, name, None)
            if conn is not None:
                conn.close()
                setattr(self._local, name, None)

    # --- appending (the request workers) ---

    def append(self, entries: list[NewEntry]) -> int:
        """Append entries in one transaction, on disk when this returns; the last seq. The
        entries the projector has applied are deleted in it, at most every `DELETE_EVERY_SECONDS`."""
        conn = self._conn()
        deleting = time.monotonic() >= self._delete_after
        if deleting:
            projected, _items, self._projected_bytes = self._projected_row()[:3]
            self._delete_after = time.monotonic() + DELETE_EVERY_SECONDS
        with self._writing(), _immediate(conn):
            if deleting:
                conn.execute("DELETE FROM entries WHERE seq <= ?", (projected,))
            rows = [(e.project_id, e.received_at, e.items, len(e.body), e.body) for e in entries]
            if len(rows) == 1:  # an append's usual one project: its seq without a statement more
                last = conn.execute(_INSERT_ENTRY, rows[0]).lastrowid
            else:
                conn.executemany(_INSERT_ENTRY, rows)
                last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            assert last is not None
            (appended_bytes,) = conn.execute(
                "UPDATE tally SET seq = ?, items = items + ?, bytes = bytes + ?, at = ? WHERE name = 'appended' "
                "RETURNING bytes",
                (last, sum(e.items for e in entries), sum(len(e.body) for e in entries), time.time()),
            ).fetchone()
        # Against the projector's position at the last delete: a little more than waits, never less.
        self.pending_after_append = max(int(appended_bytes) - self._projected_bytes, 0)
        return last

    def check_budget(self, budget_bytes: int) -> None:
        """Raise JournalFull when more than `budget_bytes` waited to be applied at this
        process's last append (a write request checks it without reading a file)."""
        if budget_bytes > 0 and self.pending_after_append > budget_bytes:
            self.pending_after_append = self.pending_bytes()  # the projector may have caught up since
            if self.pending_after_append > budget_bytes:
                raise JournalFull(f"{self.pending_after_append} bytes wait to be applied (budget {budget_bytes})")

    def pending_bytes(self) -> int:
        (appended,) = self._conn().execute("SELECT bytes FROM tally WHERE name = 'appended'").fetchone()
        return max(int(appended) - self._projected_row()[2], 0)

    def checkpoint(self) -> None:
        """Copy the WAL's pages into the journal file without waiting for anyone (PASSIVE): what
        the projector does after each group, so that the workers' commits need not."""
        self._conn().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    # --- the rate limit's buckets on SQLite (serving/ratelimit.py) ---

    def take_token(self, project_id: int, burst: float, rate: float) -> float | None:
        """Take one token from the project's bucket: None when taken, else the tokens left.
        On a connection that does not fsync: a crash may forget a second of counting."""
        conn = self._counters()
        now = time.time()
        with _immediate(conn):
            row = conn.execute("SELECT tokens, updated_at FROM rate_buckets WHERE project_id = ?", (project_id,))
            found = row.fetchone()
            tokens = burst if found is None else min(burst, found[0] + (now - found[1]) * rate)
            taken = tokens >= 1
            conn.execute(
                "INSERT OR REPLACE INTO rate_buckets VALUES (?, ?, ?)",
                (project_id, tokens - 1 if taken else tokens, now),
            )
        return None if taken else min(tokens, 0.999)

    # --- positions (reads waiting for their writes, metrics) ---

    def acknowledged(self) -> int:
        """The last seq appended: everything acknowledged so far is at or before it."""
        row = self._conn().execute("SELECT seq FROM tally WHERE name = 'appended'").fetchone()
        return int(row[0])

    def projected(self) -> int:
        """The last seq the projector applied (and said so here)."""
        return int(self._projected_row()[0])

    def positions(self) -> tuple[int, int]:
        """(the last seq appended, the last seq projected): appended read first, so that a
        reader waiting for the first never takes an older projection for it."""
        return self.acknowledged(), self.projected()

    def depth(self) -> Depth:
        conn = self._conn()
        appended = conn.execute("SELECT seq, items, bytes FROM tally WHERE name = 'appended'").fetchone()
        projected = self._projected_row()
        projected_at = projected[3]
        oldest = conn.execute(
            "SELECT received_at FROM entries WHERE seq > ? ORDER BY seq LIMIT 1", (projected[0],)
        ).fetchone()
        return Depth(
            acknowledged=appended[0],
            projected=projected[0],
            items=max(appended[1] - projected[1], 0),
            bytes=max(appended[2] - projected[2], 0),
            lag_seconds=max(time.time() - oldest[0], 0.0) if oldest else 0.0,
            rate=projected[4] if time.time() - projected_at < RATE_FRESH_SECONDS else 0.0,
        )

    # --- projecting (the projector) ---

    def read(self, after: int, max_items: int) -> list[Entry]:
        """Entries after seq `after`, in order, up to about `max_items` items (at least one entry)."""
        taken: list[Entry] = []
        items = 0
        cursor = self._conn().execute(
            "SELECT seq, project_id, received_at, items, body FROM entries WHERE seq > ? ORDER BY seq", (after,)
        )
        for row in cursor:
            taken.append(Entry(*row))
            items += row[3]
            if items >= max_items:
                break
        cursor.close()
        return taken

    def projected_through(self, position: int, rate: float = 0.0) -> None:
        """Say that every entry through seq `position` is applied (the store says so: its
        `journal_positions`); the next append deletes them. Idempotent. The tally adds what the
        entries since the last call held; with no mirror (a first start, the file lost) it is
        the appended tally less what the entries after `position` hold, read in one snapshot."""
        before, items, size = self._projected_row()[:3]
        if before >= position:
            return
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            if before > 0:
                more_items, more_bytes = conn.execute(
                    "SELECT coalesce(sum(items), 0), coalesce(sum(bytes), 0) FROM entries WHERE seq > ? AND seq <= ?",
                    (before, position),
                ).fetchone()
                items, size = items + more_items, size + more_bytes
            else:
                appended_items, appended_bytes = conn.execute(
                    "SELECT items, bytes FROM tally WHERE name = 'appended'"
                ).fetchone()
                later_items, later_bytes = conn.execute(
                    "SELECT coalesce(sum(items), 0), coalesce(sum(bytes), 0) FROM entries WHERE seq > ?", (position,)
                ).fetchone()
                items, size = appended_items - later_items, appended_bytes - later_bytes
        finally:
            conn.execute("COMMIT")
        self._counters().execute(
            "INSERT OR REPLACE INTO projected VALUES (?, ?, ?, ?, ?, ?)",
            (self.journal_id, position, items, size, time.time(), rate),
        )


class _immediate:
    """A write transaction opened with BEGIN IMMEDIATE (writers queue on the busy timeout
    rather than failing half way), committed on success, rolled back otherwise."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind: object, _value: object, _traceback: object) -> None:
        if kind is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


class _FileLock:
    """An exclusive lock on a file beside the journal, held around a write transaction: the
    processes writing the journal queue on it and the next one starts the moment the lock is
    released (SQLite's own busy handler sleeps 1, 2, 5, 10... ms between tries instead)."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def __enter__(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *_: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
