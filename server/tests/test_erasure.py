"""Erasing a person (issue 22): everything under every uid goes, the accounts' figures are those
of a project that never had the person, later writes are suppressed, the receipt verifies.

Driven over HTTP against the real server on SQLite and PostgreSQL; the database is then
searched directly, every text and JSON column of every table of the schema.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import JSON, String, Text, cast, or_, select

from salesmachine_server.store.db.schema import metadata
from tests.dashboard_support import make_user, signed_in
from tests.support import Project, ServerProcess, StoredData, health_settled, make_project, path_part, wait_for

# Uids nothing else in the test contains, so that a substring search finds only them.
GONE = "erase-me-7f3a"
GONE_ALIAS = "anon-erase-me-c2"
STAYS = "stays-9d1e"
ACME = "acme-erasure-5b"


# One instant for both projects' histories: their figures must be equal to the microsecond.
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


def reader(project: Project) -> httpx.Client:
    return httpx.Client(base_url=project.http.base_url, auth=(project.token, project.secret), timeout=60)


def send(project: Project, items: list[dict[str, Any]]) -> None:
    response = project.http.post("/v1/batch", json=items)
    assert response.status_code == 201, response.text
    assert "rejected" not in response.json(), response.text


def shared_history() -> list[dict[str, Any]]:
    """What both projects hold: the account, with its own mrr, and a colleague who stays."""
    return [
        {"method": "account", "account_uid": ACME, "created_at": ago(40), "params": {"name": "Acme", "mrr": 300}},
        {"method": "contact", "contact_uid": STAYS, "created_at": ago(39), "params": {"account_uid": ACME}},
        *({"method": "event", "contact_uid": STAYS, "event_uid": "report", "created_at": ago(d)} for d in (1, 5, 9)),
        {"method": "account", "account_uid": ACME, "created_at": ago(3), "params": {"mrr": 350}},
    ]


def person_history() -> list[dict[str, Any]]:
    """The person to erase: two uids, events and pageviews on other days than the colleague's,
    a membership, mrr of their own (a contact carrying revenue)."""
    return [
        {
            "method": "contact",
            "contact_uid": GONE,
            "created_at": ago(30),
            "params": {"email": "gone@example.com", "account_uid": ACME, "mrr": 40},
        },
        {"method": "alias", "contact_uid": GONE, "alias": GONE_ALIAS, "created_at": ago(29)},
        *(
            {
                "method": "event",
                "contact_uid": GONE,
                "event_uid": "export",
                "created_at": ago(d),
                "params": {"visit_ip": "8.8.8.8", "visit_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0"},
            }
            for d in (0, 2, 4, 6)
        ),
        *(
            {
                "method": "pageview",
                "contact_uid": GONE_ALIAS,
                "event_uid": "pageview",
                "created_at": ago(d),
                "params": {"url": "https://app.example.com/"},
            }
            for d in (7, 8)
        ),
        {"method": "contact", "contact_uid": GONE, "created_at": ago(10), "params": {"mrr": 60}},
    ]


@pytest.fixture
def two_projects(server: ServerProcess) -> Iterator[tuple[Project, Project]]:
    """One project with the person and one that never had them, the same otherwise."""
    made = []
    for _ in range(2):
        created, secret = make_project(server.database_url)
        http = httpx.Client(base_url=server.base_url, auth=(created.token, ""), timeout=60)
        made.append(
            Project(created.id, created.name, created.token, secret, http, StoredData(server.database_url, created.id))
        )
    with_person, without = made
    send(with_person, shared_history()[:-1] + person_history() + shared_history()[-1:])
    send(without, shared_history())
    # Refused items: two name the person (one in Segment's form, one whose JSON was cut), one
    # names a uid that merely contains theirs and must stay.
    refused = [
        {"method": "event", "contact_uid": GONE, "event_uid": "x", "created_at": "not a time"},
        {"method": "event", "contact_uid": f"{GONE}-twin", "event_uid": "x", "created_at": "not a time"},
    ]
    assert with_person.http.post("/v1/batch", json=refused).status_code == 400
    answer = with_person.http.post("/v1/identify", json={"userId": GONE_ALIAS, "traits": [1]})
    assert answer.status_code == 400, answer.text
    yield with_person, without
    for project in made:
        project.http.close()
        project.stored.close()


def figures(project: Project, email: str) -> dict[str, Any]:
    """What the account shows through the API and the dashboard."""
    with reader(project) as http:
        account = http.get(f"/v1/accounts/{ACME}").json()
        revenue = http.get("/v1/revenue").json()
        accounts = http.get("/v1/accounts").json()
    with signed_in(project.http.base_url, email) as browser:
        home = browser.get(f"/p/{project.id}/").text
        page = browser.get(f"/p/{project.id}/accounts/{ACME}").text
    return {
        "account": account,
        "revenue": revenue,
        "accounts": accounts["data"],
        "home": _figures_of(home, project),
        "page": _figures_of(page, project),
    }


def _figures_of(html: str, project: Project) -> str:
    """A page's content (the sidebar and header name the project), its links and the session's
    form tokens made alike."""
    import re

    content = html.split('<main class="content">', 1)[1].split("</main>", 1)[0]
    content = re.sub(r'name="csrf" value="[^"]*"', 'name="csrf"', content)
    return content.replace(f"/p/{project.id}/", "/p/ID/").replace(project.name, "NAME")


def test_an_erased_contact_is_gone_from_every_table(two_projects: tuple[Project, Project]) -> None:
    project, _ = two_projects
    stored = project.stored
    assert stored.contact(GONE) is not None
    with reader(project) as http:
        answer = http.delete(f"/v1/contacts/{path_part(GONE_ALIAS)}")
    assert answer.status_code == 200, answer.text
    receipt = answer.json()
    assert receipt["kind"] == "contact"
    assert receipt["removed"]["events"] == 4 and receipt["removed"]["pageviews"] == 2
    assert receipt["removed"]["uids"] == 2 and receipt["removed"]["contacts"] == 1
    assert receipt["removed"]["memberships"] == 1 and receipt["removed"]["mrr_changes"] == 2
    assert receipt["removed"]["rejected_items"] == 2
    assert receipt["by"] == f"api:{project.token}"
    assert len(receipt["uid_hashes"]) == 2
    assert GONE not in json.dumps(receipt) and GONE_ALIAS not in json.dumps(receipt)

    found = _search_every_table(stored, [GONE, GONE_ALIAS])
    assert found == [], found
    # The refused item about a uid that only contains theirs is still there.
    assert any(f"{GONE}-twin" in row.raw for row in stored.rejected())
    with reader(project) as http:
        assert http.delete(f"/v1/contacts/{GONE}").status_code == 404
        assert http.get(f"/v1/contacts/{GONE}").status_code == 404


def _search_every_table(stored: StoredData, uids: list[str], only_project: bool = False) -> list[tuple[str, str]]:
    """(table, column) of every value of the database's text and JSON columns that holds one of
    `uids`: as a substring of a short text (a uid column, an actor), as a whole JSON string of a
    long text or JSON document (params, a refused payload), where a longer uid that merely
    contains it (the twin kept on purpose) is another value. `only_project`: rows of the
    project of `stored` alone, in the tables that have a project (for a uid other projects share)."""
    hits = []
    with stored.engines.reader.connect() as conn:
        for table in metadata.tables.values():
            for column in table.columns:
                if not isinstance(column.type, (String, Text, JSON)):
                    continue
                if isinstance(column.type, String) and not isinstance(column.type, Text):
                    condition = or_(*(column.contains(uid, autoescape=True) for uid in uids))
                else:
                    text = cast(column, Text) if isinstance(column.type, JSON) else column
                    condition = or_(*(text.contains(json.dumps(uid), autoescape=True) for uid in uids))
                if only_project and "project_id" in table.c:
                    condition = condition & (table.c.project_id == stored.project_id)
                if conn.execute(select(table).where(condition).limit(1)).first() is not None:
                    hits.append((table.name, column.name))
    return hits


def test_the_account_shows_what_it_would_have_without_the_person(
    two_projects: tuple[Project, Project], server: ServerProcess
) -> None:
    project, never = two_projects
    email = make_user(server.database_url, project.id, never.id)
    before = figures(project, email)
    assert before["account"] != figures(never, email)["account"]  # the person counted
    with reader(project) as http:
        assert http.delete(f"/v1/contacts/{GONE}").status_code == 200
    # The health history (its `since` days, the lists' bands) is the server's to bring up to date.
    wait_for(lambda: health_settled(project) and health_settled(never))
    after, expected = figures(project, email), figures(never, email)
    assert after["account"] == expected["account"]
    assert after["revenue"] == expected["revenue"]
    assert after["accounts"] == expected["accounts"]
    assert after["home"] == expected["home"]
    assert after["page"] == expected["page"]


def test_later_writes_for_an_erased_uid_are_refused_then_dropped(
    two_projects: tuple[Project, Project], server: ServerProcess
) -> None:
    project, _ = two_projects
    with reader(project) as http:
        assert http.delete(f"/v1/contacts/{GONE}").status_code == 200
    event = {"contact_uid": GONE_ALIAS, "event_uid": "came-back", "params": {"secret": "payload-8c1"}}
    answer = project.http.post("/v1/track/event", json=event)
    assert answer.status_code == 409, answer.text
    assert answer.json()["field"] == "contact_uid" and answer.json()["rule"] == "suppressed"
    batch = project.http.post(
        "/v1/batch",
        json=[
            {"method": "event", **event},
            {"method": "event", "contact_uid": STAYS, "event_uid": "ok"},
            {"method": "contact", "contact_uid": "new-person", "params": {"account_uid": ACME}},
            # Refused for another reason, it is recorded as refused, but what it said is not kept.
            {"method": "event", "contact_uid": GONE, "event_uid": "x", "created_at": "not a time"},
        ],
    )
    assert batch.status_code == 201, batch.text
    assert batch.json()["accepted"] == 2
    assert [r["rule"] for r in batch.json()["rejected"]] == ["suppressed", "datetime"]
    segment = project.http.post("/v1/track", json={"userId": GONE, "event": "again"})
    assert segment.status_code == 409, segment.text
    assert project.stored.contact(GONE) is None and project.stored.contact(GONE_ALIAS) is None
    assert _search_every_table(project.stored, [GONE, GONE_ALIAS, "payload-8c1"]) == []

    from salesmachine_server.store.records.projects import update_settings

    update_settings(project.stored.engines.writer, project.name, {"suppressed_writes": "drop"})
    import time

    time.sleep(1.2)  # the server remembers a project's settings for a second
    assert project.http.post("/v1/track/event", json=event).status_code == 201
    assert project.stored.contact(GONE_ALIAS) is None
    with reader(project) as http:
        counts = http.get("/v1/suppressions").json()
    assert counts == {"suppressed_uids": 2, "refused_writes": 3, "dropped_writes": 1, "suppressed_writes": "drop"}
    assert _search_every_table(project.stored, [GONE, GONE_ALIAS, "payload-8c1"]) == []
    metrics = httpx.get(f"{server.base_url}/metrics").text
    assert 'salesmachine_suppressed_items_total{action="dropped"}' in metrics


def test_the_receipt_verifies_and_a_tampered_one_does_not(
    two_projects: tuple[Project, Project], tmp_path: Path
) -> None:
    project, _ = two_projects
    with reader(project) as http:
        receipt = http.delete(f"/v1/contacts/{GONE}").json()
    good = tmp_path / "receipt.json"
    good.write_text(json.dumps(receipt))
    verified = _cli("receipts", "verify", str(good))
    assert verified.returncode == 0, verified.stderr
    assert "valid" in verified.stdout
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps({**receipt, "removed": {**receipt["removed"], "events": 3}}))
    refused = _cli("receipts", "verify", str(tampered))
    assert refused.returncode == 1 and "tampered" in refused.stdout
    unreadable = tmp_path / "nothing.json"
    unreadable.write_text("{not json")
    assert _cli("receipts", "verify", str(unreadable)).returncode == 2
    with project.stored.engines.reader.connect() as conn:
        from salesmachine_server.store.db.schema import erasure_receipts

        kept = conn.execute(
            select(erasure_receipts.c.document).where(erasure_receipts.c.project_id == project.id)
        ).scalar_one()
    assert json.loads(kept) == receipt


def _cli(*args: str, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    if database_url:
        env["SALESMACHINE_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "salesmachine_server", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_the_cli_erases_and_the_audit_log_says_who(
    two_projects: tuple[Project, Project], server: ServerProcess
) -> None:
    project, _ = two_projects
    done = _cli("contacts", "erase", GONE_ALIAS, "--project", project.name, "--database", server.database_url)
    assert done.returncode == 0, done.stderr
    receipt = json.loads(done.stdout)
    assert receipt["by"].startswith("cli:") and receipt["removed"]["contacts"] == 1
    again = _cli("contacts", "erase", GONE_ALIAS, "--project", project.name, "--database", server.database_url)
    assert again.returncode == 1 and "no contact" in again.stderr
    mode = _cli("contacts", "suppression", "--project", project.name, "--drop", "--database", server.database_url)
    assert mode.returncode == 0, mode.stderr
    assert json.loads(mode.stdout) == {
        "suppressed_uids": 2,
        "refused_writes": 0,
        "dropped_writes": 0,
        "suppressed_writes": "drop",
    }
    with reader(project) as http:
        assert http.delete(f"/v1/accounts/{ACME}").status_code == 200
        log = http.get("/v1/audit").json()["data"]
    assert [e["action"] for e in log][:3] == ["erasure", "settings_change", "erasure"]
    assert log[0]["actor"] == f"api:{project.token}" and log[0]["detail"]["kind"] == "account"
    assert log[1]["detail"] == {"changed": {"suppressed_writes": "drop"}, "from": "cli"}
    assert log[2]["actor"].startswith("cli:")
    assert GONE not in json.dumps(log)
    assert project.stored.account(ACME) is None
    assert _search_every_table(project.stored, [GONE, GONE_ALIAS]) == []
    assert _search_every_table(project.stored, [ACME], only_project=True) == []


def test_the_export_holds_everything_about_the_person(two_projects: tuple[Project, Project]) -> None:
    project, _ = two_projects
    with reader(project) as http:
        noted = http.post(f"/v1/contacts/{GONE}/notes", json={"body": "Asked to be forgotten"})
        assert noted.status_code == 201, noted.text
        answer = http.get(f"/v1/contacts/{GONE_ALIAS}/export")
        assert answer.status_code == 200, answer.text
        document = answer.json()
        assert http.get("/v1/contacts/nobody/export").json()["rule"] == "exists"
        log = http.get("/v1/audit").json()["data"]
    assert sorted(document["uids"]) == sorted([GONE, GONE_ALIAS])
    assert document["profile"]["contact_uid"] == GONE
    assert [a["account_uid"] for a in document["accounts"]] == [ACME]
    assert [m["mrr"] for m in document["mrr_history"]] == [40, 60]
    assert sorted(e["kind"] for e in document["events"]) == ["event"] * 4 + ["pageview"] * 2
    assert all(e["country"] == "US" for e in document["events"] if e["kind"] == "event")
    assert [(n["author"], n["body"]) for n in document["notes"]] == [("API", "Asked to be forgotten")]
    assert log[0]["action"] == "person_export" and GONE not in json.dumps(log)
    with reader(project) as http:  # leave nothing of the person for the next test's search
        erased = http.delete(f"/v1/contacts/{GONE}")
        assert erased.status_code == 200 and erased.json()["removed"]["notes"] == 1
    assert project.stored.count("notes") == 0


def test_the_dashboard_erases_after_the_uid_is_typed_and_logs_it(
    two_projects: tuple[Project, Project], server: ServerProcess
) -> None:
    from tests.dashboard_support import csrf_of

    project, other = two_projects
    email = make_user(server.database_url, project.id)
    with httpx.Client(base_url=server.base_url, timeout=30) as stranger:  # a failed sign-in, logged
        token = csrf_of(stranger.get("/signin").text)
        assert stranger.post("/signin", data={"csrf": token, "email": email, "password": "wrong"}).status_code == 401
    with signed_in(server.base_url, email) as browser:
        page = browser.get(f"/p/{project.id}/contacts/{path_part(GONE_ALIAS)}")
        assert page.status_code == 200 and 'id="erase"' in page.text
        csrf = csrf_of(page.text)
        form = {"csrf": csrf, "kind": "contact", "uid": GONE}
        mistyped = browser.post(f"/p/{project.id}/erase", data={**form, "confirm": GONE[:-1]})
        assert mistyped.status_code == 400 and "Nothing was erased" in mistyped.text
        assert project.stored.contact(GONE) is not None
        done = browser.post(f"/p/{project.id}/erase", data={**form, "confirm": GONE})
        assert done.status_code == 200, done.text
        assert 'id="receipt"' in done.text and project.stored.contact(GONE) is None
        receipt = json.loads(
            done.text.split('<pre id="receipt">', 1)[1]
            .split("</pre>", 1)[0]
            .replace("&#34;", '"')
            .replace("&quot;", '"')
        )
        assert receipt["by"] == f"user:{email}" and receipt["removed"]["events"] == 4
        account = browser.post(
            f"/p/{project.id}/erase", data={"csrf": csrf, "kind": "account", "uid": ACME, "confirm": ACME}
        )
        assert account.status_code == 200 and project.stored.account(ACME) is None
        saved = browser.post(
            f"/p/{project.id}/settings",
            data={"csrf": csrf, "window_days": "7", "good_above": "1", "bad_at_most": "0", "timezone": "UTC"},
        )
        assert saved.status_code == 303
        # A project the user is not a member of cannot be erased in.
        assert browser.post(f"/p/{other.id}/erase", data={**form, "uid": STAYS, "confirm": STAYS}).status_code == 404
        audit = browser.get(f"/p/{project.id}/audit").text
    actions = [a for a in audit.split('data-action="')[1:]]
    assert [a.split('"', 1)[0] for a in actions] == [
        "settings_change",
        "erasure",
        "erasure",
        "sign_in",
        "sign_in_failed",
    ]
    assert GONE not in audit and GONE_ALIAS not in audit
    with reader(project) as http:
        api_log = http.get("/v1/audit").json()["data"]
    assert [e["action"] for e in api_log] == ["settings_change", "erasure", "erasure", "sign_in", "sign_in_failed"]
    assert api_log[0]["detail"] == {
        "changed": {"health": {"window_days": 7, "good_above": 1, "bad_at_most": 0}, "timezone": "UTC"},
        "from": "dashboard",
    }
