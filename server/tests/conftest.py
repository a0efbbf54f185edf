"""Every test talks to a real server over HTTP, on SQLite and on PostgreSQL.

`server` is one process per engine for the whole run; `project` gives each test a project of
its own on it, so tests cannot see each other's data.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import IN_CI, Project, ServerProcess, StoredData, make_project, postgres_database

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

# One server key for this run, shared by the servers the tests start (they inherit the
# environment) and the projects the tests create in-process.
os.environ["SALESMACHINE_KEY_FILE"] = os.path.join(tempfile.mkdtemp(prefix="sm-key-"), "server.key")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite')}/salesmachine.db"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # The health history is brought up to date every second (project/health_history.py), so that
    # tests read it soon after they write; in production both default to a minute.
    process = ServerProcess(
        database_url,
        Path(tmp_path_factory.mktemp("server")) / "server.log",
        env={"SALESMACHINE_PERIODIC_CHECK_SECONDS": "1", "SALESMACHINE_HEALTH_REFRESH_SECONDS": "1"},
    ).start()
    yield process
    process.stop()


@pytest.fixture
def project(server: ServerProcess) -> Iterator[Project]:
    created, secret = make_project(server.database_url)
    stored = StoredData(server.database_url, created.id)
    with httpx.Client(base_url=server.base_url, auth=(created.token, ""), timeout=30) as http:
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
