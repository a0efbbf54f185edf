"""The periodic work's runner (serving/periodic.py) on SQLite: how a task's failure is logged.

A task that meets the database unavailable (PostgreSQL cut off or restarted, SQLite on a full
disk: the health task, which runs as a server starts, is the usual victim) is tried again at the
next check, and the log says so in one line, as for the lease; a traceback is kept for a fault
of ours. The reliability suite reads a traceback in a server's log as a bug (test_ping_outage.py,
test_disk_full.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from salesmachine_server.serving.periodic import Periodic, PeriodicTask
from salesmachine_server.store.db.engine import Engines, open_engines
from salesmachine_server.store.db.migrate import migrate


class DriverError(Exception):
    """Stands for the driver's exception that SQLAlchemy wraps (psycopg's, sqlite3's)."""


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Engines]:
    opened = open_engines(f"sqlite:///{tmp_path}/periodic.db")
    migrate(opened)
    yield opened
    opened.dispose()


def _run_once(engines: Engines, error: Exception) -> list[logging.LogRecord]:
    """Run a task that raises `error` under a Periodic until it has run; the records it logged."""
    ran = threading.Event()

    def task(_stop: threading.Event) -> object:
        ran.set()
        raise error

    async def main() -> None:
        periodic = Periodic(engines.writer, [PeriodicTask("failing", 3600, task)], check_seconds=0.05)
        await periodic.start()
        deadline = time.monotonic() + 10
        while not ran.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await periodic.stop()  # waits for the running task, so its failure is logged by now
        assert ran.is_set(), "the task never ran"

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("salesmachine.periodic")
    handler = Keep(logging.INFO)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        asyncio.run(main())
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return [r for r in records if "failing" in r.getMessage() and "now runs" not in r.getMessage()]


def test_a_task_that_meets_the_database_unreachable_logs_one_line_without_a_traceback(engines: Engines) -> None:
    cut = DriverError("consuming input failed: server closed the connection unexpectedly\n\tThis probably means")
    logged = _run_once(engines, OperationalError("SELECT DISTINCT contacts.project_id FROM contacts", {}, cut))
    assert len(logged) == 1, [r.getMessage() for r in logged]
    assert logged[0].levelno == logging.WARNING
    assert logged[0].exc_info is None, "a traceback for an outage"
    message = logged[0].getMessage()
    assert "database is unavailable" in message and "server closed the connection unexpectedly" in message
    assert "This probably means" not in message and "SELECT" not in message  # the driver's first line only


def test_a_full_disk_is_one_line_too(engines: Engines) -> None:
    full = OperationalError("INSERT INTO health_cursors", {}, DriverError("database or disk is full"))
    logged = _run_once(engines, full)
    assert len(logged) == 1 and logged[0].exc_info is None and logged[0].levelno == logging.WARNING
    assert "database or disk is full" in logged[0].getMessage()


def test_a_lost_connection_of_another_kind_counts_as_unreachable_too(engines: Engines) -> None:
    lost = DBAPIError("SELECT 1", {}, DriverError("the connection was lost"), connection_invalidated=True)
    logged = _run_once(engines, lost)
    assert len(logged) == 1 and logged[0].exc_info is None and logged[0].levelno == logging.WARNING


def test_any_other_database_error_is_a_fault_logged_with_its_traceback(engines: Engines) -> None:
    logged = _run_once(engines, ProgrammingError("SELECT nope", {}, DriverError('column "nope" does not exist')))
    assert len(logged) == 1
    assert logged[0].levelno == logging.ERROR and logged[0].exc_info is not None


def test_a_fault_of_ours_is_logged_with_its_traceback(engines: Engines) -> None:
    logged = _run_once(engines, KeyError("project"))
    assert len(logged) == 1
    assert logged[0].levelno == logging.ERROR and logged[0].exc_info is not None
