"""The health model in force for a project: its newest saved document, else the model of its
settings' active-days thresholds (domain/health_model.py HealthModel.from_rule)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
    key: str  # what tells this model from another: model_key (below)


def model_key(newest_id: int | None, settings: dict[str, Any]) -> str:
    """Which model is in force, as a short text: the newest saved one's id, else the settings'
    active-days thresholds it is made of (changing them changes the model)."""
    if newest_id:
        return f"saved:{newest_id}"
    rule = from_stored(settings).health
    return f"settings:{rule.window_days}:{rule.good_above}:{rule.bad_at_most}"


def in_force(conn: Connection, project_id: int) -> ModelInForce:
    row = conn.execute(
        select(health_models.c.id, health_models.c.document, health_models.c.saved_at, health_models.c.saved_by)
        .where(health_models.c.project_id == project_id)
        .order_by(health_models.c.id.desc())
        .limit(1)
    ).first()
    settings = conn.execute(select(projects.c.settings).where(projects.c.id == project_id)).scalar_one()
    if row is not None:
        key = model_key(row.id, settings)
        try:
            return ModelInForce(row.id, HealthModel.parse(row.document), row.saved_at, row.saved_by, key)
        except DocumentError:  # checked when saved; a later server refusing it falls back, never fails
            fallback = HealthModel.from_rule(from_stored(settings).health)
            return ModelInForce(row.id, fallback, row.saved_at, row.saved_by, key)
    rule = from_stored(settings).health
    return ModelInForce(0, HealthModel.from_rule(rule), None, None, model_key(None, settings))


def saved_days(conn: Connection, project_id: int) -> list[datetime]:
    """When each version was saved (UTC), oldest first."""
    return list(
        conn.execute(
            select(health_models.c.saved_at)
            .where(health_models.c.project_id == project_id)
            .order_by(health_models.c.id)
        ).scalars()
    )
