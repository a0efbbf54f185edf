"""Export streams everything; importing the export into an empty project gives the same profiles."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC
from pathlib import Path
from types import SimpleNamespace

import httpx
import orjson
import pytest

from tests.support import Project, ServerProcess, StoredData, health_settled, make_project, path_part, wait_for
from tests.test_enrichment import CHROME_WINDOWS
from tests.test_read_api import events_on, reader, send

FORMULA_UID = '=HYPERLINK("http://evil.example/","see")'
HISTORY = [
    {
        "method": "account",
        "account_uid": "acme",
        "created_at": "2024-01-01T00:00:00Z",
        "params": {"name": "Acme", "mrr": 100},
    },
    {"method": "account", "account_uid": "acme", "created_at": "2024-02-01T00:00:00Z", "params": {"mrr": 300}},
    {
        "method": "account",
        "account_uid": "beta",
        "created_at": "2024-01-15T00:00:00Z",
        "params": {"name": "Beta, Inc."},
    },
    {"method": "contact", "contact_uid": "anon", "created_at": "2024-01-02T00:00:00Z", "params": {"seen": "ads"}},
    {
        "method": "contact",
        "contact_uid": "u1",
        "created_at": "2024-01-03T00:00:00Z",
        "params": {"name": 'Ann "Quote" Lee', "email": "ann@acme.io", "account_uid": ["acme", "beta"], "mrr": 9},
    },
    {"method": "alias", "contact_uid": "u1", "alias": "anon"},
    {
        "method": "contact",
        "contact_uid": "u2",
        "created_at": "2024-01-04T00:00:00Z",
        "params": {"name": "Bob", "account_uid": "beta", "tags": ["a", "b"], "nested": {"x": 1}},
    },
    {
        "method": "event",
        "contact_uid": "u1",
        "event_uid": "signup",
        "created_at": "2024-01-03T00:00:00Z",
        "params": {"account_uid": "acme"},
        "messageId": "m-1",
    },
    {"method": "pageview", "contact_uid": "u2", "created_at": "2024-01-05T00:00:00Z", "params": {"visit_url": "/x,y"}},
    *events_on("u1", [0, 1, 5], name="used"),
    *events_on("u2", [2], name="used"),
    # Two events alike in every field and without message id: both are kept, by import too.
    *[
        {
            "method": "event",
            "contact_uid": "u2",
            "event_uid": "click",
            "created_at": "2024-01-05T10:00:00Z",
            "params": {"n": 1},
        }
    ]
    * 2,
    # Where from and with what (enrichment): exported, and imported back.
    {
        "method": "pageview",
        "contact_uid": "u2",
        "created_at": "2024-01-05T11:00:00Z",
        "params": {"visit_ip": "8.8.8.8", "visit_agent": CHROME_WINDOWS},
    },
    # An event's account is the one it had: u3's event was beta's while u3 was only in beta,
    # and loner's event was nobody's; importing must not attribute them again by membership.
    {"method": "contact", "contact_uid": "u3", "created_at": "2024-01-07T00:00:00Z", "params": {"account_uid": "beta"}},
    {"method": "event", "contact_uid": "u3", "event_uid": "while_in_beta", "created_at": "2024-01-08T00:00:00Z"},
    {"method": "contact", "contact_uid": "u3", "created_at": "2024-01-09T00:00:00Z", "params": {"account_uid": "acme"}},
    {
        "method": "event",
        "contact_uid": "loner",
        "event_uid": "before_any_account",
        "created_at": "2024-01-08T00:00:00Z",
    },
    {
        "method": "contact",
        "contact_uid": "loner",
        "created_at": "2024-01-09T00:00:00Z",
        "params": {"account_uid": "acme"},
    },
    # What a spreadsheet would run as formulas (issue 16 item 3), and one that only looks neutralised.
    {"method": "account", "account_uid": "@acct", "created_at": "2024-01-06T00:00:00Z", "params": {"name": "=1+1"}},
    {
        "method": "event",
        "contact_uid": FORMULA_UID,
        "event_uid": "+SUM(1,2)",
        "created_at": "2024-01-06T00:00:00Z",
        "messageId": "@m-2",
    },
    {"method": "event", "contact_uid": "-2+3", "event_uid": "\tTAB", "created_at": "2024-01-06T00:00:00Z"},
    {"method": "event", "contact_uid": "\rCR", "event_uid": "'=quoted", "created_at": "2024-01-06T00:00:00Z"},
]
CONTACT_UIDS = ("anon", "u1", "u2", "u3", "loner", FORMULA_UID, "-2+3", "\rCR")
ACCOUNT_UIDS = ("acme", "beta", "@acct")


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
    assert len(events_csv) == 14
    signup = next(e for e in events_csv if e["event_uid"] == "signup")
    assert signup["contact_uid"] == "anon" and signup["account_uid"] == "acme" and signup["message_id"] == "m-1"
    assert orjson.loads(signup["params"]) == {"account_uid": "acme"}
    assert next(orjson.loads(e["params"]) for e in events_csv if e["kind"] == "pageview") == {"visit_url": "/x,y"}


ENRICHMENT = {
    "ip_scope": "public",
    "country": "US",
    "region": None,
    "city": None,
    "latitude": None,
    "longitude": None,
    "browser": "Chrome",
    "browser_version": "120.0.0.0",
    "os": "Windows",
    "os_version": "10",
    "device": "desktop",
}


def test_events_export_holds_the_enrichment_fields(project: Project) -> None:
    send(project, HISTORY)
    events = [orjson.loads(line) for line in export(project, "events", "ndjson").splitlines()]
    located = next(e for e in events if e["params"].get("visit_ip") == "8.8.8.8")
    assert {k: located[k] for k in ENRICHMENT} == ENRICHMENT
    server_side = next(e for e in events if e["event_uid"] == "signup")
    assert all(server_side[k] is None for k in ENRICHMENT)
    rows = list(csv.DictReader(io.StringIO(export(project, "events", "csv").decode())))
    located_csv = next(e for e in rows if "8.8.8.8" in e["params"])
    assert {k: located_csv[k] for k in ENRICHMENT} == {k: "" if v is None else v for k, v in ENRICHMENT.items()}


def test_csv_export_neutralises_formulas(project: Project) -> None:
    """OWASP's advice: a cell starting with = + - @ TAB or CR gets a leading single quote (and
    is quoted), so a spreadsheet shows it as text instead of running it."""
    send(project, HISTORY)
    events_bytes = export(project, "events", "csv")
    rows = list(csv.DictReader(io.StringIO(events_bytes.decode())))
    cells = {(e["contact_uid"], e["event_uid"], e["message_id"]) for e in rows}
    assert ("'" + FORMULA_UID, "'+SUM(1,2)", "'@m-2") in cells
    assert ("'-2+3", "'\tTAB", "") in cells
    # A value that already starts with quotes before a formula character gets one more, so
    # the importer can take exactly one away.
    assert ("'\rCR", "''=quoted", "") in cells
    assert b'"\'=HYPERLINK(""http://evil.example/"",""see"")"' in events_bytes
    assert ("anon", "signup", "m-1") in cells  # nothing else changes
    contacts = list(csv.DictReader(io.StringIO(export(project, "contacts", "csv").decode())))
    assert {"'" + FORMULA_UID, "'-2+3", "'\rCR", "u1"} <= {c["contact_uid"] for c in contacts} | {"u1"}
    accounts = list(csv.DictReader(io.StringIO(export(project, "accounts", "csv").decode())))
    assert "'@acct" in {a["account_uid"] for a in accounts}
    # Every cell (these exports have no negative number): none starts with a formula character.
    for kind in ("contacts", "accounts", "events"):
        for row in csv.reader(io.StringIO(export(project, kind, "csv").decode())):
            assert not [cell for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")], (kind, row)
    # NDJSON is not for spreadsheets: values as they are.
    ndjson = [orjson.loads(line) for line in export(project, "events", "ndjson").splitlines()]
    assert FORMULA_UID in {e["contact_uid"] for e in ndjson}


def import_file(server: ServerProcess, target_name: str, path: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "salesmachine_server",
            "import",
            str(path),
            "--project",
            target_name,
            "--database",
            server.database_url,
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def profiles(server: ServerProcess, token: str, secret: str) -> dict:
    """Everything the read API says of HISTORY's contacts, accounts and events."""
    with httpx.Client(base_url=server.base_url, auth=(token, secret)) as http:
        everything = {}
        for uid in CONTACT_UIDS:
            everything[uid] = http.get(f"/v1/contacts/{path_part(uid)}").json()
        for uid in ACCOUNT_UIDS:
            everything[uid] = http.get(f"/v1/accounts/{path_part(uid)}").json()
        timeline = http.get("/v1/events", params={"limit": 1000}).json()["data"]
        everything["events"] = [{k: v for k, v in e.items() if k not in ("id", "received_at")} for e in timeline]
        return everything


def settle(server: ServerProcess, project_id: int) -> None:
    """Wait for the health history of a project the importer wrote to: a profile's health
    `since` comes from it, and the server's health task builds it after the import
    (docs/health.md: the history lags writes by the task's interval)."""
    imported = SimpleNamespace(id=project_id, stored=StoredData(server.database_url, project_id))
    try:
        wait_for(lambda: health_settled(imported))
    finally:
        imported.stored.close()


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_importing_an_export_into_an_empty_project_reproduces_the_profiles(
    project: Project, server: ServerProcess, tmp_path: Path, fmt: str
) -> None:
    send(project, HISTORY)
    target, target_secret = make_project(server.database_url)
    for kind in ("accounts", "contacts", "events"):
        path = tmp_path / f"{kind}.{fmt}"
        path.write_bytes(export(project, kind, fmt))
        result = import_file(server, target.name, path)
        assert result.returncode == 0, result.stderr
        assert "0 refused" in result.stdout
    wait_for(lambda: health_settled(project))
    settle(server, target.id)
    original = profiles(server, project.token, project.secret)
    assert all("error" not in profile for profile in original.values() if isinstance(profile, dict))
    assert profiles(server, target.token, target_secret) == original


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_importing_the_same_export_twice_changes_nothing(
    project: Project, server: ServerProcess, tmp_path: Path, fmt: str
) -> None:
    send(project, HISTORY)
    target, target_secret = make_project(server.database_url)
    for kind in ("accounts", "contacts", "events"):
        path = tmp_path / f"{kind}.{fmt}"
        path.write_bytes(export(project, kind, fmt))
        assert import_file(server, target.name, path).returncode == 0
    settle(server, target.id)
    once = profiles(server, target.token, target_secret)
    again = import_file(server, target.name, tmp_path / f"events.{fmt}")
    assert again.returncode == 0, again.stderr
    assert "14 rows, 14 messages applied (14 already there), 0 refused" in again.stdout
    settle(server, target.id)
    assert profiles(server, target.token, target_secret) == once
    assert len(once["events"]) == 14


def test_import_refuses_bad_rows_and_says_which(server: ServerProcess, tmp_path: Path) -> None:
    target, _ = make_project(server.database_url)
    path = tmp_path / "events.ndjson"
    path.write_text(
        '{"contact_uid": "a", "event_uid": "ok"}\n{"contact_uid": "b", "event_uid": "x", "created_at": "soon"}\n'
        '\n{"contact_uid": "c", "event_uid": \n[1, 2]\n{"event_uid": "x"}\n{"contact_uid": "e", "event_uid": "ok"}\n'
    )
    result = import_file(server, target.name, path)
    assert result.returncode == 1
    assert "6 rows, 2 messages applied (0 already there), 4 refused" in result.stdout
    assert "line 2: created_at must be an ISO-8601 time" in result.stderr
    assert "line 4: not JSON" in result.stderr
    assert "line 5: each line must be a JSON object" in result.stderr
    assert "line 6: contact_uid is required" in result.stderr
    stored = StoredData(server.database_url, target.id)
    try:
        assert {row.field for row in stored.rejected()} == {"created_at", "body", "contact_uid"}
        assert stored.count("events") == 2
    finally:
        stored.close()


def test_csv_import_reports_the_line_of_a_refused_row(server: ServerProcess, tmp_path: Path) -> None:
    target, _ = make_project(server.database_url)
    path = tmp_path / "contacts.csv"
    # The first row's params span two lines: the bad row is on line 4 of the file.
    path.write_text('contact_uid,params\nu1,"{""bio"":\n""two lines""}"\nu2,{}\nu3,{not json\nu4,"[1]"\n,{}\n')
    result = import_file(server, target.name, path)
    assert result.returncode == 1, result.stdout
    assert "5 rows, 2 messages applied (0 already there), 3 refused" in result.stdout
    assert "line 5: params: not JSON" in result.stderr
    assert "line 6: params must be a JSON object" in result.stderr
    assert "line 7: cannot tell what this row is" in result.stderr


CRM_ACCOUNTS = """account_uid,name,domain,plan,mrr,trial,renews_on,zip,phone,seats,delta
acme,Acme,acme.io,pro,99.5,false,2025-01-31,02134,+33 1 23 45 67 89,12,-5
beta,"Beta, Inc.",beta.io,starter,0,TRUE,2025-02-01 10:30,75001,,3,-0.5
gamma,Gamma,,free,,,,,,,
"""
CRM_CONTACTS = """contact_uid,email,name,account_uid
c1,ann@acme.io,Ann,acme
c2,bob@beta.io,Bob,beta
c3,cy@example.com,Cy,
"""


def test_import_keeps_plain_columns_as_attributes(project: Project, server: ServerProcess, tmp_path: Path) -> None:
    (tmp_path / "accounts.csv").write_text(CRM_ACCOUNTS)
    (tmp_path / "contacts.csv").write_text(CRM_CONTACTS)
    for kind in ("accounts", "contacts"):
        result = import_file(server, project.name, tmp_path / f"{kind}.csv")
        assert result.returncode == 0, result.stderr
        assert "3 rows, 3 messages applied (0 already there), 0 refused" in result.stdout
    acme = project.stored.account("acme")
    assert acme is not None
    assert acme["params"] == {
        "name": "Acme",
        "domain": "acme.io",
        "plan": "pro",
        "mrr": 99.5,
        "trial": False,
        "renews_on": "2025-01-31",
        "zip": "02134",
        "phone": "+33 1 23 45 67 89",
        "seats": 12,
        "delta": -5,
    }
    assert acme["mrr"] == [99.5]
    beta = project.stored.account("beta")
    assert beta is not None and beta["params"]["name"] == "Beta, Inc." and beta["params"]["trial"] is True
    assert beta["params"]["renews_on"] == "2025-02-01T10:30:00Z" and beta["params"]["delta"] == -0.5
    assert project.stored.account("gamma")["params"] == {"name": "Gamma", "plan": "free"}
    ann = project.stored.contact("c1")
    assert ann is not None and ann["params"] == {"email": "ann@acme.io", "name": "Ann"} and ann["accounts"] == {"acme"}
    assert project.stored.contact("c3")["accounts"] == set()
    # NDJSON too: keys that are not fields are attributes, as JSON typed them.
    (tmp_path / "accounts.ndjson").write_text('{"account_uid": "delta", "name": "Delta", "seats": 4, "tags": ["a"]}\n')
    result = import_file(server, project.name, tmp_path / "accounts.ndjson")
    assert result.returncode == 0, result.stderr
    assert project.stored.account("delta")["params"] == {"name": "Delta", "seats": 4, "tags": ["a"]}


def test_import_columns_can_be_typed_or_skipped(project: Project, server: ServerProcess, tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text(CRM_ACCOUNTS)
    result = import_file(
        server,
        project.name,
        path,
        "--column",
        "zip:number",
        "--column",
        "plan:skip",
        "--column",
        "seats:string",
        "--column",
        "renews_on:string",
    )
    assert result.returncode == 0, result.stderr
    acme = project.stored.account("acme")
    assert acme is not None and acme["params"]["zip"] == 2134 and acme["params"]["seats"] == "12"
    assert "plan" not in acme["params"] and project.stored.account("beta")["params"]["renews_on"] == "2025-02-01 10:30"
    # A cell that is not of its column's type refuses its row, with the line and the rule.
    path.write_text("account_uid,mrr,since\nok,10,2024-01-01\nbad,ten,2024-01-01\nlate,1,tomorrow\n")
    result = import_file(server, project.name, path, "--column", "since:date")
    assert result.returncode == 1
    assert "3 rows, 2 messages applied" not in result.stdout and "2 refused" in result.stdout
    assert "line 3: params.mrr must be a number" in result.stderr
    assert "line 4: since: 'tomorrow' is not a date" in result.stderr
    assert project.stored.account("bad") is None and project.stored.account("ok") is not None
    bad_option = import_file(server, project.name, path, "--column", "mrr:money")
    assert bad_option.returncode == 2 and "--column" in bad_option.stderr and "money" in bad_option.stderr


def test_import_dry_run_shows_the_mapping_and_stores_nothing(
    project: Project, server: ServerProcess, tmp_path: Path
) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text(CRM_ACCOUNTS)
    result = import_file(server, project.name, path, "--dry-run", "--column", "zip:skip")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "account_uid" in out and "params.name" in out and "params.mrr" in out and "number" in out
    assert "params.trial" in out and "boolean" in out and "zip" in out and "skipped" in out
    assert '"name":"Acme"' in out and '"mrr":99.5' in out  # the first rows, as the messages they become
    assert "dry run: nothing was imported" in out
    assert project.stored.count("accounts") == 0


def test_changing_the_time_zone_recounts_active_days(project: Project, server: ServerProcess) -> None:
    # 23:30 UTC yesterday and 00:30 UTC today: two days in UTC, one day in UTC+9 (Tokyo).
    from datetime import datetime, timedelta

    today = datetime.now(UTC).replace(hour=0, minute=30, second=0, microsecond=0)
    send(
        project,
        [
            {
                "method": "event",
                "contact_uid": "z",
                "event_uid": "e",
                "created_at": (today - timedelta(hours=1)).isoformat(),
            },
            {"method": "event", "contact_uid": "z", "event_uid": "e", "created_at": today.isoformat()},
        ],
    )
    with reader(project) as http:
        assert http.get("/v1/contacts/z").json()["active_days_14"] == 2
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "salesmachine_server",
            "projects",
            "configure",
            project.name,
            "--timezone",
            "Asia/Tokyo",
            "--database",
            server.database_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["timezone"] == "Asia/Tokyo"
    with reader(project) as http:
        assert http.get("/v1/contacts/z").json()["active_days_14"] == 1
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "salesmachine_server",
            "projects",
            "configure",
            project.name,
            "--timezone",
            "Mars/Olympus",
            "--database",
            server.database_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0 and "unknown time zone" in bad.stderr
