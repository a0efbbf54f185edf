"""Dashboard users: who may sign in, with which password, to which projects.

Passwords are hashed with argon2id (argon2-cffi's defaults, which follow RFC 9106's
recommendation and are raised by the library over time: an old hash is upgraded at the next
successful sign-in). A sign-in for an unknown address still runs one verification so that the
answer's timing does not tell which addresses exist.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, Engine, func, select

from salesmachine_server.store.db.schema import project_members, projects, users, web_sessions
from salesmachine_server.store.records.projects import utcnow

_hasher = PasswordHasher()
# Verified against when the address is unknown, so both answers cost the same.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD = 8


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    created_at: datetime


def normalise_email(email: str) -> str:
    """The address as stored: trimmed and lower-cased; ValueError when it is not one."""
    cleaned = email.strip().lower()
    if not _EMAIL.match(cleaned) or len(cleaned) > 320:
        raise ValueError(f"{email!r} is not an e-mail address")
    return cleaned


def generate_password() -> str:
    """A password to print once: 96 random bits, easy to copy (URL-safe base64)."""
    return secrets.token_urlsafe(12)


def _checked(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")
    return password


def create_user(
    engine: Engine, email: str, password: str | None = None, project_ids: tuple[int, ...] = ()
) -> tuple[User, str]:
    """Create a user, member of the given projects; returns it with its password (generated when
    none is given: the caller prints it, it is not kept)."""
    address = normalise_email(email)
    password = _checked(password) if password is not None else generate_password()
    hashed = _hasher.hash(password)
    with engine.begin() as conn:
        if conn.execute(select(users.c.id).where(users.c.email == address)).first() is not None:
            raise ValueError(f"a user {address} already exists")
        row = conn.execute(
            users.insert().values(email=address, password_hash=hashed, created_at=utcnow()).returning(*users.c)
        ).one()
        for project_id in project_ids:
            _grant(conn, row.id, project_id)
    return User(row.id, row.email, row.created_at), password


def set_password(engine: Engine, email: str, password: str | None = None) -> str:
    """Replace a user's password (generated when none is given); returns it. Signed-in browsers
    of that user are signed out: whoever knew the old password loses access with it."""
    address = normalise_email(email)
    password = _checked(password) if password is not None else generate_password()
    with engine.begin() as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.email == address)).scalar()
        if user_id is None:
            raise ValueError(f"no user {address}")
        conn.execute(users.update().where(users.c.id == user_id).values(password_hash=_hasher.hash(password)))
        conn.execute(web_sessions.delete().where(web_sessions.c.user_id == user_id))
    return password


def grant(engine: Engine, email: str, project_id: int) -> None:
    """Make a user a member of a project (nothing happens when it already is)."""
    address = normalise_email(email)
    with engine.begin() as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.email == address)).scalar()
        if user_id is None:
            raise ValueError(f"no user {address}")
        _grant(conn, user_id, project_id)


def _grant(conn: Connection, user_id: int, project_id: int) -> None:
    exists = conn.execute(
        select(project_members.c.user_id).where(
            project_members.c.user_id == user_id, project_members.c.project_id == project_id
        )
    ).first()
    if exists is None:
        conn.execute(project_members.insert().values(user_id=user_id, project_id=project_id, created_at=utcnow()))


def authenticate(engine: Engine, email: str, password: str) -> User | None:
    """The user with that address and password, or None (the same for either being wrong)."""
    try:
        address = normalise_email(email)
    except ValueError:
        address = ""
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.email == address)).first() if address else None
    try:
        _hasher.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        with engine.begin() as conn:
            conn.execute(users.update().where(users.c.id == row.id).values(password_hash=_hasher.hash(password)))
    return User(row.id, row.email, row.created_at)


def project_ids_of(conn: Connection, user_id: int) -> list[int]:
    """The projects a user may see, oldest first."""
    return list(
        conn.execute(
            select(project_members.c.project_id)
            .where(project_members.c.user_id == user_id)
            .order_by(project_members.c.project_id)
        ).scalars()
    )


def count_users(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(users)).scalar_one()


def list_users(engine: Engine) -> list[tuple[User, list[str]]]:
    """Every user with the names of their projects."""
    with engine.connect() as conn:
        found = [User(r.id, r.email, r.created_at) for r in conn.execute(select(users).order_by(users.c.id))]
        names: dict[int, list[str]] = {}
        for user_id, name in conn.execute(
            select(project_members.c.user_id, projects.c.name)
            .join(projects, projects.c.id == project_members.c.project_id)
            .order_by(projects.c.id)
        ):
            names.setdefault(user_id, []).append(name)
    return [(user, names.get(user.id, [])) for user in found]
