"""INSERT ... ON CONFLICT DO NOTHING for whichever engine we are on."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(dialect: str, table: Table, conflict_columns: list[str]):  # type: ignore[no-untyped-def]
    """An INSERT that does nothing (rowcount 0) when the row's key already exists.

    On PostgreSQL it waits for a concurrent transaction holding the same key, so two server
    processes creating the same uid at once end up with one row and both learn which.
    """
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
