"""The functions playbooks call to act (contracts: `create_task`, `set_owner`, `owner_of`), on
both engines, against the rows a real server stored; and what an alias merge does to the notes
and tasks of the contact merged away."""

from __future__ import annotations

from datetime import date

import pytest

from salesmachine_server.domain.work_items import WorkItemError
from salesmachine_server.store.records.notes import add_note
from salesmachine_server.store.records.owners import owner_of, set_owner
from salesmachine_server.store.records.tasks import create_task
from tests.dashboard_support import make_user
from tests.support import Project, ServerProcess


def _user_id(project: Project, email: str) -> int:
    return int(project.stored.rows("SELECT id FROM users WHERE email = :email", email=email)[0][0])


def _send(project: Project, items: list[dict[str, object]]) -> None:
    answer = project.http.post("/v1/batch", json=items)
    assert answer.status_code == 201, answer.text


def test_set_owner_and_owner_of_on_accounts_and_contacts(server: ServerProcess, project: Project) -> None:
    _send(
        project,
        [
            {"method": "account", "account_uid": "acme", "params": {"name": "Acme"}},
            {"method": "contact", "contact_uid": "alice", "params": {"account_uid": "acme"}},
        ],
    )
    owner = _user_id(project, make_user(server.database_url, project.id))
    account_id = project.stored.rows("SELECT id FROM accounts WHERE account_uid = 'acme' AND project_id = :project")[0][
        0
    ]
    contact_id = project.stored.contact_id("alice")
    assert contact_id is not None
    with project.stored.engines.writer.begin() as conn:
        assert owner_of(conn, project.id, "account", account_id) is None
        set_owner(conn, project.id, "account", account_id, owner)
        set_owner(conn, project.id, "contact", contact_id, owner)
    with project.stored.engines.writer.begin() as conn:
        assert owner_of(conn, project.id, "account", account_id) == owner
        assert owner_of(conn, project.id, "contact", contact_id) == owner
        set_owner(conn, project.id, "account", account_id, None)
        assert owner_of(conn, project.id, "account", account_id) is None
        assert owner_of(conn, project.id, "contact", contact_id) == owner


def test_an_owner_must_be_a_member_of_the_project(server: ServerProcess, project: Project) -> None:
    _send(project, [{"method": "account", "account_uid": "acme", "params": {}}])
    stranger = _user_id(project, make_user(server.database_url))  # a user of no project
    account_id = project.stored.rows("SELECT id FROM accounts WHERE account_uid = 'acme' AND project_id = :project")[0][
        0
    ]
    with project.stored.engines.writer.begin() as conn, pytest.raises(ValueError, match="not a member"):
        set_owner(conn, project.id, "account", account_id, stranger)
    with project.stored.engines.writer.begin() as conn:
        assert owner_of(conn, project.id, "account", account_id) is None


def test_create_task_stores_an_open_task_with_its_playbook(server: ServerProcess, project: Project) -> None:
    _send(project, [{"method": "account", "account_uid": "acme", "params": {}}])
    assignee = _user_id(project, make_user(server.database_url, project.id))
    account_id = project.stored.rows("SELECT id FROM accounts WHERE account_uid = 'acme' AND project_id = :project")[0][
        0
    ]
    with project.stored.engines.writer.begin() as conn:
        first = create_task(
            conn,
            project.id,
            title="  Call about the failed payment ",
            subject="account",
            customer_id=account_id,
            assignee_user_id=assignee,
            due_on=date(2030, 1, 2),
            playbook_id=7,
        )
        second = create_task(
            conn,
            project.id,
            title="Say hello",
            subject="account",
            customer_id=account_id,
            assignee_user_id=None,
            due_on=None,
        )
    rows = project.stored.rows(
        "SELECT id, title, subject, customer_id, assignee_user_id, due_on, status, playbook_id, completed_at "
        "FROM tasks WHERE project_id = :project ORDER BY id"
    )
    assert [r.id for r in rows] == [first, second]
    assert rows[0].title == "Call about the failed payment"
    assert (rows[0].subject, rows[0].customer_id, rows[0].assignee_user_id) == ("account", account_id, assignee)
    assert str(rows[0].due_on)[:10] == "2030-01-02"
    assert (rows[0].status, rows[0].playbook_id, rows[0].completed_at) == ("open", 7, None)
    assert (rows[1].assignee_user_id, rows[1].due_on, rows[1].playbook_id) == (None, None, None)
    with project.stored.engines.writer.begin() as conn, pytest.raises(WorkItemError) as refused:
        create_task(
            conn, project.id, title=" ", subject="account", customer_id=account_id, assignee_user_id=None, due_on=None
        )
    assert (refused.value.field, refused.value.rule) == ("title", "required")


def test_an_alias_merge_moves_notes_tasks_and_the_owner_to_the_kept_contact(
    server: ServerProcess, project: Project
) -> None:
    _send(
        project,
        [
            {"method": "contact", "contact_uid": "user-1", "params": {"name": "Known"}},
            {"method": "contact", "contact_uid": "anon-1", "params": {"name": "Anonymous"}},
        ],
    )
    owner = _user_id(project, make_user(server.database_url, project.id))
    kept, gone = project.stored.contact_id("user-1"), project.stored.contact_id("anon-1")
    assert kept is not None and gone is not None and kept != gone
    with project.stored.engines.writer.begin() as conn:
        add_note(
            conn,
            project.id,
            subject="contact",
            customer_id=gone,
            body="Met at the fair",
            author="a@x.io",
            author_user_id=None,
        )
        add_note(
            conn,
            project.id,
            subject="contact",
            customer_id=kept,
            body="Renews in May",
            author="a@x.io",
            author_user_id=None,
        )
        create_task(
            conn,
            project.id,
            title="Follow up",
            subject="contact",
            customer_id=gone,
            assignee_user_id=owner,
            due_on=None,
        )
        set_owner(conn, project.id, "contact", gone, owner)

    answer = project.http.post("/v1/alias", json={"contact_uid": "user-1", "alias": "anon-1"})
    assert answer.status_code == 201, answer.text

    assert project.stored.contact_id("anon-1") == kept
    notes = project.stored.rows(
        "SELECT customer_id, body FROM notes WHERE project_id = :project AND subject = 'contact' ORDER BY id"
    )
    assert [(r.customer_id, r.body) for r in notes] == [(kept, "Met at the fair"), (kept, "Renews in May")]
    tasks = project.stored.rows("SELECT customer_id, title FROM tasks WHERE project_id = :project")
    assert [(r.customer_id, r.title) for r in tasks] == [(kept, "Follow up")]
    assert project.stored.rows("SELECT owner_user_id FROM contacts WHERE id = :id", id=kept)[0][0] == owner
