"""Deliveries through crashes and crowds: a server killed while it sends, two servers on one
PostgreSQL, claims made at the same moment, and an address refused when it is sent.

Each test starts its own servers on a database of its own (tests/reliability/conftest.py), with
the receivers of tests/delivery_receivers.py on 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from typing import Any

import httpx

from tests.dashboard_support import csrf_of, make_user, signed_in
from tests.delivery_receivers import HttpReceiver
from tests.reliability.conftest import StartServer
from tests.reliability.probes import wait_for
from tests.support import make_project, postgres_database

SECRET = "whsec_recovery"
ALLOW = {"SALESMACHINE_DELIVERY_ALLOW_PRIVATE_NETWORKS": "1"}
QUICK = {
    **ALLOW,
    "SALESMACHINE_DELIVERY_CHECK_SECONDS": "0.5",
    "SALESMACHINE_DELIVERY_BACKOFF_BASE_SECONDS": "0.5",
    "SALESMACHINE_DELIVERY_BACKOFF_MAX_SECONDS": "1",
    # A claim holds 6 × 2 + 5 = 17 s: how long a killed sender's delivery waits to be taken again.
    "SALESMACHINE_DELIVERY_TIMEOUT_SECONDS": "2",
}


def _queue_test(
    database_url: str, project_name: str, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "salesmachine_server", "deliveries", "test", "--project", project_name]
    return subprocess.run(
        [*command, "--database", database_url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def _deliveries(base_url: str, token: str, secret: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{base_url}/v1/deliveries", params={"limit": 1000}, auth=(token, secret), timeout=30)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["data"]
    return found


def test_a_delivery_in_flight_when_its_server_is_killed_is_delivered_after_the_restart(
    fresh_database: str, start_server: StartServer
) -> None:
    project, secret = make_project(fresh_database)
    release = threading.Event()
    receiver = HttpReceiver(hold=release).start()
    try:
        first = start_server(fresh_database, env=QUICK)
        queued = _queue_test(fresh_database, project.name, "--webhook", receiver.url(), "--secret", SECRET, env=QUICK)
        assert queued.returncode == 0, queued.stderr
        wait_for(lambda: len(receiver.received) == 1, 30, "the delivery was not sent")
        # Killed while it waits for the answer: nothing of the attempt was recorded.
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        release.set()
        [pending] = _rows(fresh_database)
        assert pending["status"] == "pending" and pending["attempts"] == 0 and pending["claimed_until"] is not None

        second = start_server(fresh_database, env=QUICK)
        wait_for(
            lambda: _deliveries(second.base_url, project.token, secret)[0]["status"] == "delivered",
            60,
            "the delivery was not sent again after the restart",
        )
    finally:
        receiver.stop()
    [shown] = _deliveries(second.base_url, project.token, secret)
    assert shown["attempts"] == 1 and shown["attempt_log"][0]["response_status"] == 200
    # At least once: the receiver saw it twice, with the same delivery id to deduplicate by.
    assert [r.headers["salesmachine-delivery"] for r in receiver.received] == [str(shown["id"])] * 2


def test_two_servers_on_one_postgresql_deliver_each_delivery_once(start_server: StartServer) -> None:
    with postgres_database() as url:
        project, secret = make_project(url)
        receiver = HttpReceiver(delay=0.05).start()
        email = make_user(url, project.id)
        servers = [start_server(url, env=QUICK), start_server(url, env=QUICK)]
        try:
            # Tests sent through the dashboards of both servers, in turn.
            count = 40
            clients = [signed_in(server.base_url, email) for server in servers]
            browsers = [client.__enter__() for client in clients]
            try:
                live = [0, 1]
                for i in range(count):
                    browser = browsers[live[i % len(live)]]
                    csrf = csrf_of(browser.get(f"/p/{project.id}/deliveries").text)
                    form = {"csrf": csrf, "channel": "webhook", "url": receiver.url(f"/n/{i}"), "secret": SECRET}
                    assert browser.post(f"/p/{project.id}/deliveries/test", data=form).status_code == 303
                    if i == count // 2:
                        # The process sending stops (gracefully) half way: the other takes over.
                        holder = _lease_holder(url)
                        stopping = next(
                            n for n, s in enumerate(servers) if s.process is not None and f":{s.process.pid}:" in holder
                        )
                        servers[stopping].stop()
                        live.remove(stopping)
            finally:
                for client in clients:
                    client.__exit__(None, None, None)
            remaining = next(s for s in servers if s.process is not None)
            wait_for(
                lambda: (
                    all(d["status"] == "delivered" for d in _deliveries(remaining.base_url, project.token, secret))
                    and len(receiver.received) >= count
                ),
                60,
                "not every delivery was delivered",
            )
            time.sleep(2)  # anything sent twice would arrive by now
        finally:
            receiver.stop()
        shown = _deliveries(remaining.base_url, project.token, secret)
        assert len(shown) == count and all(d["attempts"] == 1 for d in shown)
        ids = [r.headers["salesmachine-delivery"] for r in receiver.received]
        assert sorted(ids) == sorted(str(d["id"]) for d in shown), "a delivery was sent twice, or not at all"
        assert "now runs deliveries" in remaining.log(), "the other server never took over"


def test_claims_made_at_the_same_moment_take_different_deliveries(fresh_database: str) -> None:
    from salesmachine_server.deliver.queue import enqueue
    from salesmachine_server.store.db.engine import open_engines
    from salesmachine_server.store.records.deliveries import claim_due
    from salesmachine_server.store.records.projects import utcnow

    project, _ = make_project(fresh_database)
    engines = open_engines(fresh_database)
    try:
        with engines.writer.begin() as conn:
            for i in range(60):
                enqueue(conn, project.id, channel="slack", target={"url": f"https://hooks.slack.com/{i}"}, payload={})
        claimed: list[list[int]] = [[], [], []]
        start = threading.Barrier(3)

        def claimer(mine: list[int]) -> None:
            start.wait()
            while batch := claim_due(engines.writer, utcnow(), timedelta(minutes=1), 7):
                mine.extend(c.id for c in batch)

        threads = [threading.Thread(target=claimer, args=(mine,)) for mine in claimed]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        engines.dispose()
    every = [i for mine in claimed for i in mine]
    assert len(every) == 60 and len(set(every)) == 60, "a delivery was claimed twice, or not at all"


def test_an_address_refused_at_send_fails_at_once_and_reaches_nothing(
    fresh_database: str, start_server: StartServer
) -> None:
    project, secret = make_project(fresh_database)
    receiver = HttpReceiver().start()
    try:
        # This server does not allow private networks.
        server = start_server(fresh_database, env={"SALESMACHINE_DELIVERY_ALLOW_PRIVATE_NETWORKS": "0"})
        local = f"http://localhost:{receiver.port}/hook"
        refused = _queue_test(fresh_database, project.name, "--webhook", local, "--secret", SECRET, env={})
        assert refused.returncode == 1
        assert "refused: localhost resolves to 127.0.0.1, a loopback address (this machine)" in refused.stderr
        metadata = _queue_test(fresh_database, project.name, "--slack", "http://169.254.169.254/latest", env=ALLOW)
        assert metadata.returncode == 1 and "a cloud metadata address" in metadata.stderr
        # Saved where private networks were allowed; sent by a server where they are not.
        queued = _queue_test(fresh_database, project.name, "--webhook", local, "--secret", SECRET, env=ALLOW)
        assert queued.returncode == 0, queued.stderr
        wait_for(
            lambda: _deliveries(server.base_url, project.token, secret)[0]["status"] == "failed",
            30,
            "the refused delivery was not failed",
        )
    finally:
        receiver.stop()
    [shown] = _deliveries(server.base_url, project.token, secret)
    assert shown["attempts"] == 1
    assert shown["last_error"] == "address refused: localhost resolves to 127.0.0.1, a loopback address (this machine)"
    assert shown["attempt_log"][0]["response_status"] is None
    assert receiver.received == []


def _rows(database_url: str) -> list[dict[str, Any]]:
    from sqlalchemy import text

    from salesmachine_server.store.db.engine import open_engines

    engines = open_engines(database_url)
    try:
        with engines.reader.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text("SELECT * FROM deliveries ORDER BY id"))]
    finally:
        engines.dispose()


def _lease_holder(database_url: str) -> str:
    from sqlalchemy import text

    from salesmachine_server.store.db.engine import open_engines

    engines = open_engines(database_url)
    try:
        with engines.reader.connect() as conn:
            holder = conn.execute(text("SELECT holder FROM leases WHERE task = 'deliveries'")).scalar()
    finally:
        engines.dispose()
    assert holder, "no server holds the deliveries' lease"
    return str(holder)
