"""Export streams everything; importing the export into an empty project gives the same profiles."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from tests.support import Project, ServerProcess, make_project
from tests.test_read_api import events_on, reader, send

HISTORY = [
    {"method": "account", "account_uid": "acme", "created_at": "2024-01-01T00:00:00Z",
     "params": {"name": "Acme", "mrr": 100}},
    {"method": "account", "account_uid": "acme", "created_at": "2024-02-01T00:00:00Z", "params": {"mrr": 300}},
    {"method": "account", "account_uid": "beta", "created_at": "2024-01-15T00:00:00Z", "params": {"name": "Beta, Inc."}},
    {"method": "contact", "contact_uid": "anon", "created_at": "2024-01-02T00:00:00Z", "params": {"seen": "ads"}},
    {"method": "contact", "contact_uid": "u1", "created_at": "2024-01-03T00:00:00Z",
     "params": {"name": "Ann \"Quote\" Lee", "email": "ann@acme.io", "account_uid": ["acme", "beta"], "mrr": 9}},
    {"method": "alias", "contact_uid": "u1", "alias": "anon"},
    {"method": "contact", "contact_uid": "u2", "created_at": "2024-01-04T00:00:00Z",
     "params": {"name": "Bob", "account_uid": "beta", "tags": ["a", "b"], "nested": {"x": 1}}},
    {"method": "event", "contact_uid": "u1", "event_uid": "signup", "created_at": "2024-01-03T00:00:00Z",
     "params": {"account_uid": "acme"}, "messageId": "m-1"},
    {"method": "pageview", "contact_uid": "u2", "created_at": "2024-01-05T00:00:00Z", "params": {"visit_url": "/x,y"}},
    *events_on("u1", [0, 1, 5], name="used"),
    *events_on("u2", [2], name="used"),
]


def export(project: Project, kind: str, fmt: str) -> bytes:
    with reader(project) as http:
        response = http.get(f"/v1/export/{kind}", params={"format": fmt})
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].endswith(f'-{kind}.{fmt}"')
    return response.content


def test_export_formats_hold_every_field(project: Project) -> None:
    send(project, HISTORY)
    contacts = [orjson.loads(line) for line in export(project, "contacts", "ndjson").splitlines()]
    u1 = next(c for c in contacts if c["contact_uid"] == "anon")
    assert u1["aliases"] == ["u1"] and u1["accounts"] == ["acme", "beta"]
    assert u1["mrr_history"] == [{"mrr": 9.0, "effective_at": "2024-01-03T00:00:00Z"}]
    events_csv = list(csv.DictReader(io.StringIO(export(project, "events", "csv").decode())))
    assert len(events_csv) == 6
    signup = next(e for e in events_csv if e["event_uid"] == "signup")
    assert signup["contact_uid"] == "anon" and signup["account_uid"] == "acme" and signup["message_id"] == "m-1"
    assert orjson.loads(signup["params"]) == {"account_uid": "acme"}
    assert [e["params"] for e in events_csv if e["kind"] == "pageview"] == ['{"visit_url":"/x,y"}']


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_importing_an_export_into_an_empty_project_reproduces_the_profiles(
    project: Project, server: ServerProcess, tmp_path: Path, fmt: str
) -> None:
    send(project, HISTORY)
    target, target_secret = make_project(server.database_url)
    for kind in ("accounts", "contacts", "events"):
        path = tmp_path / f"{kind}.{fmt}"
        path.write_bytes(export(project, kind, fmt))
        result = subprocess.run(
            [sys.executable, "-m", "salesmachine_server", "import", str(path), "--project", target.name,
             "--database", server.database_url], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "0 refused" in result.stdout

    def profiles(token: str, secret: str) -> dict:
        with httpx.Client(base_url=server.base_url, auth=(token, secret)) as http:
            everything = {}
            for uid in ("anon", "u1", "u2"):
                everything[uid] = http.get(f"/v1/contacts/{uid}").json()
            for uid in ("acme", "beta"):
                everything[uid] = http.get(f"/v1/accounts/{uid}").json()
            timeline = http.get("/v1/events").json()["data"]
            everything["events"] = [{k: v for k, v in e.items() if k not in ("id", "received_at")} for e in timeline]
            return everything

    assert profiles(target.token, target_secret) == profiles(project.token, project.secret)


def test_import_refuses_bad_rows_and_says_which(server: ServerProcess, tmp_path: Path) -> None:
    target, _ = make_project(server.database_url)
    path = tmp_path / "events.ndjson"
    path.write_text('{"contact_uid": "a", "event_uid": "ok"}\n{"contact_uid": "b", "event_uid": "x", "created_at": "soon"}\n')
    result = subprocess.run(
        [sys.executable, "-m", "salesmachine_server", "import", str(path), "--project", target.name,
         "--database", server.database_url], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "2 rows, 1 messages applied" in result.stdout and "1 refused" in result.stdout
    assert "row 2: created_at must be an ISO-8601 time" in result.stderr


def test_changing_the_time_zone_recounts_active_days(project: Project, server: ServerProcess) -> None:
    # 23:30 UTC yesterday and 00:30 UTC today: two days in UTC, one day in UTC+9 (Tokyo).
    from datetime import datetime, timedelta, timezone

    today = datetime.now(timezone.utc).replace(hour=0, minute=30, second=0, microsecond=0)
    send(project, [
        {"method": "event", "contact_uid": "z", "event_uid": "e", "created_at": (today - timedelta(hours=1)).isoformat()},
        {"method": "event", "contact_uid": "z", "event_uid": "e", "created_at": today.isoformat()},
    ])
    with reader(project) as http:
        assert http.get("/v1/contacts/z").json()["active_days_14"] == 2
    result = subprocess.run(
        [sys.executable, "-m", "salesmachine_server", "projects", "configure", project.name, "--timezone",
         "Asia/Tokyo", "--database", server.database_url], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["timezone"] == "Asia/Tokyo"
    with reader(project) as http:
        assert http.get("/v1/contacts/z").json()["active_days_14"] == 1
    bad = subprocess.run(
        [sys.executable, "-m", "salesmachine_server", "projects", "configure", project.name, "--timezone",
         "Mars/Olympus", "--database", server.database_url], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "unknown time zone" in bad.stderr
