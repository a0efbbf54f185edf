"""What the backtest reads besides the health it replays: the accounts' mrr histories (where
churn movements come from) and the uids and names of accounts by id (replay keys its answer
by id; the backtest names accounts by uid, as the API does)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from salesmachine_server.domain import revenue
from salesmachine_server.store.db.schema import accounts, mrr_changes


def account_mrr_histories(conn: Connection, project_id: int) -> dict[revenue.Unit, revenue.History]:
    """Every account's mrr history, as domain/revenue.py's `revenue_units` makes it. Only the
    rows accounts own are read: an account's history is its own rows whatever the contacts
    carry, and the backtest is about accounts."""
    query = (
        select(accounts.c.account_uid, mrr_changes.c.mrr, mrr_changes.c.effective_at)
        .select_from(mrr_changes.join(accounts, accounts.c.id == mrr_changes.c.account_id))
        .where(mrr_changes.c.project_id == project_id)
        .order_by(mrr_changes.c.effective_at, mrr_changes.c.id)
    )
    rows = [
        revenue.MrrRow(revenue.Unit("account", uid), mrr, effective_at)
        for uid, mrr, effective_at in conn.execute(query)
    ]
    return revenue.revenue_units(rows, {})


def account_uids(conn: Connection, project_id: int) -> dict[int, str]:
    """account id -> uid, for every account of the project (replay answers for all of them)."""
    rows = conn.execute(select(accounts.c.id, accounts.c.account_uid).where(accounts.c.project_id == project_id))
    return {row_id: uid for row_id, uid in rows}
