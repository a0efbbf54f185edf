"""The one statement on the hot path, written straight through the driver.

Events are most of what arrives. SQLAlchemy's per-row parameter processing (JSON and datetime
bind processors) cost more than SQLite's own insert, so events go to the driver's executemany
as plain tuples, formatted the way SQLAlchemy would store them: the same rows, read back by
the same SQLAlchemy types (tests/test_schema.py and every read test hold this to account).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection

COLUMNS = ("project_id", "contact_id", "account_id", "name", "kind", "params", "occurred_at", "received_at",
           "message_id")
_SQLITE = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_POSTGRES = (f"INSERT INTO events ({', '.join(COLUMNS)}) "
             "VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s)")


def sqlite_time(value: datetime) -> str:
    """SQLAlchemy's SQLite storage format for DateTime: 2024-01-31 12:00:00.000000."""
    return value.isoformat(" ", "microseconds")


def insert_events(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_SQLITE, [
            (r["project_id"], r["contact_id"], r["account_id"], r["name"], r["kind"], orjson.dumps(r["params"]).decode(),
             sqlite_time(r["occurred_at"]), sqlite_time(r["received_at"]), r["message_id"])
            for r in rows
        ])
        return
    conn.exec_driver_sql(_POSTGRES, [
        (r["project_id"], r["contact_id"], r["account_id"], r["name"], r["kind"], orjson.dumps(r["params"]).decode(),
         r["occurred_at"], r["received_at"], r["message_id"])
        for r in rows
    ])
