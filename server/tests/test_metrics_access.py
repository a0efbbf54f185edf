"""/metrics: open when no token is set (Prometheus scrapes it as it is), and when
SALESMACHINE_METRICS_TOKEN is set, served only to `Authorization: Bearer <token>` (what
Prometheus sends with `authorization: {credentials: ...}` or `bearer_token`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ServerProcess, make_project

TOKEN = "scrape-7c1f0e2b9a"


@pytest.fixture(params=["sqlite", "postgresql"])
def guarded_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    from tests.support import postgres_database

    def start(url: str) -> ServerProcess:
        make_project(url)
        return ServerProcess(url, tmp_path / "server.log", env={"SALESMACHINE_METRICS_TOKEN": TOKEN}).start()

    if request.param == "sqlite":
        server = start(f"sqlite:///{tmp_path}/salesmachine.db")
        yield server
        server.stop()
        return
    with postgres_database() as url:
        server = start(url)
        yield server
        server.stop()


def test_metrics_are_open_when_no_token_is_set(server: ServerProcess) -> None:
    answer = httpx.get(f"{server.base_url}/metrics", timeout=10)
    assert answer.status_code == 200, answer.text
    assert "salesmachine_commits_total" in answer.text


def test_metrics_need_the_bearer_token_when_one_is_set(guarded_server: ServerProcess) -> None:
    url = f"{guarded_server.base_url}/metrics"
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
    ):
        refused = httpx.get(url, headers=headers, timeout=10)
        assert refused.status_code == 401, (headers, refused.text)
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.json()["field"] == "authorization" and refused.json()["rule"] == "metrics_token"
        assert "salesmachine_commits_total" not in refused.text
    served = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert served.status_code == 200, served.text
    assert "salesmachine_commits_total" in served.text
    # Only /metrics is guarded: the probes stay open for load balancers.
    assert httpx.get(f"{guarded_server.base_url}/healthz", timeout=10).status_code == 200
    assert httpx.get(f"{guarded_server.base_url}/readyz", timeout=10).status_code == 200
