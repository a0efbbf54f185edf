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
