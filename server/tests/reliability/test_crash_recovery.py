"""SIGKILL under load: every acknowledged message survives, exactly once, and the server
restarts on the same database with no repair step.

A 201 is sent only after the commit (SQLite: WAL with synchronous=FULL; PostgreSQL: a
committed transaction), so a kill at any moment may lose only what was not yet answered; and
a message id is claimed in the same transaction as the message, so nothing is half-applied.
"""

from __future__ import annotations

import random
import signal
import time

import httpx

from tests.reliability.conftest import StartServer
from tests.reliability.probes import sqlite_integrity, wait_for
from tests.reliability.traffic import Outcome, Traffic, check_store
from tests.support import make_project

KILLS = 3
SEED = 20261126


def test_sigkill_under_load_loses_and_duplicates_nothing_acknowledged(
    fresh_database: str, start_server: StartServer
) -> None:
    project, _ = make_project(fresh_database)
    rng = random.Random(SEED)
    total = Outcome()
    for round_ in range(KILLS):
        server = start_server(fresh_database)
        traffic = Traffic(server.base_url, project.token, prefix=f"k{round_}", threads=6, seed=SEED + round_).start()
        # Kill at a random moment once answers flow, so that commits are under way.
        wait_for(lambda traffic=traffic: traffic.acknowledged_requests() >= 10, 20, "no write was acknowledged")
        time.sleep(rng.uniform(0.0, 0.6))
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL
        outcome = traffic.stop()
        assert not outcome.surprises, outcome.surprises[:5]
        assert outcome.unanswered or outcome.statuses, "the kill left no trace in the clients"
        total.merge(outcome)

    # The same database, no repair step: it serves reads and writes at once.
    server = start_server(fresh_database)
    with httpx.Client(base_url=server.base_url, auth=(project.token, ""), timeout=10) as http:
        assert http.get("/readyz").status_code == 200
        assert http.post("/v1/track/event", json={"contact_uid": "after", "event_uid": "restart"}).status_code == 201

    check = check_store(fresh_database, project.id, total)
    check.assert_exactly_once()
    assert check.acknowledged > 100, "too little was acknowledged for the test to mean anything"
    if fresh_database.startswith("sqlite"):
        assert sqlite_integrity(fresh_database) == "ok"
