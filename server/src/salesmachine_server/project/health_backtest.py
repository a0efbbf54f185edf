"""A backtest run: the health a model gives every account over the range, replayed from the
project's own past without storing it (project/health_history.replay), beside the churn its
mrr history shows; domain/backtest.py computes the figures.

The same function answers the API (`POST /v1/health/backtest`), the command line and the
dashboard's health settings page, so the three agree on every figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from salesmachine_server.domain import backtest, revenue
from salesmachine_server.domain.health_model import HealthModel
from salesmachine_server.project.health_history import replay
from salesmachine_server.store.read.backtest_sources import account_mrr_histories, account_uids
from salesmachine_server.store.read.revenue import names_of

# Health is replayed from this many days before the range: the longest lead (60 days), so that
# a churn on the range's first day has its band 60 days before it.
LOOKBACK_DAYS = backtest.LOOKBACK_DAYS


@dataclass(frozen=True)
class BacktestRun:
    result: backtest.Backtest
    names: dict[str, str | None]  # account uid -> its name param, for the accounts reported


def run_backtest(
    conn: Connection, project_id: int, model: HealthModel, first: date, last: date, tz: ZoneInfo
) -> BacktestRun:
    """The backtest of `model` over first..last (local dates, both included)."""
    known_from = first - timedelta(days=LOOKBACK_DAYS)
    churned_on = backtest.churns(account_mrr_histories(conn, project_id), first, last, tz)
    replayed = replay(conn, project_id, model, "account", known_from, last)
    uids = account_uids(conn, project_id)
    intervals = {uids[account_id]: states for account_id, states in replayed.items() if account_id in uids}
    result = backtest.backtest(intervals, churned_on, first, last, known_from)
    reported = {c.uid for c in result.churned} | {a.uid for a in result.false_alarms}
    names = names_of(conn, project_id, (revenue.Unit("account", uid) for uid in reported))
    return BacktestRun(result, {unit.uid: name for unit, name in names.items()})
