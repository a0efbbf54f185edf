"""The one statement on the hot path, written straight through the driver.

Events are most of what arrives. SQLAlchemy's per-row parameter processing (JSON and datetime
bind processors) cost more than SQLite's own insert, so events go to the driver as plain
tuples, formatted the way SQLAlchemy would store them: an executemany on SQLite, a COPY on
PostgreSQL. The same rows are read back by the same SQLAlchemy types (tests/test_schema.py
and every read test hold this to account).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection

from salesmachine_server.domain.messages import PAGEVIEW, Message
from salesmachine_server.store.db.dialect import Dialect, sqlite_time

# An event of a run (store/write/run.py): its contact id, its account id (None: no account),
# the message, and when it was received. A plain tuple: one is made per event written.
EventRow = tuple[int, int | None, Message, datetime]

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


def insert_events(conn: Connection, project_id: int, rows: list[EventRow]) -> None:
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        Dialect(conn).execute(_SQLITE, [_row(project_id, row, sqlite_time) for row in rows], many=True)
        return
    Dialect(conn).copy(_POSTGRES_COPY, [_row(project_id, row, _same) for row in rows])


def _row(project_id: int, row: EventRow, time: Callable[[datetime], Any]) -> tuple[Any, ...]:
    """The driver's tuple of an event: on SQLite its times in SQLAlchemy's text format."""
    contact_id, account_id, m, received_at = row
    enrichment = m.enrichment
    assert m.occurred_at is not None
    return (
        project_id,
        contact_id,
        account_id,
        m.event_name,
        "pageview" if m.event_name == PAGEVIEW else "event",
        orjson.dumps(m.params).decode(),
        time(m.occurred_at),
        time(received_at),
        m.message_id,
        *(_NOT_ENRICHED if enrichment is None else enrichment.columns()),
    )


def _same(value: datetime) -> datetime:
    return value
