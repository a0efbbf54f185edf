"""Every test talks to a real server over HTTP, on SQLite and on PostgreSQL.

`server` is one process per engine for the whole run; `project` gives each test a project of
its own on it, so tests cannot see each other's data.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from salesmachine_server.store.engine import open_engines
from salesmachine_server.store.migrate import migrate
from salesmachine_server.store.projects import create_project
from tests.support import Project, ServerProcess, StoredData, postgres_database


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite')}/salesmachine.db"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(database_url, Path(tmp_path_factory.mktemp("server")) / "server.log").start()
    yield process
    process.stop()


@pytest.fixture
def project(server: ServerProcess) -> Iterator[Project]:
    engines = open_engines(server.database_url)
    migrate(engines)
    created, secret = create_project(engines.writer, f"test-{secrets.token_hex(4)}")
    engines.dispose()
    stored = StoredData(server.database_url, created.id)
    with httpx.Client(base_url=server.base_url, auth=(created.token, ""), timeout=30) as http:
        yield Project(created.id, created.name, created.token, secret, http, stored)
    stored.close()
