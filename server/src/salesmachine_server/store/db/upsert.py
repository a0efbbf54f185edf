"""INSERT ... ON CONFLICT DO NOTHING for whichever engine we are on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(conn: Connection, table: Table, conflict_columns: list[str], **values: Any) -> bool:
    """Insert one row unless its key exists; True when it was inserted.

    On PostgreSQL it waits for a concurrent transaction holding the same key, so two server
    processes creating the same uid at once end up with one row and both learn which. We ask
    for the key back (RETURNING) rather than trust rowcount, which drivers report differently.
    """
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        module.insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict_columns)
        .returning(table.c[conflict_columns[0]])
    )
    return conn.execute(statement).first() is not None


def upsert_add(conn: Connection, table: Table, key_columns: list[str], counter: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows, or add their `counter` to the row already stored under the same key."""
    if not rows:
        return
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = module.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=key_columns, set_={counter: table.c[counter] + statement.excluded[counter]}
    )
    conn.execute(statement, rows)
