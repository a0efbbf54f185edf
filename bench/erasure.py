"""5. Ingestion while a contact with 1,000,000 events is erased (issue 22).

The erasure deletes in small transactions (server/src/salesmachine_server/store/write/erasure.py)
so that the one writer, which every write request waits on, is never held long. Measured: single
event calls (wrk, `write.lua`, 8 connections) for 5 s before the erasure (the limit: the same
server, same load, no erasure) and in 5 s windows while `DELETE /v1/contacts/{uid}` runs; the
figure is the worst window's p99 and the longest single request during it. Target: no request
waits 1 s or more (ingestion never stops for a second), and no failure.

The contact's events are made by SQL inside the database (a recursive CTE on SQLite,
generate_series on PostgreSQL), with their active days, so that seeding takes seconds.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.request
from typing import Any

import harness
from harness import WrkResult, basic, wrk

UID = "erase-bench-person"
CONNECTIONS = 8
WINDOW_SECONDS = 5
TARGET_MAX_MS = 1000

_SEED = {
    "sqlite": [
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :events) "
        "INSERT INTO events (project_id, contact_id, name, kind, params, occurred_at, received_at) "
        "SELECT :project, :contact, CASE WHEN i % 5 = 0 THEN 'pageview' ELSE 'used' END, "
        "CASE WHEN i % 5 = 0 THEN 'pageview' ELSE 'event' END, '{\"n\": ' || i || '}', "
        "strftime('%Y-%m-%d %H:%M:%f000', 'now', '-' || (i % 365) || ' days', '-' || (i % 86400) || ' seconds'), "
        "strftime('%Y-%m-%d %H:%M:%f000', 'now') FROM n",
        "INSERT INTO contact_days (contact_id, day, project_id, events) SELECT contact_id, date(occurred_at), "
        "project_id, count(*) FROM events WHERE contact_id = :contact GROUP BY 1, 2, 3 "
        "ON CONFLICT (contact_id, day) DO UPDATE SET events = excluded.events",
    ],
    "postgres": [
        "INSERT INTO events (project_id, contact_id, name, kind, params, occurred_at, received_at) "
        "SELECT %(project)s, %(contact)s, CASE WHEN i %% 5 = 0 THEN 'pageview' ELSE 'used' END, "
        "CASE WHEN i %% 5 = 0 THEN 'pageview' ELSE 'event' END, jsonb_build_object('n', i), "
        "now() at time zone 'utc' - make_interval(days => i %% 365, secs => i %% 86400), "
        "now() at time zone 'utc' FROM generate_series(1, %(events)s) AS i",
        "INSERT INTO contact_days (contact_id, day, project_id, events) SELECT contact_id, occurred_at::date, "
        "project_id, count(*) FROM events WHERE contact_id = %(contact)s GROUP BY 1, 2, 3 "
        "ON CONFLICT (contact_id, day) DO UPDATE SET events = excluded.events",
    ],
}


def seed(engine: str, url: str, project_id: int, contact_id: int, events: int) -> None:
    params = {"project": project_id, "contact": contact_id, "events": events}
    if engine == "sqlite":
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            for sql in _SEED["sqlite"]:
                conn.execute(sql, params)
            conn.commit()
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(url) as conn:
        for sql in _SEED["postgres"]:
            conn.execute(sql, params)


def _request(url: str, method: str, authorization: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": authorization, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=3600) as answer:
        return json.loads(answer.read())


def _contact_id(engine: str, url: str, project_id: int) -> int:
    sql = "SELECT contact_id FROM contact_uids WHERE project_id = {p} AND uid = {p}"
    if engine == "sqlite":
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return int(conn.execute(sql.format(p="?"), (project_id, UID)).fetchone()[0])
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(sql.format(p="%s"), (project_id, UID)).fetchone()
        assert row is not None
        return int(row[0])


def measure(engine: str, url: str, singles_file: str, events: int) -> dict[str, Any]:
    """Seed, then ingest before and during the erasure; what the row reports."""
    project = harness.create_project(url)
    writer, reader = basic(project["token"]), basic(project["token"], project["secret"])
    with harness.salesmachine_server(f"erasure-{engine}", url) as server:
        _request(f"{server.url}/v1/track/event", "POST", writer, {"contact_uid": UID, "event_uid": "first"})
        started = time.perf_counter()
        seed(engine, url, project["id"], _contact_id(engine, url, project["id"]), events)
        seeded = time.perf_counter() - started
        load = [str(singles_file), writer]
        before = wrk(f"{server.url}/v1/track/event", "write.lua", load, CONNECTIONS, WINDOW_SECONDS)
        receipt: dict[str, Any] = {}

        def erase() -> None:
            receipt.update(_request(f"{server.url}/v1/contacts/{UID}", "DELETE", reader))
            receipt["seconds"] = time.perf_counter() - erase_started

        eraser = threading.Thread(target=erase, name="erasure")
        erase_started = time.perf_counter()
        eraser.start()
        during: list[WrkResult] = []
        while eraser.is_alive() or not during:
            during.append(wrk(f"{server.url}/v1/track/event", "write.lua", load, CONNECTIONS, WINDOW_SECONDS))
        eraser.join()
    removed = receipt.get("removed", {})
    return {
        "server": server, "before": before, "during": during, "seeded_seconds": seeded,
        "erase_seconds": receipt.get("seconds", 0.0), "removed": removed.get("events", 0) + removed.get("pageviews", 0),
    }
