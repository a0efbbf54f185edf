"""The migrations build exactly the schema the code declares, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from salesmachine_server.store.db.engine import open_engines
from salesmachine_server.store.db.migrate import migrate
from salesmachine_server.store.db.schema import metadata
from tests.support import ServerProcess


def test_migrations_match_the_declared_schema(server: ServerProcess) -> None:
    engines = open_engines(server.database_url)
    try:
        migrate(engines)  # again: migrating is idempotent
        with engines.writer.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engines.dispose()
    assert differences == []


def test_postgresql_leaves_room_on_the_pages_of_contacts_and_accounts(server: ServerProcess) -> None:
    """Migration 0017: the tables the projector updates keep half of each page free on
    PostgreSQL, as the schema declares (alembic's comparison does not look at storage
    parameters; SQLite has none)."""
    for table in ("contacts", "accounts"):
        assert metadata.tables[table].dialect_options["postgresql"]["with"] == {"fillfactor": 50}
    if not server.database_url.startswith("postgresql"):
        return
    engines = open_engines(server.database_url)
    try:
        with engines.reader.connect() as conn:
            found = dict(
                conn.exec_driver_sql(
                    "SELECT relname, reloptions FROM pg_class WHERE relname IN ('contacts', 'accounts', 'events')"
                ).all()
            )
    finally:
        engines.dispose()
    assert found == {"contacts": ["fillfactor=50"], "accounts": ["fillfactor=50"], "events": None}
