"""The one statement on the hot path, written straight through the driver.

Events are most of what arrives. SQLAlchemy's per-row parameter processing (JSON and datetime
bind processors) cost more than SQLite's own insert, so events go to the driver as plain
tuples, formatted the way SQLAlchemy would store them: an executemany on SQLite, a COPY on
PostgreSQL. The same rows are read back by the same SQLAlchemy types (tests/test_schema.py
and every read test hold this to account).

`EventWriter` takes a run's events as the run's walk finds them (store/write/run.py). On
PostgreSQL each goes into a COPY open for the walk, so PostgreSQL inserts the first events
while the projector finds the next: inserting them was a third of a group's time, and the
projector waited for it idle (300,000 items in groups of 50,000, five interleaved runs of
bench/projector_cpu.py: 26,731-30,929 items/s with the COPY after the walk, 29,914-35,532
with it during; medians 29,131 and 34,637). On SQLite, whose insert is the projector's own
CPU either way, they are inserted when the walk ends.

On SQLite no NULL is bound where it can be helped: Python's sqlite3 binds a None through its
adapter lookup (an AttributeError raised and cleared), 0.4-0.6 µs each against 0.07 for an
int. An event names only the enrichment columns it has values for (`_shape`), and its
account_id and message_id, often absent, are bound as '' and turned into NULL by the
statement (NULLIF: no id is '' and no messageId is empty, domain/messages.py). 21 NULLs bound:
9.9-12.8 µs a row; the same through NULLIF: 2.1.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import groupby
from typing import Any

import orjson
from sqlalchemy import Connection

from salesmachine_server.domain.enrichment import VERSION
from salesmachine_server.domain.messages import PAGEVIEW, Message
from salesmachine_server.store.db.dialect import Dialect, sqlite_time_text

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


# Bound as '' for NULL on SQLite (see above).
_BLANK_FOR_NULL = ("account_id", "message_id")


def _insert(columns: tuple[str, ...]) -> str:
    values = ", ".join("NULLIF(?, '')" if column in _BLANK_FOR_NULL else "?" for column in columns)
    return f"INSERT INTO events ({', '.join(columns)}) VALUES ({values})"


# An event's shape on SQLite (`_shape`): which of the enrichment columns its statement names.
NOT_ENRICHED, NOTHING_FOUND, ENRICHED = 0, 1, 2
_SQLITE = {
    NOT_ENRICHED: _insert(COLUMNS),
    NOTHING_FOUND: _insert((*COLUMNS, "enrichment")),
    ENRICHED: _insert(_ALL),
}
# PostgreSQL takes the rows by COPY: one statement, one round trip, and each row formatted by
# psycopg's C code (an INSERT over one array per column spent as long dumping the arrays in
# Python as PostgreSQL spent inserting; bench/results/tuning.md). In binary format: the text
# format spelled out each row's numbers and times, 2.9 µs a row in the projector against 1.2
# (150,000 events: its CPU 0.57-0.62 s against 0.28-0.35; PostgreSQL's the same either way).
_POSTGRES_COPY = f"COPY events ({', '.join(_ALL)}) FROM STDIN (FORMAT BINARY)"
# The type each column of `_ALL` is sent as. The binary format has no conversions: each must
# be the column's own. Times are naive UTC, as the journal holds them (timestamp, not
# timestamptz), and params go as the bytes of jsonb's binary form (`_postgres_row`).
_POSTGRES_TYPES = (
    *("int8", "int8", "int8", "text", "text", "bytea", "timestamp", "timestamp", "text"),
    *("text", "text", "text", "text", "float8", "float8", "text", "text", "text", "text", "text", "int4"),
)
_JSONB_VERSION = b"\x01"  # the first byte of jsonb's binary form, before the JSON text


class EventWriter:
    """A run's events, written in the order `add` is called, all of them by the end of the
    `with` block; `rows` keeps them for what follows the run (trigger_inbox.py). No other
    statement may run on the connection inside the block (on PostgreSQL it holds a COPY)."""

    def __init__(self, conn: Connection, project_id: int, rows: list[EventRow]) -> None:
        self.db = Dialect(conn)
        self.project_id = project_id
        self.rows = rows
        # The COPY, once the first event opened it (PostgreSQL).
        self._opened: list[contextlib.AbstractContextManager[Callable[[tuple[Any, ...]], None]]] = []
        # Called once per event: on SQLite the list's own append, no Python frame.
        self.add: Callable[[EventRow], None] = rows.append

    def __enter__(self) -> EventWriter:
        if self.db.postgres:
            append, project_id, db = self.rows.append, self.project_id, self.db
            opened = self._opened
            write: Callable[[tuple[Any, ...]], None] | None = None

            # `add` holds what it needs, not the writer: the writer holds `add`, and a cycle
            # between them kept every event row of a group (and its message) alive until the
            # cyclic collector ran, seconds later under load, the projector's memory growing
            # with it (27,000 objects a group of 30,000 items).
            def add(row: EventRow) -> None:
                nonlocal write
                if write is None:  # the first event: a run without any sends no COPY
                    copying = db.copying(_POSTGRES_COPY, _POSTGRES_TYPES)
                    write = copying.__enter__()
                    opened.append(copying)
                append(row)
                write(_postgres_row(project_id, row))

            self.add = add
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._opened:
            self._opened.pop().__exit__(*exc_info)  # the COPY ended, or aborted on an exception
        elif exc_info[0] is None and not self.db.postgres:
            for sql, tuples in _sqlite_runs(self.project_id, self.rows):
                self.db.execute(sql, tuples, many=True)


def _sqlite_runs(project_id: int, rows: list[EventRow]) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """The rows as consecutive runs of one shape, each with its statement: the events keep the
    order they came in (their ids), and a stream of one kind is one statement."""
    for shape, run in groupby(rows, key=_shape):
        if shape == ENRICHED:
            yield _SQLITE[shape], [_sqlite_row(project_id, row) for row in run]
        elif shape == NOTHING_FOUND:
            yield _SQLITE[shape], [(*_sqlite_columns(project_id, row), VERSION) for row in run]
        else:
            yield _SQLITE[shape], [_sqlite_columns(project_id, row) for row in run]


def _shape(row: EventRow) -> int:
    """Which enrichment columns an event's statement names on SQLite: none (not enriched),
    the version alone (enriched, nothing found: no address, no agent), or all of them.
    Measured on 180,000 events in groups of 18,000 with the table's indexes, CPU per row:
    all 21 columns 19.1-21.6 µs, the ten of NOTHING_FOUND 12.6-13.1."""
    enrichment = row[2].enrichment
    if enrichment is None:
        return NOT_ENRICHED
    if enrichment.location is None and enrichment.agent is None:
        return NOTHING_FOUND
    return ENRICHED


def _postgres_row(project_id: int, row: EventRow) -> tuple[Any, ...]:
    """The binary COPY's tuple of an event, every column (`_ALL`, sent as `_POSTGRES_TYPES`)."""
    contact_id, account_id, m, received_at = row
    enrichment = m.enrichment
    return (
        project_id,
        contact_id,
        account_id,
        m.event_name,
        "pageview" if m.event_name == PAGEVIEW else "event",
        _JSONB_VERSION + orjson.dumps(m.params),
        m.occurred_at,
        received_at,
        m.message_id,
        *(_NOT_ENRICHED if enrichment is None else enrichment.columns()),
    )


def _sqlite_row(project_id: int, row: EventRow) -> tuple[Any, ...]:
    """The executemany's tuple of an event that names every column (`_ALL`)."""
    enrichment = row[2].enrichment
    assert enrichment is not None
    return (*_sqlite_columns(project_id, row), *enrichment.columns())


def _sqlite_columns(project_id: int, row: EventRow) -> tuple[Any, ...]:
    """The values of `COLUMNS`, an event's own, as SQLite takes them: its times in
    SQLAlchemy's text format, and '' for an account_id or message_id that is None."""
    contact_id, account_id, m, received_at = row
    assert m.occurred_at is not None
    return (
        project_id,
        contact_id,
        "" if account_id is None else account_id,
        m.event_name,
        "pageview" if m.event_name == PAGEVIEW else "event",
        orjson.dumps(m.params).decode(),
        sqlite_time_text(m.occurred_at),
        sqlite_time_text(received_at),
        "" if m.message_id is None else m.message_id,
    )
