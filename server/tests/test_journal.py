"""The journal and the projector seen from outside (ingest/journal.py, project/projector.py,
serving/read_your_writes.py, supervisor.py): on both engines.

Holding the projector still (SIGSTOP) shows what a 201 means now: the write is acknowledged
from the journal before the store has it; a read waits for it, and says so when it cannot;
the journal's depth and lag are measured; past the disk budget writes are 503.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from salesmachine_server.ingest.journal import journal_path
from salesmachine_server.store.db.engine import open_engines
from tests.support import Project, ServerProcess, make_project, postgres_database, read_when_applied, server_children


@pytest.fixture(params=["sqlite", "postgresql"])
def own_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/salesmachine.db"
        return
    with postgres_database() as url:
        yield url


def start(url: str, tmp_path: Path, *args: str, **env: str) -> ServerProcess:
    return ServerProcess(url, tmp_path / "server.log", extra_args=args, env=env).start()


def metric(http: httpx.Client, name: str) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_an_item_the_store_refuses_is_kept_with_its_reason(project: Project) -> None:
    """Accepted at the door, refused by the store when applied (here a trigger of the test):
    kept in rejected_items with the store's reason; the rest of the batch is applied."""
    refused_name = f"refused-{secrets.token_hex(4)}"
    engines = open_engines(project.stored.database_url)
    postgres = engines.dialect == "postgresql"
    with engines.writer.begin() as conn:
        if postgres:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_marked() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.name = '{refused_name}' THEN RAISE EXCEPTION 'refused by the test trigger' "
                    "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_marked BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_marked()"
                )
            )
        else:
            conn.execute(
                text(
                    f"CREATE TRIGGER refuse_marked BEFORE INSERT ON events WHEN NEW.name = '{refused_name}' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"
                )
            )
    try:
        response = project.http.post(
            "/v1/batch",
            json=[
                {"method": "event", "contact_uid": "r", "event_uid": "before"},
                {"method": "event", "contact_uid": "r", "event_uid": refused_name, "params": {"n": 1}},
                {"method": "event", "contact_uid": "r", "event_uid": "after"},
            ],
        )
        assert response.status_code == 201 and response.json()["accepted"] == 3, response.text
        contact = project.stored.contact("r")
        assert contact is not None
        assert [e["name"] for e in contact["events"]] == ["before", "after"]
        [rejected] = project.stored.rejected()
        assert rejected.path == "journal" and rejected.code == "store_refused" and rejected.item_index == 1
        assert "refused by the test trigger" in rejected.reason
        assert refused_name in rejected.raw and '"n":1' in rejected.raw
    finally:
        with engines.writer.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_marked" + (" ON events" if postgres else "")))
            if postgres:
                conn.execute(text("DROP FUNCTION refuse_marked()"))
        engines.dispose()


def test_writes_are_acknowledged_before_the_store_has_them_and_reads_wait_for_them(
    own_database: str, tmp_path: Path
) -> None:
    project, secret = make_project(own_database)
    server = start(
        own_database,
        tmp_path,
        "--workers",
        "2",
        SALESMACHINE_READ_WAIT_SECONDS="0.5",
        SALESMACHINE_READY_LAG_SECONDS="1",
    )
    try:
        [projector] = server_children(server, "sm-projector")
        with httpx.Client(base_url=server.base_url, auth=(project.token, secret), timeout=30) as http:
            assert http.post("/v1/contact", json={"contact_uid": "early", "params": {"plan": "pro"}}).status_code == 201
            assert http.get("/v1/contacts/early").json()["params"] == {"plan": "pro"}
            assert metric(http, "salesmachine_journal_depth_items") == 0

            os.kill(projector, signal.SIGSTOP)  # the projector holds still: writes wait in the journal
            for n in range(5):
                event = {"contact_uid": "held", "event_uid": "e", "params": {"n": n}}
                assert http.post("/v1/track/event", json=event).status_code == 201
            started = time.monotonic()
            read = http.get("/v1/contacts/held")
            assert time.monotonic() - started >= 0.5  # it waited for the projector
            assert read.status_code == 404, read.text  # not applied yet, and it says so
            assert read.headers["salesmachine-read-stale"].startswith("5 journal entries acknowledged")
            assert metric(http, "salesmachine_journal_depth_items") == 5
            assert metric(http, "salesmachine_journal_depth_bytes") > 0
            time.sleep(1.0)
            assert metric(http, "salesmachine_projection_lag_seconds") > 1.0
            ready = http.get("/readyz")
            assert ready.status_code == 503 and "writes take" in ready.json()["message"], ready.text

            os.kill(projector, signal.SIGCONT)
            # Five items take milliseconds on a quiet machine; CI's, running four test workers
            # on two cores, once took longer than this server's 0.5 s read wait.
            read = read_when_applied(http, "/v1/contacts/held/events")
            assert read.status_code == 200, read.text
            assert sorted(e["params"]["n"] for e in read.json()["data"]) == [0, 1, 2, 3, 4]
            assert http.get("/readyz").status_code == 200
            assert metric(http, "salesmachine_journal_depth_items") == 0
            assert metric(http, "salesmachine_projector_items_per_second") > 0
    finally:
        for pid in server_children(server, "sm-projector"):
            os.kill(pid, signal.SIGCONT)
        code = server.stop()
    assert code == 0
    assert "Traceback" not in server.log()


def test_a_small_group_waits_for_more_unless_a_read_waits_for_it(own_database: str, tmp_path: Path) -> None:
    """The projector holds a small group back for `projector_gather_seconds` so that more
    writes join it (project/projector.py `_gather`); a read asks it to hurry (ingest/wake.py)
    and gets its write at once."""
    project, secret = make_project(own_database)
    server = start(own_database, tmp_path, SALESMACHINE_PROJECTOR_GATHER_SECONDS="4")
    try:
        with httpx.Client(base_url=server.base_url, auth=(project.token, secret), timeout=30) as http:
            assert http.post("/v1/track/event", json={"contact_uid": "g", "event_uid": "held"}).status_code == 201
            time.sleep(1.0)
            assert metric(http, "salesmachine_journal_depth_items") == 1  # /metrics does not wait: still held
            deadline = time.monotonic() + 10
            while metric(http, "salesmachine_journal_depth_items") != 0:  # applied once 4 s old, unasked
                assert time.monotonic() < deadline, "the held group was never applied"
                time.sleep(0.2)

            assert http.post("/v1/track/event", json={"contact_uid": "g", "event_uid": "read"}).status_code == 201
            started = time.monotonic()
            events = http.get("/v1/contacts/g/events")
            assert time.monotonic() - started < 2.0  # not the 4 s of gathering: the read hurried it
            assert "salesmachine-read-stale" not in events.headers
            assert sorted(e["event_uid"] for e in events.json()["data"]) == ["held", "read"]
    finally:
        code = server.stop()
    assert code == 0
    assert "Traceback" not in server.log()


def test_the_counters_file_lost_with_writes_waiting_loses_nothing(own_database: str, tmp_path: Path) -> None:
    """The counters beside the journal are written without fsync (ingest/journal.py): with
    writes waiting in the journal, the server killed and the counters file deleted, the next
    start applies every acknowledged write once and counts the depth right."""
    project, secret = make_project(own_database)
    server = start(own_database, tmp_path)
    with httpx.Client(base_url=server.base_url, auth=(project.token, secret), timeout=30) as http:
        assert http.post("/v1/track/event", json={"contact_uid": "c", "event_uid": "before"}).status_code == 201
        assert len(http.get("/v1/contacts/c/events").json()["data"]) == 1  # applied: the mirror moved
        [projector] = server_children(server, "sm-projector")
        os.kill(projector, signal.SIGSTOP)
        for n in range(3):
            event = {"contact_uid": "c", "event_uid": "waiting", "params": {"n": n}}
            assert http.post("/v1/track/event", json=event).status_code == 201
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    counters = journal_path(own_database).with_name(journal_path(own_database).name + "-counters")
    assert counters.exists()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{counters}{suffix}").unlink(missing_ok=True)

    server = start(own_database, tmp_path)
    try:
        with httpx.Client(base_url=server.base_url, auth=(project.token, secret), timeout=30) as http:
            events = http.get("/v1/contacts/c/events")
            assert "salesmachine-read-stale" not in events.headers
            assert sorted(e["event_uid"] for e in events.json()["data"]) == ["before", "waiting", "waiting", "waiting"]
            assert http.post("/v1/track/event", json={"contact_uid": "c", "event_uid": "after"}).status_code == 201
            assert len(http.get("/v1/contacts/c/events").json()["data"]) == 5
            assert metric(http, "salesmachine_journal_depth_items") == 0
            assert metric(http, "salesmachine_journal_depth_bytes") == 0
    finally:
        code = server.stop()
    assert code == 0
    assert "Traceback" not in server.log()


def test_past_the_journal_budget_writes_are_503(own_database: str, tmp_path: Path) -> None:
    project, secret = make_project(own_database)
    server = start(own_database, tmp_path, SALESMACHINE_JOURNAL_BUDGET_BYTES="500")
    try:
        [projector] = server_children(server, "sm-projector")
        with httpx.Client(base_url=server.base_url, auth=(project.token, ""), timeout=30) as http:
            os.kill(projector, signal.SIGSTOP)
            batch = [{"method": "event", "contact_uid": "b", "event_uid": "e", "params": {"i": i}} for i in range(40)]
            assert http.post("/v1/batch", json=batch).status_code == 201  # the journal was empty
            refused = http.post("/v1/batch", json=batch)
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "5"
            assert "journal is full" in refused.json()["message"]
            os.kill(projector, signal.SIGCONT)
            deadline = time.monotonic() + 10
            while http.post("/v1/batch", json=batch).status_code != 201:
                assert time.monotonic() < deadline, "writes were not taken again once the projector caught up"
                time.sleep(0.1)
        with httpx.Client(base_url=server.base_url, auth=(project.token, secret), timeout=30) as http:
            assert len(http.get("/v1/contacts/b/events", params={"limit": 1000}).json()["data"]) == 80
    finally:
        for pid in server_children(server, "sm-projector"):
            os.kill(pid, signal.SIGCONT)
        server.stop()
    assert "journal over its budget" in server.log()


def test_serve_runs_the_workers_asked_for_and_restarts_one_that_dies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/salesmachine.db"
    project, _ = make_project(url)
    server = start(url, tmp_path, "--workers", "3")
    try:
        workers = server_children(server, "sm-worker")
        assert len(workers) == 3 and len(server_children(server, "sm-projector")) == 1
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while len(set(server_children(server, "sm-worker")) - {workers[0]}) < 3:
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.1)
        with httpx.Client(base_url=server.base_url, auth=(project.token, ""), timeout=30) as http:
            for n in range(30):  # new connections, spread over the workers by the kernel
                assert (
                    http.post("/v1/contact", json={"contact_uid": f"w{n}"}, headers={"connection": "close"}).status_code
                    == 201
                )
        assert server.stop() == 0
        assert "a request worker (pid" in server.log()
    finally:
        server.stop()


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_the_projector_runs_at_its_niceness_and_the_workers_at_the_servers(tmp_path: Path) -> None:
    """When every core is busy, acknowledging comes first (supervisor.py `_run_projector`): the
    projector runs `projector_niceness` below the process that started the server."""
    server = start(f"sqlite:///{tmp_path}/salesmachine.db", tmp_path, SALESMACHINE_PROJECTOR_NICENESS="7")
    try:
        assert server.process is not None
        started = niceness(server.process.pid)
        [projector] = server_children(server, "sm-projector")
        assert niceness(projector) == min(started + 7, 19)
        assert {niceness(pid) for pid in server_children(server, "sm-worker")} == {started}
    finally:
        assert server.stop() == 0
