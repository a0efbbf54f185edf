"""The delivery queue's rows (deliver/ decides; this module writes): a delivery enqueued in the
caller's transaction, claimed by a sender, each attempt recorded with the outcome it led to.

Claiming is one statement: the due deliveries not claimed by anyone (or whose claim ran out: the
sender died) get `claimed_until`, and come back. On PostgreSQL the rows are picked `FOR UPDATE
SKIP LOCKED`, so two servers claiming at once take different rows and neither waits; on SQLite
write transactions take turns (one writer), which gives the same. A sender records its attempt,
and the delivery's next state, in one transaction, and clears the claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Engine, delete, insert, or_, select, update

from salesmachine_server.domain.payload_uids import names_any
from salesmachine_server.store.db.schema import deliveries, delivery_attempts

CHANNELS = ("webhook", "slack", "email")
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATUSES = (PENDING, DELIVERED, FAILED)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery a sender holds until `claimed_until`."""

    id: int
    project_id: int
    channel: str
    target: dict[str, Any]
    payload: dict[str, Any]
    attempts: int  # made before this one
    retry_from: datetime
    claimed_until: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt, as recorded: what was sent (no secret), what came back, how long it took."""

    attempted_at: datetime
    duration_ms: float
    request: dict[str, Any]
    response_status: int | None
    response_body: str | None
    error: str | None  # None: delivered


def insert_delivery(
    conn: Connection,
    project_id: int,
    *,
    channel: str,
    target: dict[str, Any],
    payload: dict[str, Any],
    playbook_id: int | None,
    now: datetime,
) -> int:
    """A pending delivery, due now, in the caller's transaction."""
    row = conn.execute(
        insert(deliveries)
        .values(
            project_id=project_id,
            playbook_id=playbook_id,
            channel=channel,
            target=target,
            payload=payload,
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            retry_from=now,
            created_at=now,
        )
        .returning(deliveries.c.id)
    ).one()
    return int(row.id)


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Pending, its time come, and no sender working on it (or its claim ran out)."""
    return (
        deliveries.c.status == PENDING,
        deliveries.c.next_attempt_at <= now,
        or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until < now),
    )


def any_due(engine: Engine, now: datetime) -> bool:
    """Whether any delivery is due at `now` and not claimed (a read: the sender asks it every
    second, and only claims, a write, when the answer is yes)."""
    with engine.connect() as conn:
        found = conn.execute(select(deliveries.c.id).where(*_due(now)).limit(1)).first()
    return found is not None


def claim_due(engine: Engine, now: datetime, hold: timedelta, limit: int) -> list[Claimed]:
    """Claim up to `limit` deliveries due at `now`, for `hold`; the oldest due first."""
    due = (
        select(deliveries.c.id)
        .where(*_due(now))
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    until = now + hold
    with engine.begin() as conn:
        rows = conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(due.scalar_subquery()))
            .values(claimed_until=until)
            .returning(
                deliveries.c.id,
                deliveries.c.project_id,
                deliveries.c.channel,
                deliveries.c.target,
                deliveries.c.payload,
                deliveries.c.attempts,
                deliveries.c.retry_from,
            )
        ).all()
    found = [Claimed(r.id, r.project_id, r.channel, r.target, r.payload, r.attempts, r.retry_from, until) for r in rows]
    return sorted(found, key=lambda claimed: claimed.id)


def record_attempt(
    engine: Engine, claimed: Claimed, attempt: Attempt, status: str, next_attempt_at: datetime | None
) -> None:
    """The attempt, and the delivery's state after it, in one transaction; the claim is cleared."""
    with engine.begin() as conn:
        conn.execute(
            insert(delivery_attempts).values(
                delivery_id=claimed.id,
                project_id=claimed.project_id,
                attempted_at=attempt.attempted_at,
                duration_ms=attempt.duration_ms,
                request=attempt.request,
                response_status=attempt.response_status,
                response_body=attempt.response_body,
                error=attempt.error,
            )
        )
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == claimed.id)
            .values(
                status=status,
                attempts=deliveries.c.attempts + 1,
                next_attempt_at=next_attempt_at,
                claimed_until=None,
                last_error=attempt.error,
                delivered_at=attempt.attempted_at if status == DELIVERED else None,
            )
        )


def resend(engine: Engine, project_id: int, delivery_id: int, now: datetime) -> bool:
    """Send a delivery again now, whatever became of it, with a new retry window; its earlier
    attempts stay in the log. False when the project has no such delivery."""
    with engine.begin() as conn:
        changed = conn.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id, deliveries.c.project_id == project_id)
            .values(status=PENDING, next_attempt_at=now, retry_from=now, delivered_at=None)
        ).rowcount
    return bool(changed == 1)


def release_claim(engine: Engine, claimed: Claimed) -> None:
    """Give a claimed delivery back unsent (the sender is stopping): due again at once, for the
    next sender, instead of after its claim runs out."""
    with engine.begin() as conn:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == claimed.id, deliveries.c.claimed_until == claimed.claimed_until)
            .values(claimed_until=None)
        )


def delete_naming(engine: Engine, project_id: int, uids: frozenset[str], batch: int) -> int:
    """Delete the project's deliveries whose payload names one of `uids` (an erasure: what was,
    or was to be, sent about the person, with its attempts), read page by page outside any write
    transaction; a pending one is not sent. Matched as refused items are
    (domain/payload_uids.py): a value equal to a uid, not a substring."""
    removed, last_id = 0, 0
    while True:
        with engine.connect() as conn:
            page = conn.execute(
                select(deliveries.c.id, deliveries.c.payload)
                .where(deliveries.c.project_id == project_id, deliveries.c.id > last_id)
                .order_by(deliveries.c.id)
                .limit(batch)
            ).all()
        if not page:
            return removed
        last_id = page[-1].id
        doomed = [row.id for row in page if names_any(orjson.dumps(row.payload).decode(), uids)]
        if doomed:
            with engine.begin() as conn:
                conn.execute(delete(delivery_attempts).where(delivery_attempts.c.delivery_id.in_(doomed)))
                removed += conn.execute(delete(deliveries).where(deliveries.c.id.in_(doomed))).rowcount


def prune_finished(engine: Engine, before: datetime, batch: int = 1000) -> int:
    """Delete deliveries delivered or failed that were queued before `before`, with their
    attempts, a batch per transaction (the log's retention); pending ones stay whatever their age."""
    removed = 0
    while True:
        with engine.begin() as conn:
            ids = list(
                conn.execute(
                    select(deliveries.c.id)
                    .where(deliveries.c.status != PENDING, deliveries.c.created_at < before)
                    .order_by(deliveries.c.id)
                    .limit(batch)
                ).scalars()
            )
            if not ids:
                return removed
            conn.execute(delete(delivery_attempts).where(delivery_attempts.c.delivery_id.in_(ids)))
            removed += conn.execute(delete(deliveries).where(deliveries.c.id.in_(ids))).rowcount
