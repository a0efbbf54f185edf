"""Owners, notes, tasks and the inbox in the dashboard, over HTTP with a signed-in session, on
both engines (docs/work.md): the forms of the profile and list pages, "My accounts" and
"My tasks", the count on every page, who may edit a note, CSRF, refusals with their reason, and
notes kept when contacts merge by an alias."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import httpx

from tests.dashboard_support import csrf_of, make_user, send_customers, signed_in
from tests.support import Project, ServerProcess, health_settled, wait_for


def _uids(page: str) -> list[str]:
    """The uids of a list page's rows, in order."""
    table = page.split('id="list"', 1)[1]
    return re.findall(r'<tr data-uid="([^"]+)"', table)


def _post(browser: httpx.Client, path: str, page: str, **fields: str) -> httpx.Response:
    return browser.post(path, data={"csrf": csrf_of(page), **fields})


def _due_count(page: str) -> int | None:
    found = re.search(r'id="tasks-due"[^>]*>([0-9,]+)<', page)
    return int(found.group(1)) if found else None


def test_owners_one_by_one_in_bulk_and_my_accounts(server: ServerProcess, project: Project) -> None:
    send_customers(project)
    wait_for(lambda: health_settled(project))  # the bulk below filters on health=bad: the history's
    ada = make_user(server.database_url, project.id)
    ben = make_user(server.database_url, project.id)
    base = f"/p/{project.id}"
    with signed_in(server.base_url, ada) as browser:
        page = browser.get(f"{base}/accounts/acme").text
        assert 'id="owner-form"' in page and ben in page  # the members are offered
        set_one = _post(browser, f"{base}/owner", page, subject="account", uid="acme", owner=ada)
        assert set_one.status_code == 303 and set_one.headers["location"] == f"{base}/accounts/acme"
        page = browser.get(f"{base}/accounts/acme").text
        assert f'<option value="{ada}" selected>' in page

        mine = browser.get(f"{base}/accounts?owner=me").text
        assert _uids(mine) == ["acme"] and "<h1>My accounts</h1>" in mine
        assert 'id="nav-my-accounts" class="active"' in mine
        listed = browser.get(f"{base}/accounts").text
        assert f'<td class="hide-sm owner">{ada}</td>' in listed

        # In bulk: every account the filter lists (health=bad: Globex), to Ben.
        bulk = _post(browser, f"{base}/owners", listed, kind="accounts", query="health=bad", owner=ben)
        assert bulk.status_code == 303 and bulk.headers["location"] == f"{base}/accounts?health=bad"
        assert _uids(browser.get(f"{base}/accounts?owner={ben}").text) == ["globex"]
        assert sorted(_uids(browser.get(f"{base}/accounts?owner=nobody").text)) == ["initech"]

        # In bulk on a saved segment: contacts of Acme, to Ada.
        saved = _post(
            browser, f"{base}/segments", listed, kind="contacts", name="Acme people", query="account_uid=acme"
        )
        segment = saved.headers["location"].rsplit("=", 1)[1]
        bulk = _post(browser, f"{base}/owners", listed, kind="contacts", segment=segment, owner=ada)
        assert bulk.headers["location"] == f"{base}/contacts?segment={segment}"
        assert sorted(_uids(browser.get(f"{base}/contacts?owner=me").text)) == ["alice", "bob"]

        # "My accounts" saved as a segment is each viewer's own.
        _post(browser, f"{base}/segments", listed, kind="accounts", name="My accounts", query="owner=me")
        assert re.search(
            r'data-segment="My accounts">\s*<span class="segment-name">My accounts</span>\s*'
            r'<span class="count"[^>]*>1</span>',
            browser.get(f"{base}/").text,
        )
        refused = _post(browser, f"{base}/owner", page, subject="account", uid="acme", owner="who@else.com")
        assert refused.status_code == 400 and "is not a user of this project" in html.unescape(refused.text)
    with signed_in(server.base_url, ben) as browser:
        assert _uids(browser.get(f"{base}/accounts?owner=me").text) == ["globex"]
    with httpx.Client(base_url=server.base_url, auth=(project.token, project.secret)) as api:
        assert api.get("/v1/accounts/acme").json()["owner"] == ada
        assert api.get("/v1/contacts/alice").json()["owner"] == ada


def test_notes_in_the_timeline_editable_by_their_author_only(server: ServerProcess, project: Project) -> None:
    send_customers(project)
    ada = make_user(server.database_url, project.id)
    ben = make_user(server.database_url, project.id)
    base = f"/p/{project.id}"
    with signed_in(server.base_url, ada) as browser:
        page = browser.get(f"{base}/accounts/acme").text
        added = _post(
            browser, f"{base}/notes", page, subject="account", uid="acme", body="Wants SSO <b>before</b> renewing"
        )
        assert added.status_code == 303 and added.headers["location"] == f"{base}/accounts/acme#timeline"
        page = browser.get(f"{base}/accounts/acme").text
        timeline = page.split('id="timeline"', 1)[1]
        note = re.search(r'<li class="tl-note" id="note-(\d+)">(.*?)</li>', timeline, re.S)
        assert note, timeline[:2000]
        assert ada in note.group(2) and "Wants SSO &lt;b&gt;before&lt;/b&gt; renewing" in note.group(2)
        assert "Save note" in note.group(2)  # its author may edit it
        # Beside the events, in time: the note is newer than every event, so it comes first.
        assert timeline.index("tl-note") < timeline.index("tl-event")
        # Only events: no note.
        assert "tl-note" not in browser.get(f"{base}/accounts/acme?kind=event").text.split('id="timeline"', 1)[1]
        note_id = note.group(1)
        edited = _post(browser, f"{base}/notes/{note_id}", page, body="Wants SSO; call in May")
        assert edited.status_code == 303
        page = browser.get(f"{base}/accounts/acme").text
        assert "Wants SSO; call in May" in page and ">edited<" in page
        empty = _post(browser, f"{base}/notes", page, subject="account", uid="acme", body="  ")
        assert empty.status_code == 400 and "body must not be empty" in empty.text
    with signed_in(server.base_url, ben) as browser:
        page = browser.get(f"{base}/accounts/acme").text
        assert "Wants SSO; call in May" in page and "Save note" not in page
        refused = _post(browser, f"{base}/notes/{note_id}", page, body="Ben was here")
        assert refused.status_code == 403
        assert "Ben was here" not in browser.get(f"{base}/accounts/acme").text
        assert _post(browser, f"{base}/notes/999999999", page, body="x").status_code == 404


def test_tasks_on_a_profile_the_inbox_and_its_count(server: ServerProcess, project: Project) -> None:
    send_customers(project)
    ada = make_user(server.database_url, project.id)
    ben = make_user(server.database_url, project.id)
    base = f"/p/{project.id}"
    yesterday, later = date.today() - timedelta(days=1), date.today() + timedelta(days=30)
    with signed_in(server.base_url, ada) as browser:
        page = browser.get(f"{base}/accounts/acme").text
        assert _due_count(page) is None
        for title, due, who in (
            ("Call about the failed payment", str(yesterday), ada),
            ("Quarterly review", str(later), ada),
            ("Ben's", "", ben),
        ):
            added = _post(
                browser, f"{base}/tasks", page, subject="account", uid="acme", title=title, due_on=due, assignee=who
            )
            assert added.status_code == 303 and added.headers["location"] == f"{base}/accounts/acme#tasks"
        contact_page = browser.get(f"{base}/contacts/alice").text
        _post(
            browser,
            f"{base}/tasks",
            contact_page,
            subject="contact",
            uid="alice",
            title="Say hello",
            due_on=str(date.today()),
            assignee=ada,
        )

        # The count of what is due (overdue or today) is on every page, Home shows the tasks.
        for path in ("/", "/accounts", "/revenue", "/settings"):
            assert _due_count(browser.get(f"{base}{path}").text) == 2, path
        home = browser.get(f"{base}/").text.split('id="my-tasks"', 1)[1].split("</section>", 1)[0]
        assert '<span class="count due" id="home-tasks-due">2 due</span>' in home
        assert home.index("Call about the failed payment") < home.index("Say hello") < home.index("Quarterly review")
        assert "Ben&#39;s" not in home

        inbox = browser.get(f"{base}/tasks").text
        groups = re.findall(r'id="group-(\w+)"', inbox)
        assert groups == ["overdue", "today", "coming"]
        assert inbox.index("Call about the failed payment") < inbox.index("Say hello") < inbox.index("Quarterly review")
        assert "Ben&#39;s" not in inbox and "overdue since" in inbox
        assert "Ben&#39;s" in browser.get(f"{base}/tasks?view=all").text

        profile = browser.get(f"{base}/accounts/acme").text.split('id="tasks"', 1)[1].split("</section>", 1)[0]
        assert "3 open" in profile and "Call about the failed payment" in profile

        task_id = re.search(
            r'data-task="(\d+)">\s*<div class="task-main">\s*<strong class="task-title">Call about', inbox
        )
        assert task_id
        done = _post(
            browser, f"{base}/tasks/{task_id.group(1)}/status", inbox, status="done", next=f"{base}/tasks?view=mine"
        )
        assert done.status_code == 303 and done.headers["location"] == f"{base}/tasks?view=mine"
        inbox = browser.get(f"{base}/tasks").text
        assert "Call about the failed payment" not in inbox and _due_count(inbox) == 1
        # On the profile it is done, and may be reopened.
        profile = browser.get(f"{base}/accounts/acme").text
        assert 'class="task task-done"' in profile and 'data-action="open"' in profile
        # A next that leaves the project is not followed.
        outside = _post(
            browser, f"{base}/tasks/{task_id.group(1)}/status", inbox, status="open", next="https://evil.example/"
        )
        assert outside.headers["location"] == f"{base}/tasks"
        assert _due_count(browser.get(f"{base}/tasks").text) == 2

        # Refusals, with their reason.
        for fields, reason in (
            ({"title": " ", "due_on": ""}, "title must not be empty"),
            ({"title": "x", "due_on": "someday"}, "due_on is a day"),
            ({"title": "x", "due_on": "", "assignee": "who@else.com"}, "is not a user of this project"),
        ):
            refused = _post(browser, f"{base}/tasks", page, subject="account", uid="acme", **fields)
            assert refused.status_code == 400 and reason in html.unescape(refused.text), fields
        bad_status = _post(browser, f"{base}/tasks/{task_id.group(1)}/status", page, status="finished")
        assert bad_status.status_code == 400
        assert _post(browser, f"{base}/tasks/999999999/status", page, status="done").status_code == 404
        unknown = _post(browser, f"{base}/tasks", page, subject="account", uid="nobody", title="x", due_on="")
        assert unknown.status_code == 404


def test_work_forms_without_their_csrf_token_are_refused(server: ServerProcess, project: Project) -> None:
    send_customers(project)
    ada = make_user(server.database_url, project.id)
    base = f"/p/{project.id}"
    with signed_in(server.base_url, ada) as browser:
        page = browser.get(f"{base}/accounts/acme").text
        _post(browser, f"{base}/tasks", page, subject="account", uid="acme", title="Call", due_on="", assignee=ada)
        task_id = re.search(r'data-task="(\d+)"', browser.get(f"{base}/tasks").text)
        assert task_id
        forged = {
            f"{base}/owner": {"subject": "account", "uid": "acme", "owner": ada},
            f"{base}/owners": {"kind": "accounts", "query": "", "owner": ada},
            f"{base}/notes": {"subject": "account", "uid": "acme", "body": "forged"},
            f"{base}/tasks": {"subject": "account", "uid": "acme", "title": "forged", "due_on": ""},
            f"{base}/tasks/{task_id.group(1)}/status": {"status": "done"},
        }
        for path, fields in forged.items():
            assert browser.post(path, data=fields).status_code == 403, path
            assert browser.post(path, data={**fields, "csrf": "forged"}).status_code == 403, path
        page = browser.get(f"{base}/accounts/acme").text
        assert "forged" not in page and '<option value="" selected>nobody</option>' in page
        assert re.search(r'data-task="\d+"', browser.get(f"{base}/tasks").text)  # still open


def test_a_merge_by_alias_keeps_the_notes_and_tasks_of_the_contact_merged_away(
    server: ServerProcess, project: Project
) -> None:
    ada = make_user(server.database_url, project.id)
    sent = project.http.post(
        "/v1/batch",
        json=[
            {"method": "contact", "contact_uid": "user-7", "params": {"name": "Known Person"}},
            {"method": "contact", "contact_uid": "anon-7", "params": {"name": "Visitor"}},
        ],
    )
    assert sent.status_code == 201
    base = f"/p/{project.id}"
    with signed_in(server.base_url, ada) as browser:
        page = browser.get(f"{base}/contacts/anon-7").text
        _post(browser, f"{base}/notes", page, subject="contact", uid="anon-7", body="Asked for a demo at the fair")
        _post(
            browser,
            f"{base}/tasks",
            page,
            subject="contact",
            uid="anon-7",
            title="Book the demo",
            due_on="",
            assignee=ada,
        )
        _post(browser, f"{base}/owner", page, subject="contact", uid="anon-7", owner=ada)
        kept = browser.get(f"{base}/contacts/user-7").text
        _post(browser, f"{base}/notes", kept, subject="contact", uid="user-7", body="Signed up")

        assert project.http.post("/v1/alias", json={"contact_uid": "user-7", "alias": "anon-7"}).status_code == 201

        merged = browser.get(f"{base}/contacts/user-7").text
        assert "Asked for a demo at the fair" in merged and "Signed up" in merged
        assert "Book the demo" in merged.split('id="tasks"', 1)[1]
        assert f'<option value="{ada}" selected>' in merged
        # The alias names the same contact: the same page.
        assert "Asked for a demo at the fair" in browser.get(f"{base}/contacts/anon-7").text
    with httpx.Client(base_url=server.base_url, auth=(project.token, project.secret)) as api:
        bodies = [n["body"] for n in api.get("/v1/contacts/anon-7/notes").json()["data"]]
        assert bodies == ["Signed up", "Asked for a demo at the fair"]
        assert [t["contact_uid"] for t in api.get("/v1/tasks").json()["data"]] == ["user-7"]
