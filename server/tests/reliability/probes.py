"""Small probes the reliability tests share: polling with a deadline, and looking at a
server from outside (its memory and open files in /proc, its database's integrity)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from sqlalchemy import create_engine, text

from salesmachine_server.store.db.engine import normalise_url


def wait_for(condition: Callable[[], object], timeout: float, message: str, every: float = 0.02) -> None:
    """Poll until `condition()` is true; fail with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{message} (after {timeout} s)"
        time.sleep(every)


def rss_kib(pid: int) -> int:
    """Resident memory of a process, from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


def open_files(pid: int) -> int:
    """File descriptors a process holds (sockets, database files, logs)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def sqlite_integrity(database_url: str) -> str:
    """`PRAGMA integrity_check`: "ok" for an intact SQLite file."""
    engine = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("PRAGMA integrity_check")).scalar_one())
    finally:
        engine.dispose()
