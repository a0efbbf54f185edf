"""MRR at calendar boundaries and the movements that explain each change (docs/revenue.md).

Pure functions over plain rows, so that the HTTP report and the dashboard compute the same
figures and tests can check them without a database:

- `revenue_units` decides who carries revenue (accounts first; a contact only when none of its
  accounts ever had mrr) and turns rows of `mrr_changes` into one history per unit;
- `periods` cuts a range of local dates into calendar periods and gives each its UTC instants;
- `report` walks every history once across the period boundaries and classifies, per unit and
  period, the move from its opening to its closing value: new, reactivation, expansion,
  contraction or churn.

Money is `Decimal` from the number as it was written (`Decimal(str(float))`), so sums are
exact and `end - start == new + reactivation + expansion - contraction - churn` holds to the
cent; `rounded` turns it into 2 decimals only for output.

The API refuses an mrr above `MAX_MRR` (domain/messages.py); a stored value it would refuse
today (written before the bound, or into the database by hand) is left out of the histories,
as if it had never been sent, and `out_of_range` names it: one bad row can neither fail the
report nor skew every figure after it.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

ZERO = Decimal(0)
CENT = Decimal("0.01")
# The largest mrr accepted, per contact or account and month: no business bills one customer
# this much, and below it a float holds every cent exactly (15 significant digits), so sums
# over millions of units, ARR included, stay exact within Decimal's default 28 digits.
MAX_MRR = 1_000_000_000_000

DAY, WEEK, MONTH, QUARTER, YEAR = "day", "week", "month", "quarter", "year"
INTERVALS = (DAY, WEEK, MONTH, QUARTER, YEAR)
MAX_PERIODS = 1000

NEW, REACTIVATION, EXPANSION, CONTRACTION, CHURN = "new", "reactivation", "expansion", "contraction", "churn"
MOVEMENTS = (NEW, REACTIVATION, EXPANSION, CONTRACTION, CHURN)
# Sign of each movement's (positive) total in the change of MRR.
SIGN = {NEW: 1, REACTIVATION: 1, EXPANSION: 1, CONTRACTION: -1, CHURN: -1}


# --- revenue units -------------------------------------------------------------------------


class Unit(NamedTuple):
    """Who revenue belongs to: ("account", account_uid) or ("contact", contact_uid)."""

    kind: str
    uid: str

    def as_json(self) -> dict[str, str]:
        return {f"{self.kind}_uid": self.uid}


class MrrRow(NamedTuple):
    """One row of `mrr_changes`: `mrr` None when it was removed; `effective_at` naive UTC."""

    owner: Unit
    mrr: float | int | None
    effective_at: datetime


History = list[tuple[datetime, Decimal]]  # (effective_at, mrr), oldest first; removed is 0


def money(value: float | int | Decimal | None) -> Decimal:
    """The exact decimal of a number as it was written (99.99, not 99.98999...); None is 0."""
    return ZERO if value is None else Decimal(str(value))


def stored_mrr(value: object) -> Decimal | None:
    """The money of a stored mrr value (None, removed, is 0), or None when the API would refuse
    it today: anything but a finite number from 0 to MAX_MRR."""
    if value is None:
        return ZERO
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not (math.isfinite(value) and 0 <= value <= MAX_MRR):
        return None
    return money(value)


def out_of_range(rows: Iterable[MrrRow]) -> list[MrrRow]:
    """The rows `revenue_units` leaves out, in the order given: the report names them."""
    return [row for row in rows if stored_mrr(row.mrr) is None]


def rounded(value: Decimal) -> float:
    """Money for output: 2 decimals, half up, never -0.0."""
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP)) + 0.0


def revenue_units(rows: Iterable[MrrRow], accounts_of: Mapping[str, Iterable[str]]) -> dict[Unit, History]:
    """Histories of the units that carry revenue.

    Every account with a row of mrr history is a unit. A contact is a unit when it has mrr
    history and none of the accounts it belongs to (`accounts_of[contact_uid]`) has any: its
    mrr is then the revenue of a customer without an account, not a copy of its account's.
    The rule looks at the whole history, not at the time of each row, so that handing revenue
    over from a contact to its account restates the past instead of showing a churn and a new
    customer that never happened. Rows that share an instant keep their order (the order they
    were recorded in). A row whose value is out of range (`stored_mrr`) is left out before
    anything else, as if it had never been sent.
    """
    kept = [(row, value) for row in rows if (value := stored_mrr(row.mrr)) is not None]
    paying_accounts = {row.owner.uid for row, _ in kept if row.owner.kind == "account"}
    histories: dict[Unit, History] = defaultdict(list)
    for row, value in kept:
        if row.owner.kind == "contact" and not paying_accounts.isdisjoint(accounts_of.get(row.owner.uid, ())):
            continue
        histories[row.owner].append((row.effective_at, value))
    for history in histories.values():
        history.sort(key=lambda change: change[0])  # stable: ties stay in recorded order
    return dict(histories)


def mrr_at(history: History, instant: datetime) -> Decimal:
    """A unit's MRR at an instant: its latest value effective at or before it (0 if none)."""
    index = bisect_right([at for at, _ in history], instant)
    return history[index - 1][1] if index else ZERO


# --- periods -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """[start, end) in local calendar dates, and the same two instants in naive UTC."""

    start: date
    end: date
    start_at: datetime
    end_at: datetime


class TooManyPeriods(ValueError):
    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"{count} periods, more than {limit}")
        self.count = count
        self.limit = limit


def next_boundary(day: date, interval: str) -> date:
    """The first calendar boundary after `day`: next day, Monday, 1st of month, quarter, year."""
    if interval == DAY:
        return day + timedelta(days=1)
    if interval == WEEK:
        return day + timedelta(days=7 - day.weekday())
    if interval == MONTH:
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    if interval == QUARTER:
        first_month = (day.month - 1) // 3 * 3 + 1
        return date(day.year + (first_month + 3 > 12), (first_month + 2) % 12 + 1, 1)
    if interval == YEAR:
        return date(day.year + 1, 1, 1)
    raise ValueError(f"unknown interval {interval!r}")


def period_count(first: date, last: date, interval: str) -> int:
    """How many calendar periods the days first..last (both included) touch."""
    if interval == DAY:
        return (last - first).days + 1
    if interval == WEEK:
        return ((last - timedelta(days=last.weekday())) - (first - timedelta(days=first.weekday()))).days // 7 + 1
    if interval == MONTH:
        return (last.year - first.year) * 12 + last.month - first.month + 1
    if interval == QUARTER:
        return (last.year - first.year) * 4 + (last.month - 1) // 3 - (first.month - 1) // 3 + 1
    if interval == YEAR:
        return last.year - first.year + 1
    raise ValueError(f"unknown interval {interval!r}")


def utc_instant(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight starting `day` in `tz`, as naive UTC (the form `effective_at` has)."""
    return datetime.combine(day, time(), tz).astimezone(UTC).replace(tzinfo=None)


def periods(first: date, last: date, interval: str, tz: ZoneInfo, limit: int = MAX_PERIODS) -> list[Period]:
    """The days first..last cut at the calendar boundaries of `interval` in `tz`.

    The first period starts at `first` and the last ends when `last` ends, so a range that does
    not start on a boundary gets a shorter first period: the report covers what was asked,
    exactly. Raises TooManyPeriods past `limit`.
    """
    if last < first:
        raise ValueError("last is before first")
    count = period_count(first, last, interval)
    if count > limit:
        raise TooManyPeriods(count, limit)
    stop = last + timedelta(days=1)
    days = [first]
    while days[-1] < stop:
        days.append(min(next_boundary(days[-1], interval), stop))
    instants = [utc_instant(day, tz) for day in days]
    return [Period(days[i], days[i + 1], instants[i], instants[i + 1]) for i in range(len(days) - 1)]


# --- movements -----------------------------------------------------------------------------


def classify(before: Decimal, after: Decimal, paid_before: bool) -> str | None:
    """The movement from a unit's opening to its closing value; None when they are equal."""
    if before == after:
        return None
    if before == 0:
        return REACTIVATION if paid_before else NEW
    if after == 0:
        return CHURN
    return EXPANSION if after > before else CONTRACTION


@dataclass(frozen=True)
class Movement:
    unit: Unit
    kind: str
    before: Decimal
    after: Decimal

    @property
    def amount(self) -> Decimal:
        """What it adds to (new, reactivation, expansion) or takes from MRR, as a positive sum."""
        return abs(self.after - self.before)


@dataclass
class PeriodReport:
    period: Period
    start_mrr: Decimal
    start_customers: int
    movements: dict[str, list[Movement]] = field(default_factory=lambda: {kind: [] for kind in MOVEMENTS})

    def total(self, kind: str) -> Decimal:
        return sum((m.amount for m in self.movements[kind]), ZERO)

    @property
    def net_new_mrr(self) -> Decimal:
        return sum((SIGN[kind] * self.total(kind) for kind in MOVEMENTS), ZERO)

    @property
    def mrr(self) -> Decimal:
        """MRR at the end: every unit's closing value, summed (= start + net new, exactly)."""
        return self.start_mrr + self.net_new_mrr

    @property
    def arr(self) -> Decimal:
        return 12 * self.mrr

    @property
    def customers(self) -> int:
        """Units with mrr above 0 at the end: only new, reactivation and churn cross 0."""
        counts = {kind: len(self.movements[kind]) for kind in MOVEMENTS}
        return self.start_customers + counts[NEW] + counts[REACTIVATION] - counts[CHURN]


def report(histories: Mapping[Unit, History], cuts: Sequence[Period]) -> list[PeriodReport]:
    """MRR, customers and movements of each period.

    A period [start, end) owns the changes effective from `start` up to, not including, `end`:
    it opens with each unit's value just before `start` and closes with its value just before
    `end`. Only the two endpoints count: a unit that moves and moves back inside one period has
    no movement in it. A unit goes from 0 to more as new when it never had mrr above 0 before
    the period, else as a reactivation.

    Each history is walked once; periods in which a unit has no change cost it nothing.
    """
    if not cuts:
        return []
    bounds = [p.start_at for p in cuts] + [cuts[-1].end_at]
    if any(a.end_at != b.start_at for a, b in itertools.pairwise(cuts)):
        raise ValueError("periods must follow each other without gaps")
    moves: list[dict[str, list[Movement]]] = [{kind: [] for kind in MOVEMENTS} for _ in cuts]
    start_mrr, start_customers = ZERO, 0
    for unit, history in histories.items():
        value, paid, i = ZERO, False, 0
        while i < len(history) and history[i][0] < bounds[0]:
            value = history[i][1]
            paid = paid or value > 0
            i += 1
        start_mrr += value
        start_customers += value > 0
        while i < len(history) and history[i][0] < bounds[-1]:
            index = bisect_right(bounds, history[i][0]) - 1
            before, paid_before = value, paid
            while i < len(history) and history[i][0] < bounds[index + 1]:
                value = history[i][1]
                paid = paid or value > 0
                i += 1
            kind = classify(before, value, paid_before)
            if kind is not None:
                moves[index][kind].append(Movement(unit, kind, before, value))
    reports = []
    for period, movements in zip(cuts, moves):
        for listed in movements.values():
            listed.sort(key=lambda m: (-m.amount, m.unit))
        this = PeriodReport(period, start_mrr, start_customers, movements)
        reports.append(this)
        start_mrr, start_customers = this.mrr, this.customers
    return reports
