"""Faults of the journal and the projector (ingest/journal.py, project/projector.py): the
projector killed under load, and the journal's tail torn by a crash.

A 201 means the write is in the journal, on disk; the projector applies it to the store and
commits its position in the same transaction. So a projector killed at any moment is started
again by `serve` and applies exactly what it had not committed; and garbage after the journal's
last commit (a write torn by the crash, never acknowledged) is ignored when it is opened again.
"""

from __future__ import annotations

import os
import signal
import time

import httpx

from salesmachine_server.ingest.journal import journal_path
from tests.reliability.conftest import StartServer
from tests.reliability.probes import sqlite_integrity, wait_for
from tests.reliability.traffic import Outcome, Traffic, check_store
from tests.support import ServerProcess, make_project, server_children

KILLS = 3


def projector_pid(server: ServerProcess) -> int | None:
    """The pid of the server's projector (a child of `serve`: supervisor.py), if running."""
    found = server_children(server, "sm-projector")
    return found[0] if found else None


def test_the_projector_killed_under_load_is_restarted_and_applies_everything_once(
    fresh_database: str, start_server: StartServer
) -> None:
    project, secret = make_project(fresh_database)
    server = start_server(fresh_database)
    traffic = Traffic(server.base_url, project.token, prefix="pk", threads=6, seed=7).start()
    killed: list[int] = []
    for round_ in range(KILLS):
        wanted = 20 * (round_ + 1)
        wait_for(lambda: projector_pid(server) not in (None, *killed), 20, "no projector (re)started")
        wait_for(lambda wanted=wanted: traffic.acknowledged_requests() >= wanted, 20, "no write acknowledged")
        pid = projector_pid(server)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
        time.sleep(0.3)
    wait_for(lambda: projector_pid(server) not in (None, *killed), 20, "the projector was not restarted")
    outcome = traffic.stop()
    assert not outcome.surprises, outcome.surprises[:5]
    assert not outcome.unanswered, "a write went unanswered though only the projector was killed"

    with httpx.Client(base_url=server.base_url, auth=(project.token, secret), timeout=30) as http:
        read = http.get("/v1/events", params={"limit": 1})
        assert read.status_code == 200 and "salesmachine-read-stale" not in read.headers, read.text
    check = check_store(fresh_database, project.id, outcome)
    check.assert_exactly_once()
    assert check.acknowledged > 100, "too little was acknowledged for the test to mean anything"
    assert server.log().count("the projector (pid") == KILLS


def test_a_torn_journal_tail_after_a_crash_loses_nothing_acknowledged(
    fresh_database: str, start_server: StartServer
) -> None:
    """SIGKILL under load, then garbage written after the journal's last commit (what a write
    torn by a power cut leaves): the next start ignores it, applies every acknowledged write
    once, and takes writes again."""
    project, _ = make_project(fresh_database)
    total = Outcome()
    server = start_server(fresh_database)
    traffic = Traffic(server.base_url, project.token, prefix="torn", threads=6, seed=11).start()
    wait_for(lambda: traffic.acknowledged_requests() >= 30, 20, "no write was acknowledged")
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    total.merge(traffic.stop())

    journal = journal_path(fresh_database)
    wal = journal.with_name(journal.name + "-wal")
    torn = os.urandom(4096 + 24)  # a frame header and part of a page, checksums that cannot match
    with open(wal, "ab") as tail:
        tail.write(torn)

    server = start_server(fresh_database)
    with httpx.Client(base_url=server.base_url, auth=(project.token, ""), timeout=10) as http:
        assert http.post("/v1/track/event", json={"contact_uid": "after", "event_uid": "torn"}).status_code == 201
    check = check_store(fresh_database, project.id, total)
    check.assert_exactly_once()
    assert check.acknowledged > 30
    assert server.stop() == 0
    assert "Traceback" not in server.log()
    if fresh_database.startswith("sqlite"):
        assert sqlite_integrity(fresh_database) == "ok"
