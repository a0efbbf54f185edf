"""Bring a database to the newest schema with Alembic, safely from several processes at once."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from salesmachine_server.store.db.engine import Engines

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant: PostgreSQL advisory lock that makes concurrent `migrate` calls take turns.
_MIGRATION_LOCK = 7_410_2024


def migrate(engines: Engines) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engines.writer.begin() as connection:
        if engines.dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
