"""Fixtures: one real server for the run, projects made with its CLI, clients that clean up.

Making a project takes the CLI about a second, so most tests share one project and keep
apart by uid (`uid("123456")` is unique to the test); the tests of the API document's
examples get a `fresh_project` of their own, where its fixed uids can be used as written.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

import salesmachine
from salesmachine.client import Client
from sm_harness import ErrorLog, FaultProxy, Project, Server, Stored

# Quick retries, so failure tests take fractions of a second, not minutes.
FAST_RETRIES = {"backoff_base": 0.02, "backoff_max": 0.2}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(Path(tmp_path_factory.mktemp("server"))).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def project(server: Server) -> Project:
    return server.create_project()


@pytest.fixture
def fresh_project(server: Server) -> Project:
    return server.create_project()


_test_numbers = itertools.count(1)


@pytest.fixture
def uid() -> Callable[[str], str]:
    """`uid("123456")` -> "123456-t7": the document's uids, made unique to this test."""
    suffix = f"t{next(_test_numbers)}"
    return lambda base: f"{base}-{suffix}"


@pytest.fixture
def stored(server: Server, project: Project) -> Stored:
    return Stored(server.db_path, project.id)


@pytest.fixture
def proxy(server: Server) -> Iterator[FaultProxy]:
    relay = FaultProxy(server.port)
    yield relay
    relay.close()


@pytest.fixture
def make_client(server: Server, project: Project) -> Iterator[Callable[..., Client]]:
    """Clients for this test's project, on the real server unless `host=` says otherwise,
    shut down at the end of the test so no thread outlives it."""
    made: list[Client] = []

    def make(**options: Any) -> Client:
        options = {"host": server.url, **FAST_RETRIES, **options}
        client = Client(options.pop("key", project.token), options.pop("secret", project.secret), **options)
        made.append(client)
        return client

    yield make
    for client in made:
        # Tests flush what they mean to deliver; anything left is meant to be lost.
        client.shutdown(timeout=1)


@pytest.fixture
def module_settings() -> Iterator[None]:
    """Module-level settings changed by a test are put back, and its shared client retired."""
    names = ("key", "secret", "host", "url", "debug", "send", "sync_mode", "on_error", "max_queue_size")
    saved = {name: getattr(salesmachine, name) for name in names}
    yield
    salesmachine.shutdown(timeout=5)
    for name, value in saved.items():
        setattr(salesmachine, name, value)


@pytest.fixture
def errors() -> ErrorLog:
    """Pass as `on_error=errors`; holds (exception, messages) for each call."""
    return ErrorLog()
