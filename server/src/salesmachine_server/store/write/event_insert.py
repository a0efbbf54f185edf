"""The one statement on the hot path, written straight through the driver.

Events are most of what arrives. SQLAlchemy's per-row parameter processing (JSON and datetime
bind processors) cost more than SQLite's own insert, so events go to the driver as plain
tuples, formatted the way SQLAlchemy would store them: an executemany on SQLite, a COPY on
PostgreSQL. The same rows are read back by the same SQLAlchemy types (tests/test_schema.py
and every read test hold this to account).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection

from salesmachine_server.store.db.dialect import Dialect, sqlite_time

COLUMNS = (
    "project_id",
    "contact_id",
    "account_id",
    "name",
    "kind",
    "params",
    "occurred_at",
    "received_at",
    "message_id",
)
# Filled by enrich/events.py (Enrichment.columns); all NULL for an event not enriched.
ENRICHMENT_COLUMNS = (
    "ip_scope",
    "country",
    "region",
    "city",
    "latitude",
    "longitude",
    "browser",
    "browser_version",
    "os",
    "os_version",
    "device",
    "enrichment",
)
_NOT_ENRICHED = (None,) * len(ENRICHMENT_COLUMNS)
_ALL = COLUMNS + ENRICHMENT_COLUMNS
_SQLITE = f"INSERT INTO events ({', '.join(_ALL)}) VALUES ({', '.join('?' * len(_ALL))})"
# PostgreSQL takes the rows by COPY: one statement, one round trip, and each row formatted by
# psycopg's C code (an INSERT over one array per column spent as long dumping the arrays in
# Python as PostgreSQL spent inserting; bench/results/tuning.md).
_POSTGRES_COPY = f"COPY events ({', '.join(_ALL)}) FROM STDIN"


def _enrichment(row: dict[str, Any]) -> tuple[Any, ...]:
    enrichment = row.get("enrichment")
    return _NOT_ENRICHED if enrichment is None else enrichment.columns()


def insert_events(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        Dialect(conn).execute(
            _SQLITE,
            [
                (
                    r["project_id"],
                    r["contact_id"],
                    r["account_id"],
                    r["name"],
                    r["kind"],
                    orjson.dumps(r["params"]).decode(),
                    sqlite_time(r["occurred_at"]),
                    sqlite_time(r["received_at"]),
                    r["message_id"],
                    *_enrichment(r),
                )
                for r in rows
            ],
            many=True,
        )
        return
    Dialect(conn).copy(
        _POSTGRES_COPY,
        [
            (
                r["project_id"],
                r["contact_id"],
                r["account_id"],
                r["name"],
                r["kind"],
                orjson.dumps(r["params"]).decode(),
                r["occurred_at"],
                r["received_at"],
                r["message_id"],
                *_enrichment(r),
            )
            for r in rows
        ],
    )
