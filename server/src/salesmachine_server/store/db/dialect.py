"""What differs between SQLite and PostgreSQL on the write path, in one place: placeholders and
value formats, insert ignoring conflicts, upserts adding a count, row locks, key lookups.

Statements go to the driver's own cursor, as plain SQL strings and plain tuples: the writer
thread is CPU-bound, and SQLAlchemy's compilation of multi-row VALUES and expanded IN lists, its
bind processors (on SQLite DATETIME's formatting alone was 10% of the writer) and its execution
context per statement cost as much as the database's own work (bench/results/tuning.md). The
values are stored in the forms SQLAlchemy itself would store (`Dialect.time`, `Dialect.json`),
so every read through SQLAlchemy's types is unchanged.

The bulk forms: on SQLite an executemany (a loop in C, no round trips); on PostgreSQL one
statement over one array per column, unnested (an executemany there is a bind and execute per
row on the server, and the writer waited on it: `many`).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, NoReturn, TypeVar

import orjson
from sqlalchemy import Connection, String, Table
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")
# SQLite binds at most 32,766 parameters per statement; a few thousand per statement costs
# nothing on PostgreSQL either.
CHUNK = 500

# SQLAlchemy's SQLite storage format for DateTime (2024-01-31 12:00:00.000000), called as the
# C method itself: a Python function around it cost a third of the formatting, five times per
# item of a batch (event times, first and last seen).
sqlite_time = functools.partial(datetime.isoformat, sep=" ", timespec="microseconds")


class _Texts(dict[Any, str]):
    """A formatter's texts, remembered: the items of a group share a handful of times and days
    (a request's items that carry no time of their own all have its time), and formatting a
    time cost 1.1 µs against 0.05 for a lookup. Emptied when it holds `LIMIT` texts."""

    LIMIT = 100_000

    def __init__(self, format: Callable[[Any], str]) -> None:
        super().__init__()
        self.format = format

    def __missing__(self, value: Any) -> str:
        if len(self) >= self.LIMIT:
            self.clear()
        text = self[value] = self.format(value)
        return text


# sqlite_time and date.isoformat, each through its remembered texts (one writer per process).
sqlite_time_text = _Texts(sqlite_time).__getitem__
sqlite_day_text = _Texts(date.isoformat).__getitem__


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """`values` in slices small enough to bind in one statement on either engine."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


# What compiles a column's type to PostgreSQL's name for it (SQLAlchemy's dialects are untyped).
_POSTGRESQL = PGDialect()  # type: ignore[no-untyped-call]


def unnest(table: Table, columns: Sequence[str]) -> str:
    """`unnest(%s::T[], ...) AS v(column, ...)`: PostgreSQL rows from one array per column, of
    the column's own type (strings as text, so that a value too long for a varchar column fails
    on insert as it did, rather than being cut by the cast)."""
    dialect = _POSTGRESQL
    types = [
        "TEXT" if isinstance(table.c[c].type, String) else table.c[c].type.compile(dialect=dialect) for c in columns
    ]
    return f"unnest({', '.join(f'%s::{t}[]' for t in types)}) AS v({', '.join(columns)})"


def _c_bytea_dumper(cursor: Any) -> None:
    """Make bytes sent as bytea in a binary COPY go through psycopg's C dumper. `set_types`
    takes the dumper registered last for the type, and for bytea that is the Python one that
    psycopg's DB-API module registers for its `Binary` wrapper: a Python call per row (a COPY
    of 150,000 rows with a jsonb column: 0.87-1.22 µs of the client's CPU a row, against
    0.37-0.62 with this). On the cursor's own adapters: nothing else of the connection changes."""
    from psycopg.adapt import PyFormat

    cursor.adapters.register_dumper(bytes, cursor.adapters.get_dumper(bytes, PyFormat.BINARY))


def array_literal(values: Sequence[Any]) -> Any:
    """One column's values as PostgreSQL's text form of an array (`{1,NULL,"a b"}`), for a
    statement that casts it (`%s::BIGINT[]`, `unnest`): psycopg dumps a list element by element
    in Python, quoting each string through regular expressions, which cost the projector more
    than PostgreSQL spent on the statement. Integers, strings (JSON too), times and days; a
    column of anything else is left to psycopg, as a list. Each column is a row per contact of
    a group, so the common case, no NULL, is joined in C: times and days need no quotes (ISO
    8601 has no blank, comma, brace, quote or backslash), and a column of days is mostly one
    day, its text remembered (10,000 values: times 995 -> 640 ns each, days 554 -> 49)."""
    sample = next((value for value in values if value is not None), None)
    if sample is None or isinstance(sample, bool):
        return list(values)
    kind = type(sample)
    if kind not in _LITERAL or getattr(sample, "tzinfo", None) is not None:  # times are naive UTC
        return list(values)
    types = set(map(type, values))
    if types == {kind}:
        return "{" + ",".join(map(_LITERAL[kind], values)) + "}"
    if types != {kind, type(None)}:
        return list(values)
    text = _LITERAL[kind]
    return "{" + ",".join(["NULL" if value is None else text(value) for value in values]) + "}"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# An element's text in an array literal, by the value's type.
_LITERAL: dict[type, Callable[[Any], str]] = {
    int: str,
    str: _quoted,
    datetime: datetime.isoformat,
    date: _Texts(date.isoformat).__getitem__,
}


def _same(value: Any) -> Any:
    return value


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()  # the engines' json_serializer (engine.py)


class Dialect:
    """The statements of one connection, in its engine's SQL, run in its transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.p = "%s" if self.postgres else "?"
        # psycopg adapts datetime and date itself; SQLite stores SQLAlchemy's text formats.
        self.time = _same if self.postgres else sqlite_time_text
        self.day = _same if self.postgres else sqlite_day_text
        self.json = _json

    def time_or_none(self, value: datetime | None) -> Any:
        return None if value is None else self.time(value)

    # -- the shapes of the write path ------------------------------------------------------

    def insert(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        returning: str | None = None,
    ) -> list[Any]:
        """INSERT of `rows` (tuples in the order of `columns`); the `returning` columns of the
        rows inserted."""
        return self._insert(table, columns, rows, "", returning)

    def insert_ignoring(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        conflict: Sequence[str],
        returning: str | None = None,
    ) -> list[Any]:
        """INSERT of `rows` except those whose `conflict` key is stored (or sent twice: the
        first is kept); the `returning` columns of the rows inserted. On PostgreSQL it waits
        for a concurrent transaction inserting the same key, so of two processes creating one
        key, one inserts and the other learns that it did not."""
        return self._insert(table, columns, rows, f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING", returning)

    def upsert_adding(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        key: Sequence[str],
        counter: str,
        returning: str | None = None,
    ) -> list[Any]:
        """INSERT of `rows`, or, for a row whose `key` is stored, its `counter` added to the
        stored one. A key must not come twice in `rows` (PostgreSQL refuses it). `returning`
        (PostgreSQL only: SQLite's executemany returns no rows): those columns of every row
        as stored after the statement."""
        if not rows:
            return []
        head = f"INSERT INTO {table.name} ({', '.join(columns)}) "
        tail = f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {counter} = {table.name}.{counter} + excluded.{counter}"
        if self.postgres:
            tail += f" RETURNING {returning}" if returning else ""
            return self._over_arrays(head + f"SELECT * FROM {unnest(table, columns)}" + tail, rows, returning)
        if returning:
            raise ValueError("SQLite's executemany returns no rows")
        self.execute(head + "VALUES (" + ", ".join("?" * len(columns)) + ")" + tail, rows, many=True)
        return []

    def lock(self, table: Table, ids: Sequence[int]) -> set[int]:
        """Lock rows `FOR UPDATE`, in id order (two writers locking the same rows cannot
        deadlock); the ids that still exist. SQLite has one writer: nothing to lock."""
        if not self.postgres:
            return set(ids)
        if not ids:
            return set()
        # The ids as array_literal's text: psycopg dumping a list of 30,000 cost more than the lock.
        found = self.fetch(
            f"SELECT id FROM {table.name} WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE",
            (array_literal(sorted(ids)),),
        )
        return {row_id for (row_id,) in found}

    def lookup(self, table: Table, key: str, value: str, project_id: int, keys: Sequence[str]) -> list[Any]:
        """(key, value) of the rows of a project whose `key` is one of `keys`."""
        if self.postgres:
            # Joined to the array rather than `key = ANY(array)` or an IN list: psycopg prepares a
            # statement run often, and PostgreSQL's generic plan for those used the index on
            # project_id alone and compared every key of the project with every value sent (137 ms
            # for 500 uids among 10,000 contacts, against 2.6 ms for this join).
            return self.fetch(
                f"SELECT t.{key}, t.{value} FROM unnest(%s::text[]) AS v(k) "
                f"JOIN {table.name} AS t ON t.project_id = %s AND t.{key} = v.k",
                (array_literal(keys), project_id),
            )
        rows: list[Any] = []
        for part in chunks(keys):
            marks = ", ".join("?" * len(part))
            rows += self.fetch(
                f"SELECT {key}, {value} FROM {table.name} WHERE project_id = ? AND {key} IN ({marks})",
                (project_id, *part),
            )
        return rows

    def many(self, sqlite_sql: str, postgres_sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """One statement over all rows: on SQLite `sqlite_sql` once per tuple (its ?1 is the
        tuple's first value); on PostgreSQL `postgres_sql` once, its %s taking one array per
        column, in the order of the tuples' values (`unnest`)."""
        if not rows:
            return
        if self.postgres:
            self._over_arrays(postgres_sql, rows, None)
        else:
            self.execute(sqlite_sql, rows, many=True)

    # -- running ---------------------------------------------------------------------------

    def execute(self, sql: str, parameters: Any, many: bool = False) -> None:
        """Run a statement (`many`: once per tuple of `parameters`) in the connection's transaction."""
        self._run(sql, parameters, many, fetch=False)

    def fetch(self, sql: str, parameters: Any) -> list[Any]:
        """The rows of a statement."""
        return self._run(sql, parameters, many=False, fetch=True)

    @contextlib.contextmanager
    def copying(self, sql: str, types: Sequence[str] = ()) -> Iterator[Callable[[tuple[Any, ...]], None]]:
        """PostgreSQL's COPY ... FROM STDIN, open for the block, in the connection's transaction:
        what it yields writes a row, sent as the driver's buffer fills, so PostgreSQL inserts
        the first rows while the block finds the next. No other statement may run on the
        connection until the block ends; an exception in it aborts the COPY and is raised.
        A COPY in binary format names the PostgreSQL type each column is sent as (`types`)."""
        with self._cursor(sql, ()) as cursor, cursor.copy(sql) as copy:
            if types:
                _c_bytea_dumper(cursor)
                copy.set_types(list(types))
            yield copy.write_row

    def _insert(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        on_conflict: str,
        returning: str | None,
    ) -> list[Any]:
        if not rows:
            return []
        head = f"INSERT INTO {table.name} ({', '.join(columns)}) "
        tail = on_conflict + (f" RETURNING {returning}" if returning else "")
        if self.postgres:
            return self._over_arrays(head + f"SELECT * FROM {unnest(table, columns)}" + tail, rows, returning)
        one = "(" + ", ".join("?" * len(columns)) + ")"
        if returning is None:
            self.execute(head + "VALUES " + one + tail, rows, many=True)
            return []
        found: list[Any] = []  # SQLite's executemany cannot return rows: multi-row VALUES
        for part in chunks(rows, CHUNK // 2):
            found += self.fetch(
                head + "VALUES " + ", ".join([one] * len(part)) + tail, tuple(v for row in part for v in row)
            )
        return found

    def _over_arrays(self, sql: str, rows: Sequence[tuple[Any, ...]], returning: str | None) -> list[Any]:
        arrays = tuple(array_literal(column) for column in zip(*rows))
        if returning is None:
            self.execute(sql, arrays)
            return []
        return self.fetch(sql, arrays)

    def _run(self, sql: str, parameters: Any, many: bool, fetch: bool) -> list[Any]:
        with self._cursor(sql, parameters) as cursor:
            if many:
                cursor.executemany(sql, parameters)
            else:
                cursor.execute(sql, parameters)
            return cursor.fetchall() if fetch else []

    @contextlib.contextmanager
    def _cursor(self, sql: str, parameters: Any) -> Iterator[Any]:
        """A cursor of the driver's connection (in its transaction), closed after use; a driver
        error raised in the block comes out as SQLAlchemy's, as `exec_driver_sql` would raise
        it, so the group commit tells an unreachable store from a bad write."""
        raw = self.conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            yield cursor
        except self.conn.dialect.loaded_dbapi.Error as exc:
            self._raise_as_sqlalchemy(exc, sql, parameters, cursor)
        finally:
            cursor.close()

    def _raise_as_sqlalchemy(self, exc: Any, sql: str, parameters: Any, cursor: Any) -> NoReturn:
        """SQLAlchemy's exception for a driver error (OperationalError, IntegrityError, ...),
        the connection invalidated when the error means it is lost, as `exec_driver_sql` does."""
        dialect = self.conn.dialect
        lost = dialect.is_disconnect(exc, self.conn.connection.dbapi_connection, cursor)
        if lost:
            self.conn.invalidate(exc)
        raise DBAPIError.instance(
            sql, parameters, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
        ) from exc
