"""Signed-in browsers: the dashboard's sessions, kept in the database.

The cookie carries 256 random bits; the table keeps their SHA-256, so a copy of the database
signs nobody in. Kept server side rather than in a signed cookie so that signing out (or a
password change) ends a session at once, on every server process sharing the database.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from salesmachine_server.store.db.schema import users, web_sessions
from salesmachine_server.store.records.projects import utcnow

LIFETIME = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class WebSession:
    user_id: int
    email: str
    csrf_token: str
    expires_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(engine: Engine, user_id: int) -> tuple[str, WebSession]:
    """A new session for a user; returns the cookie's token (not stored) and the session.
    Expired sessions are swept here: sign-ins are rare enough to carry that cost."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session = WebSession(user_id, "", secrets.token_urlsafe(32), now + LIFETIME)
    with engine.begin() as conn:
        conn.execute(web_sessions.delete().where(web_sessions.c.expires_at < now))
        conn.execute(
            web_sessions.insert().values(
                token_hash=_hash(token),
                user_id=user_id,
                csrf_token=session.csrf_token,
                created_at=now,
                expires_at=session.expires_at,
            )
        )
        email = conn.execute(select(users.c.email).where(users.c.id == user_id)).scalar_one()
    return token, WebSession(user_id, email, session.csrf_token, session.expires_at)


def find_session(engine: Engine, token: str) -> WebSession | None:
    """The live session a cookie's token opens, or None."""
    if not token or len(token) > 100:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(web_sessions.c.user_id, users.c.email, web_sessions.c.csrf_token, web_sessions.c.expires_at)
            .join(users, users.c.id == web_sessions.c.user_id)
            .where(web_sessions.c.token_hash == _hash(token), web_sessions.c.expires_at > utcnow())
        ).first()
    return None if row is None else WebSession(row.user_id, row.email, row.csrf_token, row.expires_at)


def end_session(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(web_sessions.delete().where(web_sessions.c.token_hash == _hash(token)))
