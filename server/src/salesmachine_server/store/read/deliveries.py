"""The delivery log: deliveries newest first, each with its attempts (api/deliveries.py, the
dashboard's delivery log). Rows as stored: the target still holds its secret, which the
answers leave out (deliver/shown.py)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from salesmachine_server.store.db.schema import deliveries, delivery_attempts


@dataclass(frozen=True, slots=True)
class AttemptRow:
    id: int
    attempted_at: datetime
    duration_ms: float
    request: dict[str, Any]
    response_status: int | None
    response_body: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    playbook_id: int | None
    channel: str
    target: dict[str, Any]  # with its secret: shape it before showing it (deliver/shown.py)
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime | None
    claimed_until: datetime | None
    retry_from: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: tuple[AttemptRow, ...]  # oldest first


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    status: str | None = None
    channel: str | None = None
    playbook_id: int | None = None
    before_id: int | None = None  # the cursor: deliveries older than this one
    limit: int = 50


def deliveries_page(conn: Connection, project_id: int, query: DeliveryQuery) -> tuple[list[DeliveryRow], bool]:
    """A page of the project's deliveries, newest first, and whether there are more."""
    statement = select(deliveries).where(deliveries.c.project_id == project_id)
    if query.status is not None:
        statement = statement.where(deliveries.c.status == query.status)
    if query.channel is not None:
        statement = statement.where(deliveries.c.channel == query.channel)
    if query.playbook_id is not None:
        statement = statement.where(deliveries.c.playbook_id == query.playbook_id)
    if query.before_id is not None:
        statement = statement.where(deliveries.c.id < query.before_id)
    rows = conn.execute(statement.order_by(deliveries.c.id.desc()).limit(query.limit + 1)).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    logs = _attempts(conn, project_id, [row.id for row in rows])
    return [_delivery(row, logs.get(row.id, ())) for row in rows], more


def delivery_detail(conn: Connection, project_id: int, delivery_id: int) -> DeliveryRow | None:
    row = conn.execute(
        select(deliveries).where(deliveries.c.project_id == project_id, deliveries.c.id == delivery_id)
    ).first()
    if row is None:
        return None
    return _delivery(row, _attempts(conn, project_id, [row.id]).get(row.id, ()))


def _attempts(conn: Connection, project_id: int, ids: list[int]) -> dict[int, tuple[AttemptRow, ...]]:
    if not ids:
        return {}
    found: dict[int, list[AttemptRow]] = defaultdict(list)
    rows = conn.execute(
        select(delivery_attempts)
        .where(delivery_attempts.c.project_id == project_id, delivery_attempts.c.delivery_id.in_(ids))
        .order_by(delivery_attempts.c.delivery_id, delivery_attempts.c.id)
    )
    for r in rows:
        found[r.delivery_id].append(
            AttemptRow(r.id, r.attempted_at, r.duration_ms, r.request, r.response_status, r.response_body, r.error)
        )
    return {delivery_id: tuple(log) for delivery_id, log in found.items()}


def _delivery(row: Any, log: tuple[AttemptRow, ...]) -> DeliveryRow:
    return DeliveryRow(
        id=row.id,
        playbook_id=row.playbook_id,
        channel=row.channel,
        target=row.target,
        payload=row.payload,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        claimed_until=row.claimed_until,
        retry_from=row.retry_from,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        attempt_log=log,
    )
