"""The health model in force for a project: its newest saved document, else the model of its
settings' active-days thresholds (domain/health_model.py HealthModel.from_rule)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from salesmachine_server.domain.health_model import DocumentError, HealthModel
from salesmachine_server.domain.project_settings import from_stored
from salesmachine_server.store.db.schema import health_models, projects


@dataclass(frozen=True)
class ModelInForce:
    model_id: int  # health_models.id; 0 for the model of the settings (none saved)
    model: HealthModel
    saved_at: datetime | None
    saved_by: str | None


def in_force(conn: Connection, project_id: int) -> ModelInForce:
    row = conn.execute(
        select(health_models.c.id, health_models.c.document, health_models.c.saved_at, health_models.c.saved_by)
        .where(health_models.c.project_id == project_id)
        .order_by(health_models.c.id.desc())
        .limit(1)
    ).first()
    if row is not None:
        try:
            return ModelInForce(row.id, HealthModel.parse(row.document), row.saved_at, row.saved_by)
        except DocumentError:  # checked when saved; a later server refusing it falls back, never fails
            settings = conn.execute(select(projects.c.settings).where(projects.c.id == project_id)).scalar_one()
            return ModelInForce(row.id, HealthModel.from_rule(from_stored(settings).health), row.saved_at, row.saved_by)
    settings = conn.execute(select(projects.c.settings).where(projects.c.id == project_id)).scalar_one()
    return ModelInForce(0, HealthModel.from_rule(from_stored(settings).health), None, None)


def saved_days(conn: Connection, project_id: int) -> list[datetime]:
    """When each version was saved (UTC), oldest first."""
    return list(
        conn.execute(
            select(health_models.c.saved_at)
            .where(health_models.c.project_id == project_id)
            .order_by(health_models.c.id)
        ).scalars()
    )
