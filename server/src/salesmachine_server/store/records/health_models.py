"""Saving a project's health model: a new version each time (the newest is in force; the older
ones say where the rule changed on a chart). The periodic task sees the new version and rebuilds
the history (project/health_history.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from salesmachine_server.store.db.schema import health_models
from salesmachine_server.store.records import audit_log

HEALTH_MODEL = "health_model_saved"  # the audit log's action


def save_model(engine: Engine, project_id: int, document: dict[str, Any], saved_by: str, at: datetime) -> int:
    """Save a checked document (domain/health_model.py HealthModel.to_document) as the model in
    force; its id. The audit log notes who saved it, in the same transaction."""
    with engine.begin() as conn:
        model_id = conn.execute(
            health_models.insert()
            .values(project_id=project_id, document=document, saved_at=at, saved_by=saved_by)
            .returning(health_models.c.id)
        ).scalar_one()
        audit_log.record(conn, project_id, saved_by, HEALTH_MODEL, {"health_model_id": model_id}, at)
    return int(model_id)
