"""Fixtures of the reliability suite: a fresh database per test and servers the test owns.

These tests kill, cut and starve servers, so each starts its own on a database of its own
instead of sharing the session's `server`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import ServerProcess, postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nobody else uses, on each engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/salesmachine.db"
        return
    with postgres_database() as url:
        yield url


StartServer = Callable[..., ServerProcess]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start `salesmachine serve` on a database; whatever is still running is killed after."""
    started: list[ServerProcess] = []

    def start(database_url: str, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
        log = tmp_path / f"server-{len(started)}.log"
        process = ServerProcess(database_url, log, extra_args=args, env=env).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
