"""PostgreSQL cut off under load: the server goes on acknowledging writes (its journal holds
them: ingest/journal.py), answers reads and /readyz 503 with Retry-After, stays up, and
applies everything once the database is back; nothing acknowledged is lost or stored twice.

The connections are cut by a TCP relay between the server and PostgreSQL (support.TcpProxy):
open connections break mid-transaction and new ones are refused, as when the database
restarts or the network drops.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.reliability.conftest import StartServer
from tests.reliability.probes import wait_for
from tests.reliability.traffic import Traffic, check_store
from tests.support import StoredData, TcpProxy, make_project, postgres_database

OUTAGE_SECONDS = 2.0
SDK_SOURCE = Path(__file__).resolve().parents[3] / "sdks" / "python" / "src"


@pytest.fixture
def postgres_behind_proxy() -> Iterator[tuple[str, TcpProxy]]:
    with postgres_database() as url:
        parts = urlsplit(url)
        proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
        netloc = f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else f"127.0.0.1:{proxy.port}"
        yield urlunsplit(parts._replace(netloc=netloc)), proxy
        proxy.cut()


def test_outage_under_load_is_acknowledged_from_the_journal_and_lands_once_back(
    postgres_behind_proxy: tuple[str, TcpProxy], start_server: StartServer
) -> None:
    """PostgreSQL cut under load: writes go on being acknowledged (the journal holds them),
    /readyz and reads answer 503 with Retry-After, /healthz 200; once PostgreSQL is back,
    everything acknowledged is in the store, once."""
    url, proxy = postgres_behind_proxy
    project, secret = make_project(url)
    server = start_server(url, env={"SALESMACHINE_RETRY_AFTER_SECONDS": "1", "SALESMACHINE_READ_WAIT_SECONDS": "1"})
    traffic = Traffic(
        server.base_url,
        project.token,
        prefix="out",
        threads=4,
        seed=3,
        retry=True,
        rate=20,  # 4 s of traffic per thread: the outage falls in the middle of it
        requests_per_thread=80,
        expected=(503,),
    ).start()
    wait_for(lambda: traffic.acknowledged_requests() >= 10, 20, "no write was acknowledged")

    proxy.cut()
    cut_at = time.monotonic()
    acknowledged_before = traffic.acknowledged_requests()
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503 and ready.headers["retry-after"] == "1", ready.text
        read = http.get("/v1/contacts", auth=(project.token, secret))
        assert read.status_code == 503, read.text
        assert read.headers["retry-after"] == "1"
        assert read.json()["code"] == "service_unavailable"
        assert http.get("/healthz").status_code == 200
        wait_for(
            lambda: traffic.acknowledged_requests() >= acknowledged_before + 10,
            10,
            "writes were not acknowledged during the outage",
        )
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))  # the outage lasts a while
        during = traffic.acknowledged_requests() - acknowledged_before
        proxy.restore()
        wait_for(lambda: http.get("/readyz").status_code == 200, 20, "the server did not become ready again")

    outcome = traffic.join(90)
    assert server.process is not None and server.process.poll() is None, "the server died in the outage"
    assert not outcome.surprises, outcome.surprises[:5]
    assert during >= 10, f"only {during} requests acknowledged during the outage"
    assert not outcome.unanswered, f"{len(outcome.unanswered)} messages never acknowledged"
    check = check_store(url, project.id, outcome)
    check.assert_exactly_once()
    assert "Traceback" not in server.log()
    assert "store unavailable" in server.log()


def python_client_class() -> Any:
    """`salesmachine.client.Client`, installed or from the repository's source (it needs
    nothing beyond the standard library)."""
    try:
        return importlib.import_module("salesmachine.client").Client
    except ImportError:
        if not (SDK_SOURCE / "salesmachine" / "client.py").exists():
            pytest.fail(f"the Python client is neither installed nor at {SDK_SOURCE}")
        sys.path.insert(0, str(SDK_SOURCE))
        return importlib.import_module("salesmachine.client").Client


def test_the_python_client_rides_through_an_outage(
    postgres_behind_proxy: tuple[str, TcpProxy], start_server: StartServer
) -> None:
    """Events tracked before, during and after the outage are each stored once: the client
    retries 503s and broken connections with the messageIds it gave them."""
    url, proxy = postgres_behind_proxy
    project, _ = make_project(url)
    server = start_server(url, env={"SALESMACHINE_RETRY_AFTER_SECONDS": "1"})
    failures: list[Any] = []
    client = python_client_class()(
        project.token,
        host=server.base_url,
        upload_size=25,
        upload_interval=0.05,
        backoff_base=0.1,
        backoff_max=1.0,
        max_retries=1000,
        timeout=5.0,
        on_error=lambda error, lost: failures.append((error, lost)),
    )
    sent = 0

    def track(count: int) -> None:
        nonlocal sent
        for _ in range(count):
            client.track_event(f"sdk-{sent % 7}", "tracked", {"seq": sent})
            sent += 1
            time.sleep(0.002)  # a steady trickle, so that batches leave during the outage too

    try:
        track(150)
        assert client.flush(timeout=30)
        proxy.cut()
        track(150)
        time.sleep(OUTAGE_SECONDS)  # the outage lasts a while: the client must keep retrying
        proxy.restore()
        track(150)
        assert client.flush(timeout=60), f"{client.queued} messages still queued"
    finally:
        client.shutdown(timeout=5)
    assert not failures, failures[:3]

    stored = StoredData(url, project.id)
    try:
        rows = stored.rows("SELECT params FROM events WHERE project_id = :project AND name = 'tracked'")
    finally:
        stored.close()
    seqs = Counter(_params(row[0])["seq"] for row in rows)
    assert sorted(seqs) == list(range(sent)), f"missing: {sorted(set(range(sent)) - set(seqs))[:10]}"
    assert max(seqs.values()) == 1, f"stored twice: {[s for s, n in seqs.items() if n > 1][:10]}"
    assert "store unavailable" in server.log(), "no batch reached the server during the outage"


def _params(value: Any) -> dict[str, Any]:
    import orjson

    return orjson.loads(value) if isinstance(value, (str, bytes)) else value
