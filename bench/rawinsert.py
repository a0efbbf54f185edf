"""The raw-insert limit: the benchmark's items written straight into the `events` table through
the database driver, in transactions of N rows, without HTTP, decoding, validation or identity
resolution: the most the store can take.

Every item becomes one `events` row (contact and account updates too, with their params), so
rows/s here and items/s through the server count the same thing. The scratch database has the
server's schema (`salesmachine migrate`), its indexes and foreign keys, and the same
durability as the server: SQLite in WAL with synchronous=FULL, PostgreSQL with its defaults
(synchronous_commit on). SQLite uses executemany; PostgreSQL uses COPY.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import orjson

from harness import create_project
from workload import ACCOUNTS, CONTACTS

COLUMNS = ("project_id", "contact_id", "account_id", "name", "kind", "params", "occurred_at", "received_at",
           "message_id")


def rows_of(batches: list[list[dict[str, Any]]], project_id: int) -> list[tuple[Any, ...]]:
    """Every item as an events row (contact cN has id N+1, account aN has id N+1)."""
    now = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")
    rows = []
    for batch in batches:
        for item in batch:
            params = item.get("params", {})
            if item["method"] == "account":
                contact_id = 1 + int(item["account_uid"][1:]) % CONTACTS
                account = item["account_uid"]
            else:
                contact_id = 1 + int(item["contact_uid"][1:])
                account = params.get("account_uid", f"a{(contact_id - 1) % ACCOUNTS}")
            name = item.get("event_uid", item["method"])
            kind = "pageview" if item["method"] == "pageview" else "event"
            rows.append((project_id, contact_id, 1 + int(account[1:]), name, kind, orjson.dumps(params).decode(),
                         now, now, None))
    return rows


def _seed_sqlite(conn: Any, project_id: int) -> None:
    now = datetime(2026, 1, 1).isoformat(" ", "microseconds")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO contacts (id, project_id, contact_uid, params, first_seen_at, updated_at) "
                     "VALUES (?, ?, ?, '{}', ?, ?)", [(i + 1, project_id, f"c{i}", now, now) for i in range(CONTACTS)])
    conn.executemany("INSERT INTO accounts (id, project_id, account_uid, params, first_seen_at, updated_at) "
                     "VALUES (?, ?, ?, '{}', ?, ?)", [(i + 1, project_id, f"a{i}", now, now) for i in range(ACCOUNTS)])
    conn.execute("COMMIT")


def sqlite_raw(url: str, rows: list[tuple[Any, ...]], per_transaction: int, seconds: float,
               starting: Callable[[], None]) -> dict[str, Any]:
    import sqlite3

    project = create_project(url, "raw")
    path = url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    _seed_sqlite(conn, project["id"])
    rows = [(project["id"], *r[1:]) for r in rows]
    statement = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    starting()
    written, start, position = 0, time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        chunk = rows[position : position + per_transaction]
        position = (position + per_transaction) % (len(rows) - per_transaction)
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(statement, chunk)
        conn.execute("COMMIT")
        written += len(chunk)
    elapsed = time.perf_counter() - start
    conn.close()
    return {"rows": written, "seconds": elapsed, "rows_per_second": written / elapsed,
            "how": f"sqlite3 executemany, {per_transaction} rows per transaction, WAL, synchronous=FULL"}


def postgres_raw(url: str, rows: list[tuple[Any, ...]], per_transaction: int, seconds: float,
                 starting: Callable[[], None]) -> dict[str, Any]:
    import psycopg

    project = create_project(url, "raw")
    rows = [(project["id"], *r[1:]) for r in rows]
    now = datetime(2026, 1, 1)
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO contacts (id, project_id, contact_uid, params, first_seen_at, updated_at) "
                            "VALUES (%s, %s, %s, '{}', %s, %s)",
                            [(i + 1, project["id"], f"c{i}", now, now) for i in range(CONTACTS)])
            cur.executemany("INSERT INTO accounts (id, project_id, account_uid, params, first_seen_at, updated_at) "
                            "VALUES (%s, %s, %s, '{}', %s, %s)",
                            [(i + 1, project["id"], f"a{i}", now, now) for i in range(ACCOUNTS)])
        conn.commit()
        copy_sql = f"COPY events ({', '.join(COLUMNS)}) FROM STDIN"
        starting()
        written, start, position = 0, time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            chunk = rows[position : position + per_transaction]
            position = (position + per_transaction) % (len(rows) - per_transaction)
            with conn.cursor() as cur, cur.copy(copy_sql) as copy:
                for row in chunk:
                    copy.write_row(row)
            conn.commit()
            written += len(chunk)
        elapsed = time.perf_counter() - start
    return {"rows": written, "seconds": elapsed, "rows_per_second": written / elapsed,
            "how": f"psycopg COPY, {per_transaction} rows per transaction, synchronous_commit on"}


def run(engine: str, url: str, rows: list[tuple[Any, ...]], per_transaction: int, seconds: float,
        starting: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Prepares the scratch database, calls `starting()`, then writes for `seconds`."""
    if engine == "sqlite":
        return sqlite_raw(url, rows, per_transaction, seconds, starting)
    return postgres_raw(url, rows, per_transaction, seconds, starting)


if __name__ == "__main__":  # a quick look: python bench/rawinsert.py
    import harness
    from workload import write_batches

    harness.CACHE.mkdir(exist_ok=True)
    sample = rows_of(write_batches(harness.CACHE / "raw-sample.ndjson", 200), 1)
    print(run("sqlite", harness.fresh_sqlite("raw-sample"), sample, 1000, 3))
    Path(harness.CACHE / "raw-sample.ndjson").unlink()
