"""The work-items API over HTTP, on both engines (docs/work.md): owners set by e-mail and lists
filtered on them, notes, tasks created, listed due soonest first and closed, and every bad input
a 400 naming its field and rule. Token and secret together, as the read API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest

from tests.dashboard_support import make_user
from tests.support import Project, ServerProcess


@pytest.fixture
def api(project: Project) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=project.http.base_url, auth=(project.token, project.secret), timeout=30) as client:
        yield client


def _send(project: Project, items: list[dict[str, object]]) -> None:
    answer = project.http.post("/v1/batch", json=items)
    assert answer.status_code == 201, answer.text


def _customers(project: Project) -> None:
    _send(
        project,
        [
            {"method": "account", "account_uid": "acme", "params": {"name": "Acme", "mrr": 900}},
            {"method": "account", "account_uid": "globex", "params": {"name": "Globex"}},
            {"method": "account", "account_uid": "initech", "params": {"name": "Initech"}},
            {"method": "contact", "contact_uid": "alice", "params": {"name": "Alice", "account_uid": "acme"}},
            {"method": "contact", "contact_uid": "bob", "params": {"email": "bob@globex.com"}},
        ],
    )


def _refused(answer: httpx.Response, field: str, rule: str) -> None:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert (body["field"], body["rule"]) == (field, rule), body
    assert body["code"] == "bad_request" and body["message"]


def test_owners_are_set_by_email_and_lists_filter_on_them(
    server: ServerProcess, project: Project, api: httpx.Client
) -> None:
    _customers(project)
    ada = make_user(server.database_url, project.id)
    ben = make_user(server.database_url, project.id)

    answer = api.put("/v1/accounts/acme/owner", json={"owner": ada.upper()})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"account_uid": "acme", "owner": ada}
    assert api.put("/v1/accounts/globex/owner", json={"owner": ben}).json()["owner"] == ben
    assert api.put("/v1/contacts/alice/owner", json={"owner": ada}).json() == {"contact_uid": "alice", "owner": ada}

    # Writes that change the customer keep its owner.
    _send(
        project,
        [
            {"method": "account", "account_uid": "acme", "params": {"plan": "pro", "mrr": 950}},
            {"method": "contact", "contact_uid": "alice", "params": {"role": "admin"}},
            {"method": "event", "contact_uid": "alice", "event_uid": "login", "params": {"account_uid": "acme"}},
        ],
    )
    assert api.get("/v1/accounts/acme").json()["owner"] == ada
    assert api.get("/v1/contacts/alice").json()["owner"] == ada
    assert api.get("/v1/contacts/bob").json()["owner"] is None

    def uids(query: str) -> list[str]:
        page = api.get(f"/v1/accounts?{query}&sort=account_uid")
        assert page.status_code == 200, page.text
        return [row["account_uid"] for row in page.json()["data"]]

    assert uids(f"owner={ada}") == ["acme"]
    assert uids(f"owner={ben.upper()}") == ["globex"]
    assert uids("owner=") == ["initech"]
    assert uids("owner!=") == ["acme", "globex"]
    assert uids(f"owner!={ada}") == ["globex", "initech"]
    rows = api.get("/v1/accounts?sort=account_uid").json()["data"]
    assert [(r["account_uid"], r["owner"]) for r in rows] == [("acme", ada), ("globex", ben), ("initech", None)]
    contacts = api.get(f"/v1/contacts?owner={ada}").json()["data"]
    assert [(c["contact_uid"], c["owner"]) for c in contacts] == [("alice", ada)]

    # null: nobody again.
    assert api.put("/v1/accounts/globex/owner", json={"owner": None}).json() == {"account_uid": "globex", "owner": None}
    assert uids("owner=") == ["globex", "initech"]


def test_owner_refusals_name_the_field_and_rule(server: ServerProcess, project: Project, api: httpx.Client) -> None:
    _customers(project)
    stranger = make_user(server.database_url)  # a user, but of no project
    _refused(api.put("/v1/accounts/acme/owner", json={"owner": stranger}), "owner", "member")
    _refused(api.put("/v1/accounts/acme/owner", json={"owner": 5}), "owner", "string")
    _refused(api.put("/v1/accounts/acme/owner", json={}), "owner", "required")
    _refused(api.put("/v1/accounts/acme/owner", json={"owner": None, "ownr": 1}), "ownr", "known")
    _refused(api.put("/v1/accounts/acme/owner", content=b"{nope"), "body", "json")
    _refused(api.put("/v1/accounts/acme/owner", json=["x"]), "body", "object")
    missing = api.put("/v1/accounts/nobody/owner", json={"owner": None})
    assert missing.status_code == 404 and missing.json()["rule"] == "exists"
    # The list language: owner=me needs a signed-in user; an owner is an address.
    _refused(api.get("/v1/accounts?owner=me"), "owner", "me")
    _refused(api.get("/v1/accounts?owner=bob"), "owner", "email")
    _refused(api.get("/v1/accounts?owner>a@b.c"), "owner", "operator")
    # The token alone does not write work items.
    alone = project.http.put("/v1/accounts/acme/owner", json={"owner": None})
    assert alone.status_code == 401


def test_notes_are_added_listed_newest_first_and_paged(
    server: ServerProcess, project: Project, api: httpx.Client
) -> None:
    _customers(project)
    ada = make_user(server.database_url, project.id)
    first = api.post("/v1/accounts/acme/notes", json={"body": "  Wants SSO before renewing.\nAsk Bob. "})
    assert first.status_code == 201, first.text
    note = first.json()
    assert note["account_uid"] == "acme" and note["author"] == "API"
    assert note["body"] == "Wants SSO before renewing.\nAsk Bob."
    assert note["created_at"].endswith("Z") and note["updated_at"] == note["created_at"]
    second = api.post("/v1/accounts/acme/notes", json={"body": "Renewal call booked", "author": ada}).json()
    assert second["author"] == ada
    api.post("/v1/contacts/alice/notes", json={"body": "Champion"})

    listed = api.get("/v1/accounts/acme/notes").json()
    assert [n["body"] for n in listed["data"]] == ["Renewal call booked", "Wants SSO before renewing.\nAsk Bob."]
    assert listed["next_cursor"] is None
    page = api.get("/v1/accounts/acme/notes?limit=1").json()
    assert [n["id"] for n in page["data"]] == [second["id"]]
    rest = api.get(f"/v1/accounts/acme/notes?limit=1&cursor={page['next_cursor']}").json()
    assert [n["id"] for n in rest["data"]] == [note["id"]] and rest["next_cursor"] is None
    assert [n["body"] for n in api.get("/v1/contacts/alice/notes").json()["data"]] == ["Champion"]

    _refused(api.post("/v1/accounts/acme/notes", json={"body": "   "}), "body", "required")
    _refused(api.post("/v1/accounts/acme/notes", json={"body": 3}), "body", "string")
    _refused(api.post("/v1/accounts/acme/notes", json={"body": "x" * 20_001}), "body", "max_length")
    _refused(api.post("/v1/accounts/acme/notes", json={"body": "x", "author": "who@else.com"}), "author", "member")
    _refused(api.get("/v1/accounts/acme/notes?limit=0"), "limit", "range")
    _refused(api.get("/v1/accounts/acme/notes?cursor=zzz"), "cursor", "cursor")
    _refused(api.get("/v1/accounts/acme/notes?sort=x"), "sort", "known")
    assert api.get("/v1/contacts/nobody/notes").status_code == 404


def test_tasks_are_created_listed_overdue_first_and_closed(
    server: ServerProcess, project: Project, api: httpx.Client
) -> None:
    _customers(project)
    ada = make_user(server.database_url, project.id)
    ben = make_user(server.database_url, project.id)
    api.put("/v1/accounts/acme/owner", json={"owner": ada})
    today = date.today()

    def create(**body: object) -> dict[str, object]:
        answer = api.post("/v1/tasks", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()

    later = create(title="Quarterly review", account_uid="acme", due_on=str(today + timedelta(days=9)))
    # Without an assignee, the task is for the customer's owner.
    assert later["assignee"] == ada and later["name"] == "Acme" and later["status"] == "open"
    assert later["playbook_id"] is None and later["completed_at"] is None and later["overdue"] is False
    overdue = create(title="Call about the failed payment", account_uid="acme", due_on=str(today - timedelta(days=3)))
    assert overdue["overdue"] is True
    undated = create(title="Say hello", contact_uid="bob", assignee=ada)
    assert undated["contact_uid"] == "bob" and undated["name"] == "bob@globex.com" and undated["due_on"] is None
    bens = create(title="Send the contract", account_uid="globex", assignee=ben, due_on=str(today))
    nobodys = create(title="Unowned", account_uid="initech", assignee=None)
    assert nobodys["assignee"] is None

    mine = api.get(f"/v1/tasks?assignee={ada}").json()
    assert [t["id"] for t in mine["data"]] == [overdue["id"], later["id"], undated["id"]]
    everyone = api.get("/v1/tasks").json()["data"]
    assert [t["id"] for t in everyone] == [overdue["id"], bens["id"], later["id"], undated["id"], nobodys["id"]]
    assert [t["id"] for t in api.get("/v1/tasks?assignee=none").json()["data"]] == [nobodys["id"]]
    assert [t["id"] for t in api.get(f"/v1/tasks?due_by={today}").json()["data"]] == [overdue["id"], bens["id"]]
    assert [t["id"] for t in api.get("/v1/tasks?account_uid=acme").json()["data"]] == [overdue["id"], later["id"]]
    # Paged by the cursor, in the same order, across the tasks without a due day.
    seen, cursor = [], None
    while True:
        page = api.get("/v1/tasks", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [t["id"] for t in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [t["id"] for t in everyone]

    done = api.patch(f"/v1/tasks/{overdue['id']}", json={"status": "done"})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done" and done.json()["completed_at"] and done.json()["overdue"] is False
    moved = api.patch(
        f"/v1/tasks/{later['id']}", json={"title": "Quarterly business review", "assignee": ben, "due_on": None}
    ).json()
    assert (moved["title"], moved["assignee"], moved["due_on"]) == ("Quarterly business review", ben, None)
    api.patch(f"/v1/tasks/{undated['id']}", json={"status": "dismissed"})
    assert [t["id"] for t in api.get(f"/v1/tasks?assignee={ada}").json()["data"]] == []
    closed = api.get("/v1/tasks?status=any&account_uid=acme").json()["data"]
    assert {t["id"]: t["status"] for t in closed} == {overdue["id"]: "done", later["id"]: "open"}
    reopened = api.patch(f"/v1/tasks/{overdue['id']}", json={"status": "open"}).json()
    assert reopened["status"] == "open" and reopened["completed_at"] is None


def test_task_refusals_name_the_field_and_rule(server: ServerProcess, project: Project, api: httpx.Client) -> None:
    _customers(project)
    stranger = make_user(server.database_url)
    _refused(api.post("/v1/tasks", json={"title": "x"}), "account_uid", "one_of")
    _refused(
        api.post("/v1/tasks", json={"title": "x", "account_uid": "acme", "contact_uid": "bob"}), "account_uid", "one_of"
    )
    _refused(api.post("/v1/tasks", json={"account_uid": "acme"}), "title", "required")
    _refused(api.post("/v1/tasks", json={"title": "x" * 501, "account_uid": "acme"}), "title", "max_length")
    _refused(api.post("/v1/tasks", json={"title": "x", "account_uid": "acme", "due_on": "tomorrow"}), "due_on", "date")
    _refused(
        api.post("/v1/tasks", json={"title": "x", "account_uid": "acme", "assignee": stranger}), "assignee", "member"
    )
    _refused(api.post("/v1/tasks", json={"title": "x", "account_uid": 12}), "account_uid", "string")
    _refused(
        api.post("/v1/tasks", json={"title": "x", "account_uid": "acme", "playbook_id": 3}), "playbook_id", "known"
    )
    missing = api.post("/v1/tasks", json={"title": "x", "account_uid": "nobody"})
    assert missing.status_code == 404 and missing.json()["field"] == "account_uid"

    task = api.post("/v1/tasks", json={"title": "x", "account_uid": "acme"}).json()
    _refused(api.patch(f"/v1/tasks/{task['id']}", json={"status": "finished"}), "status", "one_of")
    _refused(api.patch(f"/v1/tasks/{task['id']}", json={"title": ""}), "title", "required")
    _refused(api.patch("/v1/tasks/abc", json={"status": "done"}), "id", "integer")
    assert api.patch("/v1/tasks/999999999", json={"status": "done"}).status_code == 404
    _refused(api.get("/v1/tasks?status=late"), "status", "one_of")
    _refused(api.get("/v1/tasks?assignee=x"), "assignee", "member")
    _refused(api.get("/v1/tasks?due_by=2026-02-30"), "due_by", "date")
    _refused(api.get("/v1/tasks?limit=5000"), "limit", "range")
    _refused(api.get("/v1/tasks?cursor=%%%"), "cursor", "cursor")
    _refused(api.get("/v1/tasks?colour=red"), "colour", "known")
    _refused(api.get("/v1/tasks?status=open&status=done"), "status", "once")
    assert project.http.get("/v1/tasks").status_code == 401
