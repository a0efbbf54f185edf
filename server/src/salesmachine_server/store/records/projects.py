"""Projects and their credentials.

A project has a public token (it identifies the project and may sit in a web page) and a
private secret. Only the secret's SHA-256 is stored: the secret is a 160-bit string derived
from the server key (keys.py), so a fast hash is enough.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from salesmachine_server.domain.project_settings import (
    REFUSE,
    RENEWAL,
    SUPPRESSED_WRITES,
    ProjectSettings,
    changed,
    from_stored,
    to_stored,
)
from salesmachine_server.domain.retention import FIELD as RETENTION
from salesmachine_server.keys import derive_secret
from salesmachine_server.store.db.schema import projects


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    name: str
    token: str
    secret_hash: str
    settings: ProjectSettings
    created_at: datetime

    def secret_matches(self, candidate: str) -> bool:
        return secrets.compare_digest(hash_secret(candidate), self.secret_hash)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def create_project(engine: Engine, name: str, server_key: bytes) -> tuple[Project, str]:
    """Create a project; returns it with its secret, which is not stored in the database."""
    name = name.strip()
    if not name:
        raise ValueError("a project needs a name")
    token = secrets.token_hex(16)
    secret = derive_secret(server_key, token)
    with engine.begin() as conn:
        if conn.execute(select(projects.c.id).where(projects.c.name == name)).first() is not None:
            raise ValueError(f"a project named {name!r} already exists")
        row = conn.execute(
            projects.insert()
            .values(
                name=name,
                token=token,
                secret_hash=hash_secret(secret),
                # Only the time zone: the rest stays default until changed, and the document
                # shows which projects were never configured.
                settings={"timezone": ProjectSettings().timezone},
                created_at=utcnow(),
            )
            .returning(*projects.c)
        ).one()
    return _project(row), secret


def update_settings(engine: Engine, name: str, change: Mapping[str, Any]) -> Project:
    """Apply a change to a project's settings (domain/project_settings.changed: a part of the
    stored document, None for a default). Raises SettingsRefused (a ValueError) for a bad value,
    ValueError for an unknown project."""
    with engine.begin() as conn:
        row = conn.execute(select(projects).where(projects.c.name == name)).first()
        if row is None:
            raise ValueError(f"no project named {name!r}")
        settings = changed(from_stored(row.settings), change)
        # Keys this version does not know (a newer version's, on a shared database) are kept.
        document = {**row.settings, **to_stored(settings)}
        if settings.retention_days is None:
            document.pop(RETENTION, None)  # stored only when set
        if settings.suppressed_writes == REFUSE:
            document.pop(SUPPRESSED_WRITES, None)
        if settings.renewal_attribute is None:
            document.pop(RENEWAL, None)
        conn.execute(projects.update().where(projects.c.id == row.id).values(settings=document))
    return dataclasses.replace(_project(row), settings=settings)


def list_projects(engine: Engine) -> list[Project]:
    with engine.connect() as conn:
        return [_project(row) for row in conn.execute(select(projects).order_by(projects.c.id))]


def find_by_token(engine: Engine, token: str) -> Project | None:
    return _find(engine, projects.c.token == token)


def find_by_secret(engine: Engine, secret: str) -> Project | None:
    return _find(engine, projects.c.secret_hash == hash_secret(secret))


def _find(engine: Engine, condition: Any) -> Project | None:
    with engine.connect() as conn:
        row = conn.execute(select(projects).where(condition)).first()
    return None if row is None else _project(row)


def _project(row: Any) -> Project:
    return Project(
        id=row.id,
        name=row.name,
        token=row.token,
        secret_hash=row.secret_hash,
        settings=from_stored(row.settings),
        created_at=row.created_at,
    )
