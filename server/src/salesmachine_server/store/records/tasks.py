"""Tasks: work for a person about an account or a contact, open until done or dismissed.

A person adds one from a profile page or the API; a playbook adds one through `create_task` in
its own transaction, with its id in `playbook_id`. Listing them is store/read/work_items.py.
"""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Final, Literal

from sqlalchemy import Connection, select

from salesmachine_server.domain.work_items import OPEN, checked_status, checked_subject, checked_title
from salesmachine_server.store.db.schema import tasks
from salesmachine_server.store.records.projects import utcnow


class _Keep(Enum):
    KEEP = "keep"


KEEP: Final = _Keep.KEEP  # an update leaves this field as it is
Keep = Literal[_Keep.KEEP]


def create_task(
    conn: Connection,
    project_id: int,
    *,
    title: str,
    subject: str,
    customer_id: int,
    assignee_user_id: int | None,
    due_on: date | None,
    playbook_id: int | None = None,
) -> int:
    """Add an open task in the caller's transaction; returns its id. The title is read by
    domain/work_items.py (WorkItemError when it is empty or too long); the caller has checked
    that the customer and the assignee belong to the project."""
    return int(
        conn.execute(
            tasks.insert()
            .values(
                project_id=project_id,
                title=checked_title(title),
                subject=checked_subject(subject),
                customer_id=customer_id,
                assignee_user_id=assignee_user_id,
                due_on=due_on,
                status=OPEN,
                playbook_id=playbook_id,
                created_at=utcnow(),
                completed_at=None,
            )
            .returning(tasks.c.id)
        ).scalar_one()
    )


def set_status(conn: Connection, project_id: int, task_id: int, status: str) -> bool:
    """Mark a task open, done or dismissed; False when the project has no such task. A task
    leaving `open` records when; one opened again forgets it."""
    status = checked_status(status)
    current = conn.execute(
        select(tasks.c.status).where(tasks.c.project_id == project_id, tasks.c.id == task_id)
    ).scalar()
    if current is None:
        return False
    if current != status:
        completed = None if status == OPEN else utcnow()
        conn.execute(
            tasks.update()
            .where(tasks.c.project_id == project_id, tasks.c.id == task_id)
            .values(status=status, completed_at=completed)
        )
    return True


def update_task(
    conn: Connection,
    project_id: int,
    task_id: int,
    *,
    title: str | None = None,
    assignee_user_id: int | Keep | None = KEEP,
    due_on: date | Keep | None = KEEP,
) -> bool:
    """Change a task's title, assignee or due day (KEEP leaves one as it is; None clears the
    assignee or the due day); False when the project has no such task."""
    values: dict[str, object] = {}
    if title is not None:
        values["title"] = checked_title(title)
    if assignee_user_id is not KEEP:
        values["assignee_user_id"] = assignee_user_id
    if due_on is not KEEP:
        values["due_on"] = due_on
    exists = conn.execute(select(tasks.c.id).where(tasks.c.project_id == project_id, tasks.c.id == task_id)).first()
    if exists is None:
        return False
    if values:
        conn.execute(tasks.update().where(tasks.c.project_id == project_id, tasks.c.id == task_id).values(**values))
    return True
