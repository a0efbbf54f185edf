"""A playbook's actions for one enrolled customer, in the runner's transaction: a task
(store/records/tasks.py), an owner (store/records/owners.py), and webhook, Slack and e-mail
deliveries queued (deliver/queue.py). The consumption of what fired it, the enrollment and all
of these commit together, so a firing's actions happen exactly once.

The webhook body names the playbook, the trigger and the customer (`account_uid` or
`contact_uid`, and for an event both), with what fired it (docs/playbooks.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from salesmachine_server.deliver.queue import enqueue
from salesmachine_server.domain.playbook_templates import render
from salesmachine_server.domain.playbooks import Action, Playbook
from salesmachine_server.store.db.schema import project_members, users
from salesmachine_server.store.read.playbook_matching import Customer
from salesmachine_server.store.records.owners import owner_of, set_owner
from salesmachine_server.store.records.tasks import create_task


@dataclass(frozen=True)
class Firing:
    """What fired a playbook for a customer: the trigger's type, and what it carries (an event,
    an mrr move, a change of health, a segment entered...), as the webhook body shows it."""

    kind: str
    detail: dict[str, Any] = field(default_factory=dict)
    event: dict[str, Any] | None = None  # an event trigger's event: name, params, occurred_at
    contact_uid: str | None = None  # the event's contact, beside an account customer


def run_actions(
    conn: Connection,
    project_id: int,
    playbook_id: int,
    playbook: Playbook,
    customer: Customer,
    firing: Firing,
    today: date,
    fired_at: datetime,
) -> dict[str, Any]:
    """Do every action; what was done (task ids, delivery ids, the owner set)."""
    values = _template_values(project_id, playbook_id, playbook, customer, firing)
    done: dict[str, Any] = {"tasks": [], "deliveries": [], "owner": None}
    for action in playbook.actions:
        if action.type == "task":
            assignee = (
                owner_of(conn, project_id, customer.subject, customer.id)
                if action.assignee == "owner"
                else _member_id(conn, project_id, action.assignee)
            )
            done["tasks"].append(
                create_task(
                    conn,
                    project_id,
                    title=render(action.title, values)[:500] or playbook.name,
                    subject=customer.subject,
                    customer_id=customer.id,
                    assignee_user_id=assignee,
                    due_on=today + timedelta(days=action.due_in_days),
                    playbook_id=playbook_id,
                )
            )
        elif action.type == "set_owner":
            assert action.user is not None
            user_id = _member_id(conn, project_id, action.user)
            if user_id is not None:
                set_owner(conn, project_id, customer.subject, customer.id, user_id)
                done["owner"] = action.user
        else:
            delivery = _delivery(conn, project_id, playbook_id, playbook, action, customer, firing, values, fired_at)
            if delivery is not None:
                done["deliveries"].append(delivery)
    return done


def webhook_body(
    project_id: int,
    playbook_id: int,
    playbook: Playbook,
    customer: Customer,
    firing: Firing,
    fired_at: datetime,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "playbook.fired",
        "playbook": {"id": playbook_id, "name": playbook.name},
        "trigger": {**playbook.trigger.to_document(), **firing.detail},
        "subject": customer.subject,
        f"{customer.subject}_uid": customer.uid,
        "customer": {
            "uid": customer.uid,
            "name": customer.name,
            "mrr": customer.mrr,
            "owner": customer.owner_email,
            "params": customer.params,
        },
        "project_id": project_id,
        "fired_at": fired_at.isoformat(timespec="seconds") + "Z",
    }
    if firing.contact_uid is not None and customer.subject == "account":
        body["contact_uid"] = firing.contact_uid
    if firing.event is not None:
        body["event"] = firing.event
    return body


def _delivery(
    conn: Connection,
    project_id: int,
    playbook_id: int,
    playbook: Playbook,
    action: Action,
    customer: Customer,
    firing: Firing,
    values: dict[str, Any],
    fired_at: datetime,
) -> int | None:
    if action.type == "webhook":
        assert action.url is not None and action.secret is not None
        body = webhook_body(project_id, playbook_id, playbook, customer, firing, fired_at)
        if action.text:
            body["message"] = render(action.text, values)
        return enqueue(
            conn,
            project_id,
            channel="webhook",
            target={"url": action.url, "secret": action.secret},
            payload=body,
            playbook_id=playbook_id,
        )
    if action.type == "slack":
        assert action.url is not None
        return enqueue(
            conn,
            project_id,
            channel="slack",
            target={"url": action.url},
            payload={"text": render(action.text, values)},
            playbook_id=playbook_id,
        )
    to = customer.owner_email if action.to == "owner" else action.to
    if to is None:  # the owner wanted, and the customer has none: nobody to write to
        return None
    return enqueue(
        conn,
        project_id,
        channel="email",
        target={"to": to},
        payload={"to": to, "subject": render(action.subject, values), "text": render(action.text, values)},
        playbook_id=playbook_id,
    )


def _template_values(
    project_id: int, playbook_id: int, playbook: Playbook, customer: Customer, firing: Firing
) -> dict[str, Any]:
    card = customer.values(project_id)
    values: dict[str, Any] = {
        customer.subject: card,
        "customer": card,
        "playbook": {"name": playbook.name, "id": playbook_id},
        "trigger": {"type": playbook.trigger.type, **firing.detail},
    }
    if firing.event is not None:
        values["event"] = {**firing.event, "params": firing.event.get("params") or {}}
    return values


def _member_id(conn: Connection, project_id: int, email: str) -> int | None:
    """The user id of a member of the project by e-mail (None: no longer a member)."""
    return conn.execute(
        select(users.c.id)
        .join(project_members, project_members.c.user_id == users.c.id)
        .where(project_members.c.project_id == project_id, users.c.email == email)
    ).scalar()
