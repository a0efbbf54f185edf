"""What the home page says needs attention: the revenue at risk (mrr of paying accounts in bad
health), the accounts behind it ranked by that mrr with the reason and the day they turned, the
portfolio's health bands week by week, and the renewals to come.

Health is the history's state in force (`health_history` rows with `to_day` NULL, written by
project/health_history.py), so Home, the profiles, the lists and the backtest say the same.
Revenue at risk and needing attention start from the history's index on (project_id, subject,
to_day, band): they read the bad accounts, not all of them. The weekly bands count states by
band and first or last day, from the index alone (migration 0015_display_settings). Renewals
compare one attribute of the project's accounts (a JSON param, which no index can hold for any
name a project chooses): one pass over the project's accounts, names read for the soonest only.

Measured on this 2-core machine at 100,000 accounts with four states each, a quarter of them
bad and paying (a harsh mix: the first two grow with the bad accounts), SQLite / PostgreSQL:
revenue at risk 420 / 300 ms, needing attention 150 / 170 ms, weekly bands 90 / 120 ms,
renewals 480 / 490 ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, select

from salesmachine_server.domain.revenue import MAX_MRR
from salesmachine_server.store.db.schema import accounts, health_history
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
    """An account's mrr when it is a JSON number, else NULL: on SQLite one JSON reading for the
    type and one for the value (json_params.param_number reads it four times to compare it)."""
    if conn.dialect.name == "postgresql":
        return param_number("postgresql", accounts.c.params, "mrr")
    raw = func.json_extract(accounts.c.params, '$."mrr"')
    return case((func.typeof(raw).in_(("integer", "real")), raw), else_=None)


def _amount(value: Any) -> float | None:
    """An mrr as revenue counts it: above 0, up to MAX_MRR (domain/revenue.py); else none."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= MAX_MRR:
        return float(value)
    return None


def _bad_now(project_id: int) -> ColumnElement[bool]:
    h = health_history.c
    return and_(h.project_id == project_id, h.subject == ACCOUNT, h.to_day.is_(None), h.band == "bad")


def revenue_at_risk(conn: Connection, project_id: int) -> RevenueAtRisk:
    h = health_history.c
    amounts = [
        amount
        for (value,) in conn.execute(
            select(_mrr(conn))
            .select_from(health_history.join(accounts, accounts.c.id == h.customer_id))
            .where(_bad_now(project_id), h.status == "paying", accounts.c.project_id == project_id)
        )
        if (amount := _amount(value)) is not None
    ]
    return RevenueAtRisk(round(sum(amounts), 2), len(amounts))


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
    return [
        NeedsAttention(r.account_uid, r.name, _amount(r.mrr), r.status, r.stage, r.reason, r.from_day) for r in rows
    ]


def week_starts(today: date, weeks: int = 12) -> list[date]:
    """The Mondays of the last `weeks` weeks, this week's last."""
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def weekly_bands(
    conn: Connection, project_id: int, today: date, weeks: int = 12, subject: str = ACCOUNT
) -> list[WeekBands]:
    """Per week, how many customers were in each band on its last day (today, for this one).

    A customer is in a band on day d when one of its rows has that band, from_day <= d and no
    to_day or to_day > d. So the count on d is the rows begun by d less the rows ended by d:
    two small aggregates (rows per band and first day, per band and end day) over the rows alive
    at some time in the weeks shown, summed here for each week's day, rather than a test of
    every row against every week."""
    starts = week_starts(today, weeks)
    days = [min(start + timedelta(days=6), today) for start in starts]
    h = health_history.c
    rows = [h.project_id == project_id, h.subject == subject, h.band.is_not(None), h.from_day <= today]
    # The states in force, and those that ended during the weeks shown: two ranges of the index
    # on (project_id, subject, to_day, band, from_day), which holds all that is read.
    in_force = conn.execute(
        select(h.band, h.from_day, func.count()).where(*rows, h.to_day.is_(None)).group_by(h.band, h.from_day)
    ).all()
    ended_since = [*rows, h.to_day > days[0]]
    closed = conn.execute(
        select(h.band, h.from_day, func.count()).where(*ended_since).group_by(h.band, h.from_day)
    ).all()
    ended = conn.execute(
        select(h.band, h.to_day, func.count()).where(*ended_since, h.to_day <= today).group_by(h.band, h.to_day)
    ).all()
    begun = [*in_force, *closed]
    found = []
    for start, day in zip(starts, days, strict=True):
        count = dict.fromkeys(BANDS, 0)
        for band, first, n in begun:
            if first <= day:
                count[band] += n
        for band, end, n in ended:
            if end <= day:
                count[band] -= n
        found.append(WeekBands(start, day, count["good"], count["average"], count["bad"]))
    return found


def renewals(
    conn: Connection, project_id: int, attribute: str, today: date, within_days: int = 90, limit: int = 50
) -> tuple[list[Renewal], dict[int, tuple[int, float]]]:
    """Accounts whose `attribute` (a date, YYYY-MM-DD, or an ISO time: its date is taken) falls
    from today to `within_days` days on, soonest first (`limit` of them), and per horizon of 30,
    60 and 90 days: how many renew and their mrr."""
    value = _text(conn, attribute)
    last = today + timedelta(days=within_days)
    # ISO dates and times order as text: BETWEEN (one reading of the attribute per account)
    # today and the day after the last, whose own times are then left out below. Only the date
    # and the mrr of each are read here; names and uids for the `limit` soonest alone.
    found = conn.execute(
        select(accounts.c.id, value.label("renews"), _mrr(conn).label("mrr")).where(
            accounts.c.project_id == project_id,
            value.between(today.isoformat(), (last + timedelta(days=1)).isoformat()),
        )
    ).all()
    horizons = {30: (0, 0.0), 60: (0, 0.0), 90: (0, 0.0)}
    due: list[tuple[date, int, float | None]] = []
    for row in found:
        day = _day(row.renews)
        if day is None or not today <= day <= last:
            continue
        mrr = _amount(row.mrr)
        due.append((day, row.id, mrr))
        for horizon, (count, total) in horizons.items():
            if day <= today + timedelta(days=horizon):
                horizons[horizon] = (count + 1, total + (mrr or 0.0))
    soonest = sorted(due)[:limit]
    ids = [account_id for _, account_id, _ in soonest]
    names = {
        row.id: row
        for row in conn.execute(
            select(
                accounts.c.id,
                accounts.c.account_uid,
                param_text(conn.dialect.name, accounts.c.params, "name").label("name"),
            ).where(accounts.c.id.in_(ids))
        )
    }
    states = states_in_force(conn, project_id, ACCOUNT, ids)
    upcoming = [
        Renewal(
            names[account_id].account_uid,
            names[account_id].name,
            mrr,
            day,
            state.band if (state := states.get(account_id)) else None,
        )
        for day, account_id, mrr in soonest
    ]
    return upcoming, {k: (count, round(total, 2)) for k, (count, total) in horizons.items()}


@dataclass(frozen=True)
class StateInForce:
    status: str
    stage: str | None
    band: str | None


def states_in_force(
    conn: Connection, project_id: int, subject: str, customer_ids: Sequence[int]
) -> dict[int, StateInForce]:
    """The state in force of a few customers (a page's), by the history's index on the customer:
    every state of each is read and the one without an end kept. (Asking for `to_day IS NULL`
    in SQL leads SQLite, which keeps no statistics, to the index on the band instead, and
    through every customer of the project: 0.6 s at 100,000 accounts, against 1 ms.)"""
    if not customer_ids:
        return {}
    h = health_history.c
    rows = conn.execute(
        select(h.customer_id, h.to_day, h.status, h.stage, h.band).where(
            h.project_id == project_id, h.subject == subject, h.customer_id.in_(list(customer_ids))
        )
    )
    return {row.customer_id: StateInForce(row.status, row.stage, row.band) for row in rows if row.to_day is None}


def _text(conn: Connection, key: str) -> ColumnElement[str]:
    """An attribute as text when it is a string (a date is one): one JSON reading per row,
    where json_params.param_text reads it thrice on SQLite to write booleans as PostgreSQL does."""
    if conn.dialect.name == "postgresql":
        return param_text("postgresql", accounts.c.params, key)
    return func.json_extract(accounts.c.params, '$."' + key.replace('"', '\\"') + '"')


def _day(text: Any) -> date | None:
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None
