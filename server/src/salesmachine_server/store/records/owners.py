"""Who looks after an account or a contact: a dashboard user of its project, or nobody.

The owner is a column of the customer's row (`owner_user_id`), so a list filters and sorts on it
without a join; the playbooks' "set the owner" action calls `set_owner` in its own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table, select

from salesmachine_server.domain.work_items import checked_subject
from salesmachine_server.store.db.schema import accounts, contacts, project_members, users
from salesmachine_server.store.records.users import User


def customer_table(subject: str) -> Table:
    """The table of a subject: "account" or "contact"."""
    return accounts if checked_subject(subject) == "account" else contacts


def is_member(conn: Connection, project_id: int, user_id: int) -> bool:
    """Whether a user may be an owner or an assignee in a project: one of its members."""
    found = conn.execute(
        select(project_members.c.user_id).where(
            project_members.c.project_id == project_id, project_members.c.user_id == user_id
        )
    ).first()
    return found is not None


def members(conn: Connection, project_id: int) -> list[User]:
    """The users who may own or be assigned work in a project (its members), by address."""
    rows = conn.execute(
        select(users.c.id, users.c.email, users.c.created_at)
        .select_from(project_members.join(users, users.c.id == project_members.c.user_id))
        .where(project_members.c.project_id == project_id)
        .order_by(users.c.email)
    )
    return [User(int(r.id), r.email, r.created_at) for r in rows]


def member_by_email(conn: Connection, project_id: int, email: str) -> User | None:
    """The member of a project with this address (compared as stored: trimmed, lower-cased)."""
    address = email.strip().lower()
    row = conn.execute(
        select(users.c.id, users.c.email, users.c.created_at)
        .select_from(project_members.join(users, users.c.id == project_members.c.user_id))
        .where(project_members.c.project_id == project_id, users.c.email == address)
    ).first()
    return None if row is None else User(int(row.id), row.email, row.created_at)


def set_owner(conn: Connection, project_id: int, subject: str, customer_id: int, user_id: int | None) -> None:
    """Make `user_id` the owner of a customer (None: nobody), in the caller's transaction.

    The user must be a member of the project (ValueError otherwise): an owner who cannot open
    the dashboard of the account would be no owner at all."""
    if user_id is not None and not is_member(conn, project_id, user_id):
        raise ValueError(f"user {user_id} is not a member of project {project_id}")
    table = customer_table(subject)
    conn.execute(
        table.update().where(table.c.project_id == project_id, table.c.id == customer_id).values(owner_user_id=user_id)
    )


def set_owners(
    conn: Connection, project_id: int, subject: str, customer_ids: Sequence[int], user_id: int | None
) -> int:
    """The same for many customers at once (a list or a saved segment); returns how many."""
    if user_id is not None and not is_member(conn, project_id, user_id):
        raise ValueError(f"user {user_id} is not a member of project {project_id}")
    table = customer_table(subject)
    changed = 0
    ids = list(customer_ids)
    for start in range(0, len(ids), 500):  # within any engine's bound on parameters
        result = conn.execute(
            table.update()
            .where(table.c.project_id == project_id, table.c.id.in_(ids[start : start + 500]))
            .values(owner_user_id=user_id)
        )
        changed += result.rowcount
    return changed


def owner_of(conn: Connection, project_id: int, subject: str, customer_id: int) -> int | None:
    """The user id of a customer's owner, None when it has none (or no such customer)."""
    table = customer_table(subject)
    value = conn.execute(
        select(table.c.owner_user_id).where(table.c.project_id == project_id, table.c.id == customer_id)
    ).scalar()
    return None if value is None else int(value)
