"""Playbooks as kept: the document (domain/playbooks.py), whether it is enabled, and its
trigger's type and event name beside it for the write path's one look (trigger_inbox.py).

Saving a document that enables a playbook (created enabled, or turned from paused to enabled)
sets `primed` to False: the runner then enrolls who matches the trigger's state at that moment,
what the preview showed (project/playbook_runner.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from salesmachine_server.domain.playbooks import Playbook, parse_playbook
from salesmachine_server.store.db.schema import playbook_enrollments, playbook_runs, playbooks, project_members, users
from salesmachine_server.store.records.projects import utcnow


@dataclass(frozen=True)
class StoredPlaybook:
    id: int
    project_id: int
    playbook: Playbook
    created_at: datetime
    updated_at: datetime
    enrolled: int = 0  # enrollments so far
    last_run_at: datetime | None = None


def create_playbook(engine: Engine, project_id: int, playbook: Playbook) -> int:
    now = utcnow()
    with engine.begin() as conn:
        return int(
            conn.execute(
                playbooks.insert().returning(playbooks.c.id),
                {**_columns(playbook), "project_id": project_id, "primed": False, "created_at": now, "updated_at": now},
            ).scalar_one()
        )


def replace_playbook(engine: Engine, project_id: int, playbook_id: int, playbook: Playbook) -> bool:
    """Put a new document in place; False when the project has no such playbook."""
    with engine.begin() as conn:
        was = conn.execute(
            select(playbooks.c.enabled)
            .where(playbooks.c.id == playbook_id, playbooks.c.project_id == project_id)
            .with_for_update()
        ).first()
        if was is None:
            return False
        change: dict[str, Any] = {**_columns(playbook), "updated_at": utcnow()}
        if playbook.enabled and not was.enabled:
            change["primed"] = False
        conn.execute(playbooks.update().where(playbooks.c.id == playbook_id).values(change))
        return True


def find_playbook(conn: Connection, project_id: int, playbook_id: int) -> StoredPlaybook | None:
    rows = _read(conn, project_id, playbook_id)
    return rows[0] if rows else None


def list_playbooks(conn: Connection, project_id: int) -> list[StoredPlaybook]:
    return _read(conn, project_id, None)


def enabled_playbooks(conn: Connection, project_id: int | None = None) -> list[StoredPlaybook]:
    """Enabled playbooks, of one project or of every project (the runner)."""
    query = select(playbooks).where(playbooks.c.enabled.is_(True)).order_by(playbooks.c.id)
    if project_id is not None:
        query = query.where(playbooks.c.project_id == project_id)
    return [_stored(row) for row in conn.execute(query)]


def members_missing(conn: Connection, project_id: int, emails: list[str]) -> list[str]:
    """Of these e-mails, those of no dashboard user who is a member of the project."""
    if not emails:
        return []
    found = {
        email
        for (email,) in conn.execute(
            select(users.c.email)
            .join(project_members, project_members.c.user_id == users.c.id)
            .where(project_members.c.project_id == project_id, users.c.email.in_(emails))
        )
    }
    return [email for email in emails if email not in found]


def _columns(playbook: Playbook) -> dict[str, Any]:
    return {
        "name": playbook.name,
        "document": playbook.to_document(),
        "enabled": playbook.enabled,
        "trigger_type": playbook.trigger.type,
        "trigger_event": playbook.trigger.listens_to_event,
    }


def _read(conn: Connection, project_id: int, playbook_id: int | None) -> list[StoredPlaybook]:
    enrolled = (
        select(func.count())
        .where(playbook_enrollments.c.playbook_id == playbooks.c.id)
        .scalar_subquery()
        .label("enrolled")
    )
    last_run = (
        select(func.max(playbook_runs.c.ran_at))
        .where(playbook_runs.c.playbook_id == playbooks.c.id)
        .scalar_subquery()
        .label("last_run_at")
    )
    query = select(playbooks, enrolled, last_run).where(playbooks.c.project_id == project_id).order_by(playbooks.c.id)
    if playbook_id is not None:
        query = query.where(playbooks.c.id == playbook_id)
    return [_stored(row) for row in conn.execute(query)]


def _stored(row: Any) -> StoredPlaybook:
    mapping = row._mapping
    return StoredPlaybook(
        id=row.id,
        project_id=row.project_id,
        # Stored documents were parsed before they were saved; parsed again, they are typed.
        playbook=parse_playbook(row.document),
        created_at=row.created_at,
        updated_at=row.updated_at,
        enrolled=int(mapping.get("enrolled") or 0),
        last_run_at=mapping.get("last_run_at"),
    )
