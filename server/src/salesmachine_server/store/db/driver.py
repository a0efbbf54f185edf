"""The writer's statements written straight through the database driver.

The writer thread is CPU-bound (bench/results/tuning.md): for each group commit SQLAlchemy
compiled multi-row VALUES of a few hundred rows, expanded IN lists, and ran a bind processor
on every value (on SQLite, DATETIME's strftime-like formatting was 10% of the writer alone).
Here the SQL is a plain string and the rows plain tuples in the form SQLAlchemy itself would
have stored (`Driver.time`, `Driver.json`), so every read through SQLAlchemy types is
unchanged (events, the most numerous rows, go through event_insert.py).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any, NoReturn

import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from salesmachine_server.store.db.bulk import CHUNK, chunks


# SQLAlchemy's SQLite storage format for DateTime (2024-01-31 12:00:00.000000), called as the
# C method itself: a Python function around it cost a third of the formatting, five times per
# item of a batch (event times, first and last seen).
sqlite_time = functools.partial(datetime.isoformat, sep=" ", timespec="microseconds")


def _same(value: Any) -> Any:
    return value


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()  # the engines' json_serializer (engine.py)


class Driver:
    """Statements for one connection, with its placeholders and value formats.

    They go to the driver's own cursor: SQLAlchemy's execution layer (events, result objects,
    the context per statement) cost about as much as SQLite's work for a group of single
    events. A driver error is raised as SQLAlchemy's, as `exec_driver_sql` would
    (`_raise_as_sqlalchemy`), so the writer tells an unreachable store from a bad write."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.p = "%s" if self.postgres else "?"
        # A JSON text bound on PostgreSQL is text: cast it to the column's jsonb.
        self.pj = "%s::jsonb" if self.postgres else "?"
        # psycopg adapts datetime and date itself; SQLite stores SQLAlchemy's text formats.
        self.time = _same if self.postgres else sqlite_time
        self.day = _same if self.postgres else date.isoformat
        self.json = _json

    def time_or_none(self, value: datetime | None) -> Any:
        return None if value is None else self.time(value)

    def many(self, sqlite_sql: str, postgres_sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """One statement over all rows. SQLite: executemany, a loop in C without round trips.
        PostgreSQL: executemany is a bind and execute per row on the server, whose per-statement
        work left the writer waiting most of the time; `postgres_sql` instead takes the rows
        as one array per column (its %s in the order of the tuples' values) and unnests them:
        one statement, one round trip."""
        if not rows:
            return
        if self.postgres:
            self.execute(postgres_sql, tuple(list(column) for column in zip(*rows)))
        else:
            self.execute(sqlite_sql, rows, many=True)

    def select_in(self, sql: str, fixed: tuple[Any, ...], values: Sequence[Any]) -> list[Any]:
        """Rows of `sql`, whose `{in}` is replaced by an IN list of `values` (in chunks) and
        `{p}` by a placeholder; `fixed` are the parameters before the list."""
        if self.postgres:  # one array parameter, whatever the number of values
            return self.fetch(sql.replace("IN ({in})", "= ANY(%s)").format(p="%s"), (*fixed, list(values)))
        rows: list[Any] = []
        for part in chunks(values):
            marks = ", ".join([self.p] * len(part))
            rows += self.fetch(sql.format(p=self.p, **{"in": marks}), (*fixed, *part))
        return rows

    def lookup(self, table: str, key: str, value: str, project_id: int, keys: Sequence[str]) -> list[Any]:
        """(key, value) of the rows of a project whose `key` is one of `keys`."""
        if self.postgres:
            # Joined to the array rather than `key = ANY(array)` or an IN list: psycopg prepares a
            # statement run often, and PostgreSQL's generic plan for those used the index on
            # project_id alone and compared every key of the project with every value sent (137 ms
            # for 500 uids among 10,000 contacts, against 2.6 ms for this join).
            return self.fetch(
                f"SELECT t.{key}, t.{value} FROM unnest(%s::text[]) AS v(k) "
                f"JOIN {table} AS t ON t.project_id = %s AND t.{key} = v.k", (list(keys), project_id))
        return self.select_in(f"SELECT {key}, {value} FROM {table} WHERE project_id = ? AND {key} IN ({{in}})",
                              (project_id,), keys)

    def insert(
        self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], conflict: Sequence[str] = (),
        returning: str | None = None, json_columns: Sequence[str] = (),
    ) -> list[Any]:
        """INSERT of `rows` (tuples in the order of `columns`), ON CONFLICT (`conflict`) DO
        NOTHING when given; the `returning` columns of the rows inserted. Without RETURNING,
        one executemany; with it, multi-row VALUES in chunks (SQLite's executemany cannot
        return rows)."""
        if not rows:
            return []
        one = "(" + ", ".join(self.pj if c in json_columns else self.p for c in columns) + ")"
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        tail = f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING" if conflict else ""
        if returning is None:
            self.execute(head + one + tail, rows, many=True)
            return []
        found: list[Any] = []
        for part in chunks(rows, CHUNK // 2):
            sql = head + ", ".join([one] * len(part)) + tail + f" RETURNING {returning}"
            found += self.fetch(sql, tuple(v for row in part for v in row))
        return found

    def execute(self, sql: str, parameters: Any, many: bool = False) -> None:
        """Run a statement (`many`: once per tuple of `parameters`) in the connection's transaction."""
        self._run(sql, parameters, many, fetch=False)

    def fetch(self, sql: str, parameters: Any) -> list[Any]:
        """The rows of a statement."""
        return self._run(sql, parameters, many=False, fetch=True)

    def copy(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """PostgreSQL's COPY ... FROM STDIN of `rows`, in the connection's transaction."""
        with self._cursor(sql, ()) as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)

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
        error raised in the block comes out as SQLAlchemy's."""
        raw = self.conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            yield cursor
        except self.conn.dialect.loaded_dbapi.Error as exc:
            self._raise_as_sqlalchemy(exc, sql, parameters, cursor)
        finally:
            cursor.close()

    def _raise_as_sqlalchemy(self, exc: Exception, sql: str, parameters: Any, cursor: Any) -> NoReturn:
        """SQLAlchemy's exception for a driver error (OperationalError, IntegrityError, ...),
        the connection invalidated when the error means it is lost, as `exec_driver_sql` does."""
        dialect = self.conn.dialect
        lost = dialect.is_disconnect(exc, self.conn.connection.dbapi_connection, cursor)
        if lost:
            self.conn.invalidate(exc)
        raise DBAPIError.instance(sql, parameters, exc, dialect.loaded_dbapi.Error,
                                  connection_invalidated=lost, dialect=dialect) from exc
