"""Recording a Pulse: a manager's 0-5 rating of an account, with why. The API (PUT /v1/accounts/
{uid}/pulse) and the dashboard's form call `record_pulse`; the account is marked so that its
health history takes the Pulse in at the periodic task's next run (project/health_history.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, case, or_, update

from salesmachine_server.store.db.schema import accounts, pulses

MAX_REASON = 2000


def record_pulse(
    engine: Engine, project_id: int, account_id: int, score: int, reason: str, author: str, rated_at: datetime
) -> int:
    """Keep a Pulse (score 0 to 5, checked by the caller) of an account of the project; its id."""
    if not 0 <= score <= 5:
        raise ValueError(f"a Pulse is 0 to 5, got {score}")
    with engine.begin() as conn:
        pulse_id = conn.execute(
            pulses.insert()
            .values(
                project_id=project_id,
                account_id=account_id,
                score=score,
                reason=reason[:MAX_REASON],
                author=author[:320],
                rated_at=rated_at,
            )
            .returning(pulses.c.id)
        ).scalar_one()
        # Its health from the Pulse's day on (a UTC day minus one: on or before the local day).
        since = rated_at.date() - timedelta(days=1)
        marked = accounts.c.health_dirty_from
        conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id, accounts.c.project_id == project_id)
            .values(health_dirty_from=case((or_(marked.is_(None), marked > since), since), else_=marked))
        )
    return int(pulse_id)
