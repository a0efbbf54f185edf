"""The audit log: erasures, person exports, settings changes and sign-ins, who did them, when.

One row per act. `detail` holds counts, setting names and uid hashes, never a uid or a
password. Sign-ins belong to no project (users are not per project): a project's log shows its
own rows and the sign-ins of its members.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, or_, select

from salesmachine_server.store.db.schema import audit_log, project_members, users

# The actions recorded, as written in `action`.
ERASURE = "erasure"
EXPORT = "person_export"
SETTINGS = "settings_change"
SIGN_IN = "sign_in"
SIGN_IN_FAILED = "sign_in_failed"


@dataclass(frozen=True)
class Entry:
    id: int
    project_id: int | None
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]


def record(
    conn: Connection, project_id: int | None, actor: str, action: str, detail: dict[str, Any], at: datetime
) -> None:
    """Add one entry, in the caller's transaction."""
    conn.execute(
        insert(audit_log).values(project_id=project_id, at=at, actor=actor[:320], action=action, detail=detail)
    )


def record_now(
    engine: Engine, project_id: int | None, actor: str, action: str, detail: dict[str, Any], at: datetime
) -> None:
    """Add one entry in a transaction of its own."""
    with engine.begin() as conn:
        record(conn, project_id, actor, action, detail, at)


def project_entries(conn: Connection, project_id: int, limit: int = 100, before: int | None = None) -> list[Entry]:
    """The newest entries of a project (its sign-ins: those of its members), newest first;
    `before` an id, for the next page."""
    members = (
        select(users.c.email)
        .select_from(project_members.join(users, users.c.id == project_members.c.user_id))
        .where(project_members.c.project_id == project_id)
    )
    sign_ins = and_(
        audit_log.c.project_id.is_(None),
        audit_log.c.action.in_([SIGN_IN, SIGN_IN_FAILED]),
        audit_log.c.actor.in_(select("user:" + members.subquery().c.email)),
    )
    query = select(audit_log).where(or_(audit_log.c.project_id == project_id, sign_ins))
    if before is not None:
        query = query.where(audit_log.c.id < before)
    rows = conn.execute(query.order_by(audit_log.c.id.desc()).limit(limit)).all()
    return [Entry(r.id, r.project_id, r.at, r.actor, r.action, r.detail) for r in rows]


def record_sign_in(engine: Engine, email: str, succeeded: bool, address: str | None, at: datetime) -> None:
    """A dashboard sign-in, successful or not, under the address as typed (trimmed, lower-cased,
    cut to the column: what was typed may be anything) and the client's IP."""
    actor = "user:" + email.strip().lower()
    record_now(engine, None, actor, SIGN_IN if succeeded else SIGN_IN_FAILED, {"address": address}, at)


def record_settings_change(
    engine: Engine, project_id: int, actor: str, changes: dict[str, Any], source: str, at: datetime
) -> None:
    """A change of a project's settings (their names and new values: settings hold no secret)."""
    record_now(engine, project_id, actor, SETTINGS, {"changed": changes, "from": source}, at)
