"""Each project's SMTP server (domain/smtp_settings.py): one row per project, or none."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, delete, insert, select

from salesmachine_server.domain.smtp_settings import SmtpSettings
from salesmachine_server.store.db.schema import smtp_settings


def smtp_of(conn: Connection, project_id: int) -> SmtpSettings | None:
    row = conn.execute(select(smtp_settings).where(smtp_settings.c.project_id == project_id)).first()
    if row is None:
        return None
    return SmtpSettings(
        host=row.host,
        port=row.port,
        username=row.username,
        password=row.password,
        from_address=row.from_address,
        security=row.security,
    )


def load_smtp(engine: Engine, project_id: int) -> SmtpSettings | None:
    with engine.connect() as conn:
        return smtp_of(conn, project_id)


def save_smtp(engine: Engine, project_id: int, settings: SmtpSettings, now: datetime) -> None:
    """Replace the project's SMTP settings (delete and insert: the same on both engines)."""
    with engine.begin() as conn:
        conn.execute(delete(smtp_settings).where(smtp_settings.c.project_id == project_id))
        conn.execute(
            insert(smtp_settings).values(
                project_id=project_id,
                host=settings.host,
                port=settings.port,
                username=settings.username,
                password=settings.password,
                from_address=settings.from_address,
                security=settings.security,
                updated_at=now,
            )
        )
