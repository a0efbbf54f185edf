"""Engines for the two supported databases, configured so both behave the same.

SQLite: WAL journal (readers never block the writer), `synchronous=FULL` (a commit is on disk
before we answer 201), a busy timeout so a CLI command and the server can share the file, and
write transactions opened with BEGIN IMMEDIATE so that two writers queue instead of failing
with "database is locked" half way through.

PostgreSQL: psycopg 3; `postgresql://` URLs are accepted as users write them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def _json_dumps(value: object) -> str:
    return orjson.dumps(value).decode()


@dataclass(frozen=True)
class Engines:
    """One engine for the writer, one for readers (the same one on PostgreSQL)."""

    writer: Engine
    reader: Engine
    dialect: str

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def normalise_url(url: str) -> str:
    """Map the URL forms users write onto SQLAlchemy driver URLs."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:") and not url.startswith("sqlite:///"):
        raise ValueError(f"an SQLite URL is sqlite:///relative/path or sqlite:////absolute/path, got {url!r}")
    return url


def open_engines(url: str) -> Engines:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _open_sqlite(url, parsed.database)
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(
            url,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
            connect_args={"connect_timeout": 5},
        )
        return Engines(writer=engine, reader=engine, dialect="postgresql")
    raise ValueError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://")


# The writer's page cache (SQLite's default is 2 MiB). The projector's inserts land on a page
# per contact of each events index; once those pages outgrow the cache, every insert reads one
# back from the file, and an event's insert cost 13 -> 18 µs as the table grew to 1.6 M rows
# (11 -> 13 with this cache). Filled only as pages are used; one writer connection per process.
WRITER_CACHE_KIB = 64 * 1024


def _open_sqlite(url: str, database: str | None) -> Engines:
    if not database or database == ":memory:":
        raise ValueError("SQLite needs a file: an in-memory database would be lost at exit")
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    writer = _sqlite_engine(url, begin="BEGIN IMMEDIATE", pool_size=1, cache_kib=WRITER_CACHE_KIB)
    reader = _sqlite_engine(url, begin="BEGIN", pool_size=8)
    return Engines(writer=writer, reader=reader, dialect="sqlite")


def _sqlite_engine(url: str, begin: str, pool_size: int, cache_kib: int = 0) -> Engine:
    engine = create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        pool_size=pool_size,
        max_overflow=0,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let us emit BEGIN ourselves (pysqlite's implicit transactions are deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if cache_kib:
            cursor.execute(f"PRAGMA cache_size=-{cache_kib}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql(begin)

    return engine
