"""The fast tier: the app in this process over ASGI, and the rules as plain functions.

No server process, no PostgreSQL, no browser: `make test-fast` runs this folder (every test
here is marked `fast`) in seconds, while `make test` runs it with everything else. What needs a
real server, both engines or a browser stays in the end-to-end tier beside this folder.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from salesmachine_server.app import create_app
from salesmachine_server.ingest.journal import Journal, journal_path
from salesmachine_server.ingest.wake import claim
from salesmachine_server.project.projector import Projector
from salesmachine_server.settings import Settings
from salesmachine_server.store.db.engine import open_engines
from tests.support import Project, StoredData, make_project

FAST = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if FAST in Path(item.path).parents:
            item.add_marker(pytest.mark.fast)


class InProcess:
    """The application on a SQLite file of its own, served in this process (lifespan and all:
    the journal's thread runs as under uvicorn), and its projector on a thread of this process
    (`salesmachine serve` gives it a process of its own: supervisor.py)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        settings = Settings.from_env(database_url=database_url)
        self.app = create_app(settings)
        self.client = TestClient(self.app, raise_server_exceptions=False)
        path = journal_path(database_url)
        listener = claim(path)
        assert listener is not None, f"another projector holds {path}"
        self.engines = open_engines(database_url)
        self.projector = Projector(settings, self.engines, Journal(path))
        self.projecting = threading.Thread(target=self.projector.run, args=(listener,), daemon=True)
        self.projecting.start()

    def stop(self) -> None:
        self.projector.stopping = True
        self.projecting.join(30)
        self.engines.dispose()

    def raw(self) -> TestClient:
        """A client with no credentials, on the same running application. It shares the
        running client's event loop: the writer's queue belongs to the loop that started it."""
        client = TestClient(self.app, raise_server_exceptions=False)
        client.portal = self.client.portal
        return client

    def project(self, **settings: Any) -> Project:
        created, secret = make_project(self.database_url, **settings)
        http = self.raw()
        http.auth = (created.token, "")
        return Project(created.id, created.name, created.token, secret, http, StoredData(self.database_url, created.id))


@pytest.fixture(scope="module")
def inprocess(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fast')}/salesmachine.db"
    make_project(url)  # migrates the new database before the application opens it
    served = InProcess(url)
    with served.client:  # runs the lifespan: engines, server key, journal
        yield served
    served.stop()


@pytest.fixture
def project(inprocess: InProcess) -> Iterator[Project]:
    """A project of its own on the in-process application (the same shape as the end-to-end
    tier's `project`, so a test reads the same in both)."""
    made = inprocess.project()
    yield made
    made.stored.close()
