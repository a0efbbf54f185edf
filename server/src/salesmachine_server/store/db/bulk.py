"""Set-based statements that stay within the engines' limits on bound parameters.

SQLite binds at most 32,766 parameters per statement; we keep every statement to a few
thousand, which costs nothing on PostgreSQL either.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, String, Table
from sqlalchemy.dialects import postgresql, sqlite

T = TypeVar("T")
CHUNK = 500


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def insert_ignore_many(
    conn: Connection, table: Table, conflict_columns: list[str], rows: list[dict[str, Any]], *returning: Any
) -> list[Any]:
    """Insert rows unless their key exists; returns the asked columns of the rows inserted."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    inserted: list[Any] = []
    for part in chunks(rows, CHUNK // 2):
        statement = module.insert(table).values(list(part)).on_conflict_do_nothing(index_elements=conflict_columns)
        if returning:
            inserted += conn.execute(statement.returning(*returning)).all()
        else:
            conn.execute(statement)
    return inserted


def distinct(values: Iterable[T]) -> list[T]:
    """Values in first-seen order, once each."""
    return list(dict.fromkeys(values))


def unnest(table: Table, columns: Sequence[str]) -> str:
    """`unnest(%s::T[], ...) AS v(column, ...)`: PostgreSQL rows from one array per column, of
    the column's own type (strings as text, so that a value too long for a varchar column fails
    on insert as it did, rather than being cut by the cast)."""
    dialect = postgresql.dialect()
    types = ["TEXT" if isinstance(table.c[c].type, String) else table.c[c].type.compile(dialect=dialect)
             for c in columns]
    return f"unnest({', '.join(f'%s::{t}[]' for t in types)}) AS v({', '.join(columns)})"
