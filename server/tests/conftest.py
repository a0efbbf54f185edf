"""Every test talks to a real server over HTTP, on SQLite and on PostgreSQL.

`server` is one process per engine for the whole run; `project` gives each test a project of
its own on it, so tests cannot see each other's data.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import CLIENT_LIMITS, IN_CI, Project, ServerProcess, StoredData, make_project, postgres_database

# Debian's Chromium, driven by Playwright for Python (sdks/js/install-browser.sh installs both).
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# The servers the suite starts run their projector at a niceness of 3, not the default 10: the
# suite keeps both cores busy for its whole run (four test workers, their servers and browsers),
# a contention no server should meet for long, under which a projector at 10 could leave a read
# waiting past its 5 s. The default's own effect is measured by bench/write_path.py, and
# test_journal.py checks that the setting reaches the projector.
os.environ.setdefault("SALESMACHINE_PROJECTOR_NICENESS", "3")

# One server key for this run, shared by the servers the tests start (they inherit the
# environment) and the projects the tests create in-process.
os.environ["SALESMACHINE_KEY_FILE"] = os.path.join(tempfile.mkdtemp(prefix="sm-key-"), "server.key")


# The longest files (tens of seconds to minutes each) come first. `make test-server` runs the
# suite on several pytest-xdist workers with --dist loadfile: a file stays on one worker, and a
# worker takes the next file in collection order when it is done, so a long file collected last
# would run on its own at the end while the other workers wait. Only the order changes.
LONG_FILES = (
    "test_schemathesis.py",
    "test_playbooks.py",
    "test_deliveries.py",
    "test_dashboard.py",
    "test_export_import.py",
    "reliability/test_deliveries_recovery.py",
    "test_retention.py",
    "test_mrr_bounds.py",
    "test_enrichment.py",
    "test_erasure.py",
    "test_signin_throttle.py",
    "test_dashboard_revenue.py",
    "test_dashboard_input.py",
    "test_browser_library.py",
    "reliability/test_steady_load.py",
)
TESTS = Path(__file__).parent


@pytest.hookimpl(trylast=True)  # after pytest grouped the tests by their fixtures' parameters
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: n for n, name in enumerate(LONG_FILES)}
    # A stable sort: within a file, and among the other files, the order stays as it was.
    items.sort(key=lambda item: rank.get(Path(item.path).relative_to(TESTS).as_posix(), len(LONG_FILES)))


class SessionStores:
    """The run's database and server of each engine, made on first use and kept until the
    session ends. `database_url` and `server` are parametrized by engine; pytest finishes a
    session fixture's value when a test asks for another parameter, and under pytest-xdist
    (make test-server) each worker runs a file's SQLite tests and then its PostgreSQL ones, so
    the servers live here: switching engines costs a lookup, not a server's start."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._urls: dict[str, str] = {}
        self._servers: dict[str, ServerProcess] = {}
        self._stack = contextlib.ExitStack()

    def database_url(self, engine: str) -> str:
        if engine not in self._urls:
            if engine == "sqlite":
                self._urls[engine] = f"sqlite:///{self._tmp.mktemp('sqlite')}/salesmachine.db"
            else:
                self._urls[engine] = self._stack.enter_context(postgres_database())
        return self._urls[engine]

    def server(self, database_url: str) -> ServerProcess:
        if database_url not in self._servers:
            # The health history is brought up to date every second (project/health_history.py),
            # so that tests read it soon after they write; in production both default to a minute.
            process = ServerProcess(
                database_url,
                Path(self._tmp.mktemp("server")) / "server.log",
                env={"SALESMACHINE_PERIODIC_CHECK_SECONDS": "1", "SALESMACHINE_HEALTH_REFRESH_SECONDS": "1"},
            )
            self._stack.callback(process.stop)  # stopped before its database is dropped
            self._servers[database_url] = process.start()
        return self._servers[database_url]

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="session")
def session_stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionStores]:
    made = SessionStores(tmp_path_factory)
    yield made
    made.close()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, session_stores: SessionStores) -> str:
    return session_stores.database_url(request.param)


@pytest.fixture(scope="session")
def server(database_url: str, session_stores: SessionStores) -> ServerProcess:
    return session_stores.server(database_url)


@pytest.fixture
def project(server: ServerProcess) -> Iterator[Project]:
    created, secret = make_project(server.database_url)
    stored = StoredData(server.database_url, created.id)
    with httpx.Client(base_url=server.base_url, auth=(created.token, ""), timeout=30, limits=CLIENT_LIMITS) as http:
        yield Project(created.id, created.name, created.token, secret, http, stored)
    stored.close()


def _missing_browser() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing: run sdks/js/install-browser.sh"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright for Python is missing: run sdks/js/install-browser.sh"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium: skipped locally when it is missing, a failure in CI."""
    missing = _missing_browser()
    if missing:
        if IN_CI:
            pytest.fail(missing)
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield launched
        launched.close()
