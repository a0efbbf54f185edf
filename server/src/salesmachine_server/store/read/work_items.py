"""Reading notes and tasks (docs/work.md): a customer's notes, for its timeline and the API;
tasks by assignee, status, customer and due day, for the inbox, the profile pages and the API;
the count of a user's tasks due, for every page's sidebar.

A task names its customer by subject and id; it is read with that customer's uid and name, so
that a list of tasks links to each profile without a query per row.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, and_, case, func, or_, select

from salesmachine_server.domain.work_items import OPEN
from salesmachine_server.store.db.schema import accounts, contacts, notes, tasks, users
from salesmachine_server.store.read.json_params import param_text
from salesmachine_server.store.records.notes import Note, note_of


class BadCursor(ValueError):
    """A tasks cursor this server did not give."""


# -- notes ------------------------------------------------------------------------------------


def notes_of(
    conn: Connection,
    project_id: int,
    subject: str,
    customer_id: int,
    *,
    newer_than: datetime | None = None,
    up_to: datetime | None = None,
    before: tuple[datetime, int] | None = None,
    limit: int | None = None,
) -> list[Note]:
    """A customer's notes, newest first; only those written after `newer_than` and up to
    `up_to` (included) when given: the notes a page of its timeline spans; `before`: the
    (created_at, id) of the last note of the previous page."""
    statement = select(notes).where(
        notes.c.project_id == project_id, notes.c.subject == subject, notes.c.customer_id == customer_id
    )
    if newer_than is not None:
        statement = statement.where(notes.c.created_at > newer_than)
    if up_to is not None:
        statement = statement.where(notes.c.created_at <= up_to)
    if before is not None:
        at, last_id = before
        statement = statement.where(or_(notes.c.created_at < at, and_(notes.c.created_at == at, notes.c.id < last_id)))
    statement = statement.order_by(notes.c.created_at.desc(), notes.c.id.desc())
    if limit is not None:
        statement = statement.limit(limit)
    return [note_of(row) for row in conn.execute(statement)]


# -- tasks ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: int
    title: str
    subject: str  # "account" or "contact"
    customer_id: int
    customer_uid: str
    customer_name: str | None
    assignee_user_id: int | None
    assignee: str | None  # the assignee's e-mail address
    due_on: date | None
    status: str
    playbook_id: int | None
    created_at: datetime
    completed_at: datetime | None

    def overdue(self, today: date) -> bool:
        return self.status == OPEN and self.due_on is not None and self.due_on < today


@dataclass(frozen=True)
class TaskQuery:
    """Which tasks: by status (None: any), assignee (a user id; `unassigned` for none), one
    customer, due on or before a day; a page of `limit` after a cursor."""

    status: str | None = OPEN
    assignee_user_id: int | None = None
    unassigned: bool = False
    subject: str | None = None
    customer_id: int | None = None
    due_by: date | None = None
    limit: int = 50
    after: tuple[date | None, int] | None = None


# A due day, or the end of time for tasks without one: they come last.
_NO_DUE = 1


def _task_select(dialect: str) -> Any:
    account = and_(tasks.c.subject == "account", accounts.c.id == tasks.c.customer_id)
    contact = and_(tasks.c.subject == "contact", contacts.c.id == tasks.c.customer_id)
    return select(
        tasks,
        func.coalesce(accounts.c.account_uid, contacts.c.contact_uid).label("customer_uid"),
        func.coalesce(
            param_text(dialect, accounts.c.params, "name"),
            param_text(dialect, contacts.c.params, "name"),
            param_text(dialect, contacts.c.params, "email"),
        ).label("customer_name"),
        users.c.email.label("assignee"),
    ).select_from(
        tasks.outerjoin(accounts, account)
        .outerjoin(contacts, contact)
        .outerjoin(users, users.c.id == tasks.c.assignee_user_id)
    )


def _task_of(row: Any) -> TaskRow:
    due = row.due_on
    if isinstance(due, datetime):  # SQLite may read a DATE back as a datetime through a subquery
        due = due.date()
    return TaskRow(
        id=int(row.id),
        title=row.title,
        subject=row.subject,
        customer_id=int(row.customer_id),
        customer_uid=row.customer_uid or "",
        customer_name=row.customer_name,
        assignee_user_id=row.assignee_user_id,
        assignee=row.assignee,
        due_on=due,
        status=row.status,
        playbook_id=row.playbook_id,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


def _due_order() -> tuple[ColumnElement[Any], ...]:
    """Overdue first: by due day, tasks without one last, then as created."""
    return (case((tasks.c.due_on.is_(None), _NO_DUE), else_=0), tasks.c.due_on, tasks.c.id)


def list_tasks(conn: Connection, project_id: int, query: TaskQuery) -> tuple[list[TaskRow], str | None]:
    """A page of tasks, due soonest first (overdue first, without a due day last, then as
    created), with the cursor of the next page (None on the last)."""
    statement = _task_select(conn.dialect.name).where(tasks.c.project_id == project_id)
    if query.status is not None:
        statement = statement.where(tasks.c.status == query.status)
    if query.unassigned:
        statement = statement.where(tasks.c.assignee_user_id.is_(None))
    elif query.assignee_user_id is not None:
        statement = statement.where(tasks.c.assignee_user_id == query.assignee_user_id)
    if query.subject is not None:
        statement = statement.where(tasks.c.subject == query.subject)
    if query.customer_id is not None:
        statement = statement.where(tasks.c.customer_id == query.customer_id)
    if query.due_by is not None:
        statement = statement.where(tasks.c.due_on <= query.due_by)
    if query.after is not None:
        due, last_id = query.after
        if due is None:
            statement = statement.where(tasks.c.due_on.is_(None), tasks.c.id > last_id)
        else:
            statement = statement.where(
                or_(
                    tasks.c.due_on.is_(None),
                    tasks.c.due_on > due,
                    and_(tasks.c.due_on == due, tasks.c.id > last_id),
                )
            )
    rows = [_task_of(r) for r in conn.execute(statement.order_by(*_due_order()).limit(query.limit + 1))]
    if len(rows) <= query.limit:
        return rows, None
    rows = rows[: query.limit]
    return rows, encode_task_cursor(rows[-1])


def find_task(conn: Connection, project_id: int, task_id: int) -> TaskRow | None:
    row = conn.execute(
        _task_select(conn.dialect.name).where(tasks.c.project_id == project_id, tasks.c.id == task_id)
    ).first()
    return None if row is None else _task_of(row)


def tasks_of(conn: Connection, project_id: int, subject: str, customer_id: int, limit: int = 50) -> list[TaskRow]:
    """A customer's tasks: the open ones, due soonest first, then the closed ones, newest first."""
    statement = _task_select(conn.dialect.name).where(
        tasks.c.project_id == project_id, tasks.c.subject == subject, tasks.c.customer_id == customer_id
    )
    is_open = tasks.c.status == OPEN
    # Open ones by due day (none last); closed ones by when they were closed, newest first.
    order = (
        case((is_open, 0), else_=1),
        case((is_open, case((tasks.c.due_on.is_(None), _NO_DUE), else_=0)), else_=0),
        case((is_open, tasks.c.due_on), else_=None),
        case((is_open, None), else_=tasks.c.completed_at).desc(),
        tasks.c.id,
    )
    return [_task_of(r) for r in conn.execute(statement.order_by(*order).limit(limit))]


def due_count(conn: Connection, project_id: int, user_id: int, today: date) -> int:
    """How many open tasks of a user are due today or overdue: the sidebar's count."""
    return int(
        conn.execute(
            select(func.count()).where(
                tasks.c.project_id == project_id,
                tasks.c.assignee_user_id == user_id,
                tasks.c.status == OPEN,
                tasks.c.due_on <= today,
            )
        ).scalar_one()
    )


def encode_task_cursor(row: TaskRow) -> str:
    value = [row.due_on.isoformat() if row.due_on else None, row.id]
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def decode_task_cursor(cursor: str) -> tuple[date | None, int]:
    """(due day, id) from a cursor encode_task_cursor made; BadCursor otherwise."""
    try:
        due, task_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(task_id, int) or not 0 <= task_id < 2**63:
            raise ValueError
        return (None if due is None else date.fromisoformat(due)), task_id
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise BadCursor("the cursor is not one this server gave") from None
