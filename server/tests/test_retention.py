"""Retention (docs/privacy.md, Retention): the server deletes the events and pageviews a project
keeps no longer, by itself, in batches that leave ingestion running; with several servers on one
PostgreSQL, one of them does it at a time (the lease, serving/periodic.py).

Each test has a database of its own: a lease is per database, and the session's server holds
the one of its database.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import insert

from salesmachine_server.store.db.schema import events
from tests.dashboard_support import csrf_of, make_user, signed_in
from tests.support import ServerProcess, StoredData, make_project, postgres_database

# Every half second each server looks at its leases; retention runs every second.
QUICK = {"SALESMACHINE_PERIODIC_CHECK_SECONDS": "0.5", "SALESMACHINE_RETENTION_INTERVAL_SECONDS": "1"}
RULE = "retention_days must be a whole number of days from 1 to 36500, or none to keep events forever"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/retention.db"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """Servers started by the test (`start`), all stopped at its end."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()


def start(servers: list[ServerProcess], database_url: str, tmp_path: Path) -> ServerProcess:
    log = tmp_path / f"server-{len(servers)}.log"
    server = ServerProcess(database_url, log, env=QUICK).start()
    servers.append(server)
    return server


def settings_of(stored: StoredData) -> dict[str, Any]:
    (settings,) = stored.rows("SELECT settings FROM projects WHERE id = :project")[0]
    return orjson.loads(settings) if isinstance(settings, str) else dict(settings)


def iso(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "salesmachine_server", *args], capture_output=True, text=True, timeout=60
    )


def wait_for(condition: object, seconds: float = 20.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds}s"
        time.sleep(0.1)


def runs(server: ServerProcess) -> float:
    """Completed retention runs of that server process, from its /metrics."""
    text = httpx.get(f"{server.base_url}/metrics", timeout=5).text
    found = re.search(
        r'^salesmachine_periodic_runs_total\{(?=[^}]*task="retention")(?=[^}]*outcome="completed")'
        r"[^}]*\} (\S+)$",
        text,
        re.MULTILINE,
    )
    return float(found.group(1)) if found else 0.0


def holds(server: ServerProcess) -> bool:
    text = httpx.get(f"{server.base_url}/metrics", timeout=5).text
    return re.search(r'^salesmachine_periodic_lease_held\{task="retention"\} 1\.0$', text, re.MULTILINE) is not None


def test_retention_deletes_only_the_older_events_of_its_project(
    database_url: str, servers: list[ServerProcess], tmp_path: Path
) -> None:
    server = start(servers, database_url, tmp_path)
    kept, _ = make_project(database_url)
    trimmed, secret = make_project(database_url)
    for project in (kept, trimmed):
        with httpx.Client(base_url=server.base_url, auth=(project.token, ""), timeout=30) as http:
            http.post(
                "/v1/contact",
                json={"contact_uid": "ada", "params": {"mrr": 50, "account_uid": "acme"}, "created_at": iso(90)},
            ).raise_for_status()
            for days in (60, 45, 2):
                http.post(
                    "/v1/track/event", json={"contact_uid": "ada", "event_uid": "login", "created_at": iso(days)}
                ).raise_for_status()
                http.post(
                    "/v1/track/pageview",
                    json={"contact_uid": "ada", "params": {"location": "/home"}, "created_at": iso(days)},
                ).raise_for_status()
    stored = {p.id: StoredData(database_url, p.id) for p in (kept, trimmed)}
    try:
        active_days = {pid: s.count("contact_days") for pid, s in stored.items()}
        assert active_days == {kept.id: 3, trimmed.id: 3}

        configured = cli("projects", "configure", trimmed.name, "--retention-days", "30", "--database", database_url)
        assert configured.returncode == 0, configured.stderr
        assert '"retention_days":30' in configured.stdout

        wait_for(lambda: stored[trimmed.id].count("events") == 2)
        # What happened 2 days ago stays, event and pageview; the other project keeps everything.
        left = stored[trimmed.id].rows("SELECT kind FROM events WHERE project_id = :project ORDER BY kind")
        assert [kind for (kind,) in left] == ["event", "pageview"]
        assert stored[kept.id].count("events") == 6
        # History stays: active days, the profile, its account and revenue.
        assert stored[trimmed.id].count("contact_days") == 3
        assert stored[trimmed.id].count("mrr_changes") >= 1
        with httpx.Client(base_url=server.base_url, auth=(trimmed.token, secret), timeout=30) as reader:
            profile = reader.get("/v1/contacts/ada")
            assert profile.status_code == 200, profile.text
            timeline = reader.get("/v1/contacts/ada/events").json()
        assert len(timeline["data"]) == 2

        # A new time zone recounts active days from the events held, keeping the days before them.
        moved = cli("projects", "configure", trimmed.name, "--timezone", "Asia/Tokyo", "--database", database_url)
        assert moved.returncode == 0, moved.stderr
        assert stored[trimmed.id].count("contact_days") == 3

        cleared = cli("projects", "configure", trimmed.name, "--retention-days", "none", "--database", database_url)
        assert cleared.returncode == 0, cleared.stderr
        assert "retention_days" not in cleared.stdout
    finally:
        for data in stored.values():
            data.close()


def test_a_write_during_a_large_deletion_answers_within_a_second(
    database_url: str, servers: list[ServerProcess], tmp_path: Path
) -> None:
    server = start(servers, database_url, tmp_path)
    project, _ = make_project(database_url)
    http = httpx.Client(base_url=server.base_url, auth=(project.token, ""), timeout=30)
    stored = StoredData(database_url, project.id)
    try:
        http.post("/v1/contact", json={"contact_uid": "old-timer"}).raise_for_status()
        contact_id = stored.contact_id("old-timer")
        old = 100_000  # 20 batches of 5,000
        when = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=400)
        rows = [
            {
                "project_id": project.id,
                "contact_id": contact_id,
                "name": "old",
                "kind": "event",
                "params": {},
                "occurred_at": when,
                "received_at": when,
            }
            for _ in range(5_000)
        ]
        with stored.engines.writer.begin() as conn:
            for _ in range(old // len(rows)):
                conn.execute(insert(events), rows)
        count_old = "SELECT count(*) FROM events WHERE project_id = :project AND name = 'old'"

        assert (
            cli("projects", "configure", project.name, "--retention-days", "7", "--database", database_url).returncode
            == 0
        )
        latencies, seen_between = [], 0
        deadline = time.monotonic() + 120
        while True:
            began = time.monotonic()
            answer = http.post("/v1/track/event", json={"contact_uid": "writer", "event_uid": "tick"})
            latencies.append(time.monotonic() - began)
            assert answer.status_code == 201, answer.text
            left = stored.rows(count_old)[0][0]
            if 0 < left < old:
                seen_between += 1  # a write answered while the deletion was half way
            if left == 0:
                break
            assert time.monotonic() < deadline, f"{left} old events still there"
        assert seen_between >= 3, "the deletion was not seen in progress: not in batches, or too fast to tell"
        assert max(latencies) < 1.0, sorted(latencies)[-5:]
        assert stored.rows("SELECT count(*) FROM events WHERE project_id = :project AND name = 'tick'")[0][0] == len(
            latencies
        )
    finally:
        http.close()
        stored.close()


def test_two_servers_on_one_database_run_retention_one_at_a_time(
    database_url: str, servers: list[ServerProcess], tmp_path: Path
) -> None:
    first = start(servers, database_url, tmp_path)
    second = start(servers, database_url, tmp_path)
    wait_for(lambda: runs(first) + runs(second) >= 3)
    holder, other = (first, second) if holds(first) else (second, first)
    assert holds(holder) and not holds(other)
    before = runs(holder)
    time.sleep(2.5)  # five looks each, retention due every second
    assert runs(holder) > before
    assert runs(other) == 0 and not holds(other)

    assert holder.stop() == 0
    wait_for(lambda: runs(other) >= 2, seconds=15)
    assert holds(other)
    stored = StoredData(database_url, 0)
    try:
        (held_by,) = stored.rows("SELECT holder FROM leases WHERE task = 'retention'")[0]
    finally:
        stored.close()
    assert other.process is not None and f":{other.process.pid}:" in held_by


def test_a_bad_retention_setting_is_refused_naming_field_and_rule(
    database_url: str, servers: list[ServerProcess], tmp_path: Path
) -> None:
    server = start(servers, database_url, tmp_path)
    project, _ = make_project(database_url, retention_days=90)
    for typed in ("0", "ninety", "36501", "²"):
        refused = cli("projects", "configure", project.name, "--retention-days", typed, "--database", database_url)
        assert refused.returncode == 2, refused.stdout
        assert "--retention-days" in refused.stderr and RULE in " ".join(refused.stderr.split()), refused.stderr

    email = make_user(database_url, project.id)
    stored = StoredData(database_url, project.id)
    form = {"window_days": "14", "good_above": "4", "bad_at_most": "0", "timezone": "UTC"}
    try:
        with signed_in(server.base_url, email) as browser:
            page = browser.get(f"/p/{project.id}/settings").text
            assert 'name="retention_days" min="1" max="36500" value="90"' in page
            csrf = csrf_of(page)
            for typed in ("0", "1.5", "9" * 5000):
                answer = browser.post(f"/p/{project.id}/settings", data={**form, "csrf": csrf, "retention_days": typed})
                assert answer.status_code == 400
                assert RULE in answer.text
            assert settings_of(stored).get("retention_days") == 90

            saved = browser.post(f"/p/{project.id}/settings", data={**form, "csrf": csrf, "retention_days": "30"})
            assert saved.status_code == 303
            assert 'name="retention_days" min="1" max="36500" value="30"' in browser.get(saved.headers["location"]).text
            # An empty field keeps events forever.
            browser.post(f"/p/{project.id}/settings", data={**form, "csrf": csrf, "retention_days": ""})
            assert "retention_days" not in settings_of(stored)
    finally:
        stored.close()
