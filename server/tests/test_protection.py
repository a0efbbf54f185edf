"""What protects the server and tells clients when to come back: 429, 503, maintenance."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.support import ServerProcess, TcpProxy, make_project, postgres_database, read_when_applied


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/protection.db"


def start(database_url: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
    return ServerProcess(database_url, tmp_path / "server.log", extra_args=args, env=env).start()


def test_rate_limit_answers_429_with_retry_after_then_lets_through(sqlite_url: str, tmp_path: Path) -> None:
    project, _ = make_project(sqlite_url)
    server = start(sqlite_url, tmp_path, "--rate-limit", "2", "--rate-limit-burst", "5")
    try:
        with httpx.Client(base_url=server.base_url, auth=(project.token, "")) as http:
            statuses = [http.post("/v1/track/event", json={"contact_uid": "r", "event_uid": "e"}) for _ in range(12)]
            limited = [r for r in statuses if r.status_code == 429]
            assert [r.status_code for r in statuses[:5]] == [201] * 5  # the burst
            assert limited, "no request was limited"
            body = limited[0].json()
            assert body["code"] == "too_many_requests" and body["error"] == body["message"]
            retry_after = int(limited[0].headers["retry-after"])
            assert 1 <= retry_after <= 2
            time.sleep(retry_after)
            assert http.post("/v1/track/event", json={"contact_uid": "r", "event_uid": "e"}).status_code == 201
        # Another project has its own bucket.
        other, _ = make_project(sqlite_url)
        assert httpx.post(f"{server.base_url}/v1/ping", auth=(other.token, "")).status_code == 200
    finally:
        server.stop()


def test_maintenance_mode_answers_503_with_retry_after(sqlite_url: str, tmp_path: Path) -> None:
    project, _ = make_project(sqlite_url)
    server = start(sqlite_url, tmp_path, "--maintenance")
    try:
        response = httpx.post(f"{server.base_url}/v1/contact", json={"contact_uid": "m"}, auth=(project.token, ""))
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["code"] == "service_unavailable"
        assert httpx.get(f"{server.base_url}/v1/ping", auth=(project.token, "")).status_code == 503
        assert httpx.get(f"{server.base_url}/healthz").status_code == 200
    finally:
        server.stop()


@pytest.fixture
def postgres_through_proxy() -> Iterator[tuple[str, TcpProxy]]:
    with postgres_database() as url:
        parts = urlsplit(url)
        proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
        netloc = f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else f"127.0.0.1:{proxy.port}"
        yield urlunsplit(parts._replace(netloc=netloc)), proxy
        proxy.cut()


def test_an_unreachable_database_takes_writes_in_the_journal_and_reads_are_503(
    postgres_through_proxy: tuple[str, TcpProxy], tmp_path: Path
) -> None:
    """With PostgreSQL unreachable, writes are still acknowledged (the journal holds them:
    ingest/journal.py), a read waits for them, then answers 503 with Retry-After and a note
    that it could not wait for them; once PostgreSQL is back every write is stored, in order."""
    url, proxy = postgres_through_proxy
    project, secret = make_project(url)
    server = start(url, tmp_path, env={"SALESMACHINE_READ_WAIT_SECONDS": "1"})
    try:
        with httpx.Client(base_url=server.base_url, auth=(project.token, ""), timeout=30) as http:
            assert http.post("/v1/track/event", json={"contact_uid": "o", "event_uid": "before"}).status_code == 201
            proxy.cut()
            response = http.post("/v1/track/event", json={"contact_uid": "o", "event_uid": "during"})
            assert response.status_code == 201, response.text
            read = http.get("/v1/contacts/o", auth=(project.token, secret))
            assert read.status_code == 503, read.text
            assert read.headers["retry-after"] == "5"
            assert read.json()["code"] == "service_unavailable"
            assert "not applied after 1 s" in read.headers["salesmachine-read-stale"]
            assert "Traceback" not in read.text
            proxy.restore()
            assert http.post("/v1/track/event", json={"contact_uid": "o", "event_uid": "after"}).status_code == 201
            # The projector tries the store again 0.2, 0.5, 1, then every 2 s (project/projector.py
            # RETRY_SECONDS): a read can still find it waiting out its pause, longer than this
            # server's 1 s read wait. Once it is back it catches up, and a read then waits for nothing.
            read = read_when_applied(http, "/v1/contacts/o/events", auth=(project.token, secret))
            assert read.status_code == 200, read.text
            assert [e["event_uid"] for e in read.json()["data"]] == ["after", "during", "before"]
    finally:
        server.stop()
    from tests.support import StoredData

    stored = StoredData(url, project.id)
    contact = stored.contact("o")
    stored.close()
    assert contact is not None
    assert [e["name"] for e in contact["events"]] == ["before", "during", "after"]
