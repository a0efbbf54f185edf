"""What the home page says needs attention: the revenue at risk (mrr of paying accounts in bad
health), the accounts behind it ranked by that mrr with the reason and the day they turned, the
portfolio's health bands week by week, and the renewals to come.

Health is the history's state in force (`health_history` rows with `to_day` NULL, written by
project/health_history.py), so Home, the profiles, the lists and the backtest say the same.
Every query starts from the index on (project_id, subject, to_day, band): at 100,000 accounts
the bad ones are read by that index and joined to their accounts by primary key, never a scan
of the accounts. The weekly bands read the states alive during the twelve weeks once, counting
all weeks in one pass. Renewals compare one attribute of the project's accounts (a JSON param,
which no index can hold for any name a project chooses): one pass over the project's accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, or_, select

from salesmachine_server.domain.revenue import MAX_MRR
from salesmachine_server.store.db.schema import accounts, health_history
from salesmachine_server.store.read.health_states import current
from salesmachine_server.store.read.json_params import param_number, param_text

ACCOUNT = "account"
BANDS = ("good", "average", "bad")


@dataclass(frozen=True)
class RevenueAtRisk:
    mrr: float  # the sum of the mrr of paying accounts whose band is bad
    accounts: int  # how many they are


@dataclass(frozen=True)
class NeedsAttention:
    account_uid: str
    name: str | None
    mrr: float | None
    status: str
    stage: str | None
    reason: str
    since: date  # the first day of the bad state


@dataclass(frozen=True)
class WeekBands:
    start: date  # a Monday
    day: date  # the day counted: the week's Sunday, or today for this week
    good: int
    average: int
    bad: int


@dataclass(frozen=True)
class Renewal:
    account_uid: str
    name: str | None
    mrr: float | None
    renews_on: date
    band: str | None


def _mrr(conn: Connection) -> ColumnElement[float]:
    """An account's mrr as revenue counts it: a number up to MAX_MRR (domain/revenue.py)."""
    value = param_number(conn.dialect.name, accounts.c.params, "mrr")
    return case((and_(value > 0, value <= MAX_MRR), value), else_=None)


def _bad_now(project_id: int) -> ColumnElement[bool]:
    h = health_history.c
    return and_(h.project_id == project_id, h.subject == ACCOUNT, h.to_day.is_(None), h.band == "bad")


def revenue_at_risk(conn: Connection, project_id: int) -> RevenueAtRisk:
    mrr = _mrr(conn)
    h = health_history.c
    row = conn.execute(
        select(func.coalesce(func.sum(mrr), 0.0), func.count(mrr))
        .select_from(health_history.join(accounts, accounts.c.id == h.customer_id))
        .where(_bad_now(project_id), h.status == "paying", accounts.c.project_id == project_id)
    ).one()
    return RevenueAtRisk(round(float(row[0]), 2), int(row[1]))


def needing_attention(conn: Connection, project_id: int, limit: int = 10) -> list[NeedsAttention]:
    """Accounts in bad health, the most mrr first (paying ones before the rest), then those bad
    the longest."""
    mrr = _mrr(conn)
    h = health_history.c
    rows = conn.execute(
        select(
            accounts.c.account_uid,
            param_text(conn.dialect.name, accounts.c.params, "name").label("name"),
            mrr.label("mrr"),
            h.status,
            h.stage,
            h.reason,
            h.from_day,
        )
        .select_from(health_history.join(accounts, accounts.c.id == h.customer_id))
        .where(_bad_now(project_id), accounts.c.project_id == project_id)
        .order_by(func.coalesce(mrr, 0.0).desc(), h.from_day, accounts.c.id)
        .limit(limit)
    )
    return [NeedsAttention(r.account_uid, r.name, r.mrr, r.status, r.stage, r.reason, r.from_day) for r in rows]


def week_starts(today: date, weeks: int = 12) -> list[date]:
    """The Mondays of the last `weeks` weeks, this week's last."""
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def weekly_bands(
    conn: Connection, project_id: int, today: date, weeks: int = 12, subject: str = ACCOUNT
) -> list[WeekBands]:
    """Per week, how many customers were in each band on its last day (today, for this one)."""
    starts = week_starts(today, weeks)
    days = [min(start + timedelta(days=6), today) for start in starts]
    h = health_history.c
    counts: list[Any] = []
    for day in days:
        alive = and_(h.from_day <= day, or_(h.to_day.is_(None), h.to_day > day))
        counts += [func.sum(case((and_(alive, h.band == band), 1), else_=0)) for band in BANDS]
    row = conn.execute(
        select(*counts).where(
            h.project_id == project_id,
            h.subject == subject,
            h.band.is_not(None),
            h.from_day <= today,
            or_(h.to_day.is_(None), h.to_day > days[0]),
        )
    ).one()
    values = [int(v or 0) for v in row]
    return [
        WeekBands(start, day, *values[i * len(BANDS) : (i + 1) * len(BANDS)])
        for i, (start, day) in enumerate(zip(starts, days, strict=True))
    ]


def renewals(
    conn: Connection, project_id: int, attribute: str, today: date, within_days: int = 90, limit: int = 50
) -> tuple[list[Renewal], dict[int, tuple[int, float]]]:
    """Accounts whose `attribute` (a date, YYYY-MM-DD, or an ISO time: its date is taken) falls
    from today to `within_days` days on, soonest first (`limit` of them), and per horizon of 30,
    60 and 90 days: how many renew and their mrr."""
    value = param_text(conn.dialect.name, accounts.c.params, attribute)
    last = today + timedelta(days=within_days)
    # ISO dates order as text; "9999" after any day, so `< day after last` keeps times of `last`.
    found = conn.execute(
        select(accounts.c.id, accounts.c.account_uid, accounts.c.params, value.label("renews"), _mrr(conn).label("mrr"))
        .where(
            accounts.c.project_id == project_id,
            value >= today.isoformat(),
            value < (last + timedelta(days=1)).isoformat(),
        )
        .order_by(value, accounts.c.id)
    ).all()
    upcoming: list[Renewal] = []
    horizons = {30: (0, 0.0), 60: (0, 0.0), 90: (0, 0.0)}
    ids: list[int] = []
    rows: list[Any] = []
    for row in found:
        day = _day(row.renews)
        if day is None or not today <= day <= last:
            continue
        for horizon, (count, total) in horizons.items():
            if day <= today + timedelta(days=horizon):
                horizons[horizon] = (count + 1, total + (row.mrr or 0.0))
        if len(rows) < limit:
            rows.append((row, day))
            ids.append(row.id)
    states = current(conn, project_id, ACCOUNT, ids)
    for row, day in rows:
        name = row.params.get("name") if isinstance(row.params, dict) else None
        state = states.get(row.id)
        upcoming.append(
            Renewal(
                row.account_uid, name if isinstance(name, str) else None, row.mrr, day, state.band if state else None
            )
        )
    return upcoming, {k: (count, round(total, 2)) for k, (count, total) in horizons.items()}


def _day(text: Any) -> date | None:
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None
