"""The Pulse: a manager's latest rating of each account, and whether it is stale (older than the
health model's `pulse_stale_after_days`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, select

from salesmachine_server.store.db.dialect import chunks
from salesmachine_server.store.db.schema import pulses
from salesmachine_server.store.read.health_models import in_force


@dataclass(frozen=True)
class Pulse:
    score: int
    reason: str
    author: str
    rated_at: datetime  # naive UTC
    stale: bool


def latest(
    conn: Connection, project_id: int, account_ids: Iterable[int], now: datetime | None = None
) -> dict[int, Pulse]:
    """The newest Pulse of each of these accounts that has one."""
    stale_days = in_force(conn, project_id).model.pulse_stale_after_days
    moment = now or datetime.now(UTC).replace(tzinfo=None)
    found: dict[int, Pulse] = {}
    p = pulses.c
    for part in chunks(sorted(set(account_ids))):
        rows = conn.execute(
            select(p.account_id, p.score, p.reason, p.author, p.rated_at)
            .where(p.project_id == project_id, p.account_id.in_(part))
            .order_by(p.account_id, p.rated_at.desc(), p.id.desc())
        )
        for row in rows:
            if row.account_id not in found:
                stale = moment - row.rated_at >= timedelta(days=stale_days)
                found[row.account_id] = Pulse(row.score, row.reason, row.author, row.rated_at, stale)
    return found
