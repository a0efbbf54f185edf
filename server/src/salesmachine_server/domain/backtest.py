"""The backtest: would a health rule have warned of the churn a project actually had?

Pure functions over two inputs the caller reads and replays (project/health_backtest.py):

- each account's health over the range, as intervals of days (`project/health_history.replay`
  gives them for the saved rule or a draft, without storing anything): anything with
  `from_day`, `to_day` (exclusive; None: still so at the end of what was replayed), `status`
  and `band` (`State`);
- each account's mrr history (`domain/revenue.py`), from which `churns` finds the churn
  movements: the calendar days, in the project's time zone, on which an account's mrr went
  from above 0 to 0 (the same movement the revenue report calls churn, cut by day).

And the figures (docs/health.md, "The backtest"):

- **churned**: the accounts with a churn movement in the range (an account that churned twice
  counts once, at its first churn in the range);
- **flagged N days before** (7, 30, 60): of those, how many were `bad`, and how many `bad` or
  `average`, on the day N days before their churn day (an account not yet active then, or
  churned already, is neither);
- **days bad before churn**: per churned account, the consecutive days it was `bad` up to the
  day before its churn (0 when it was not bad that day), counted as far back as the replay
  went; the median is over every churned account, so a rule that warned of half of them late
  and missed the other half scores low, as it should;
- **false alarms**: the accounts that did not churn in the range and were `bad` while
  `paying` for 30 consecutive days or more within it. Paying only, because only a paying
  account can churn: a free account in bad health is no alarm about revenue. An account bad
  near the end of the range may yet churn after it: the range decides, and says so.

Each figure comes with the accounts behind it (their uids), so a team can open them.
"""

from __future__ import annotations

import statistics
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from salesmachine_server.domain import revenue

BAD, AVERAGE = "bad", "average"
PAYING = "paying"
LEADS = (7, 30, 60)  # days before a churn at which the band is looked at
FALSE_ALARM_DAYS = 30  # bad this many consecutive days (while paying) without churning: a false alarm
# How far before the range health must be replayed, at least: the longest lead, so that a
# churn on the range's first day has its band 60 days before. Runs of bad days before a churn
# are counted as far back as the replay went (`Backtest.known_from`).
LOOKBACK_DAYS = max(LEADS)


class State(Protocol):
    """One interval of a customer's health (project/health_history.Interval has these)."""

    @property
    def from_day(self) -> date: ...

    @property
    def to_day(self) -> date | None: ...

    @property
    def status(self) -> str: ...

    @property
    def band(self) -> str | None: ...


@dataclass(frozen=True)
class Churned:
    """An account that churned in the range: when, its band at each lead, how long it was bad."""

    uid: str
    churned_on: date
    bands_before: dict[int, str | None]  # lead in days -> band that day
    days_bad_before: int


@dataclass(frozen=True)
class Flagged:
    """Churned accounts bad, and bad or average, N days before their churn."""

    bad: tuple[str, ...]
    bad_or_average: tuple[str, ...]


@dataclass(frozen=True)
class FalseAlarm:
    """An account that did not churn, with its longest bad spell while paying in the range."""

    uid: str
    bad_from: date
    bad_to: date  # the last bad day of the spell (inclusive)

    @property
    def days(self) -> int:
        return (self.bad_to - self.bad_from).days + 1


@dataclass(frozen=True)
class Backtest:
    first: date
    last: date
    known_from: date  # the first day health was replayed for
    churned: tuple[Churned, ...]  # by churn day, then uid
    flagged: dict[int, Flagged]  # lead -> accounts
    false_alarms: tuple[FalseAlarm, ...]  # longest spell first, then uid

    @property
    def median_days_bad_before_churn(self) -> float | None:
        """Over every churned account (0 for one not bad the day before); None without churn."""
        if not self.churned:
            return None
        return float(statistics.median(c.days_bad_before for c in self.churned))


def churns(histories: Mapping[revenue.Unit, revenue.History], first: date, last: date, tz: ZoneInfo) -> dict[str, date]:
    """Account uid -> the first day in first..last (local dates, both included) on which it had
    a churn movement: its mrr above 0 when the day began and 0 when it ended.

    The revenue report's own classification, by day periods, so that the backtest's churn is
    the one the revenue page shows. Contacts that carry revenue are left out: health is
    backtested on accounts. Raises revenue.TooManyPeriods past revenue.MAX_PERIODS days.
    """
    accounts = {unit: history for unit, history in histories.items() if unit.kind == "account"}
    found: dict[str, date] = {}
    for period in revenue.report(accounts, revenue.periods(first, last, revenue.DAY, tz)):
        for movement in period.movements[revenue.CHURN]:
            found.setdefault(movement.unit.uid, period.period.start)
    return found


def backtest(
    intervals: Mapping[str, Sequence[State]],
    churned_on: Mapping[str, date],
    first: date,
    last: date,
    known_from: date,
) -> Backtest:
    """The backtest's figures over first..last (both included).

    `intervals`: account uid -> its health states from `known_from` to `last` (any order; days
    outside them are unknown, as for an account not yet seen). `churned_on`: account uid -> its
    churn day in the range (`churns`); a churned account without intervals is still counted as
    churned, flagged at no lead.
    """
    churned = []
    for uid, day in churned_on.items():
        timeline = _Timeline(intervals.get(uid, ()))
        bands = {lead: timeline.band_on(day - timedelta(days=lead)) for lead in LEADS}
        churned.append(Churned(uid, day, bands, timeline.bad_days_ending(day - timedelta(days=1))))
    churned.sort(key=lambda c: (c.churned_on, c.uid))
    flagged = {
        lead: Flagged(
            bad=tuple(c.uid for c in churned if c.bands_before[lead] == BAD),
            bad_or_average=tuple(c.uid for c in churned if c.bands_before[lead] in (BAD, AVERAGE)),
        )
        for lead in LEADS
    }
    alarms = []
    for uid, states in intervals.items():
        if uid in churned_on:
            continue
        spell = _longest_spell(states, first, last)
        if spell is not None and (spell[1] - spell[0]).days + 1 >= FALSE_ALARM_DAYS:
            alarms.append(FalseAlarm(uid, spell[0], spell[1]))
    alarms.sort(key=lambda a: (-a.days, a.uid))
    return Backtest(first, last, known_from, tuple(churned), flagged, tuple(alarms))


class _Timeline:
    """One account's states, sorted, with the band of any day."""

    def __init__(self, states: Iterable[State]) -> None:
        self.states = sorted(states, key=lambda s: s.from_day)
        self.starts = [s.from_day for s in self.states]

    def _at(self, index: int, day: date) -> State | None:
        if index < 0:
            return None
        state = self.states[index]
        return state if state.to_day is None or day < state.to_day else None

    def band_on(self, day: date) -> str | None:
        return None if (state := self._at(bisect_right(self.starts, day) - 1, day)) is None else state.band

    def bad_days_ending(self, day: date) -> int:
        """How many consecutive days up to and including `day` the band was bad."""
        index = bisect_right(self.starts, day) - 1
        state = self._at(index, day)
        if state is None or state.band != BAD:
            return 0
        start = state.from_day
        # Earlier states that are bad too and end where the later one begins continue the run
        # (a new reason, or a new stage, with the same band).
        while index > 0:
            before = self.states[index - 1]
            if before.band != BAD or before.to_day != start:
                break
            start, index = before.from_day, index - 1
        return (day - start).days + 1


def _longest_spell(states: Sequence[State], first: date, last: date) -> tuple[date, date] | None:
    """The longest run of consecutive days in first..last bad while paying (first and last
    day, inclusive), the earliest of equal ones; None when there is none."""
    end_of_range = last + timedelta(days=1)
    best: tuple[date, date] | None = None
    run_start: date | None = None
    run_end: date | None = None  # exclusive
    for state in sorted(states, key=lambda s: s.from_day):
        start = max(state.from_day, first)
        end = min(state.to_day or end_of_range, end_of_range)
        if start >= end:
            continue
        if state.band == BAD and state.status == PAYING:
            if run_start is None or run_end != start:
                run_start = start
            run_end = end
            assert run_start is not None
            if best is None or (end - run_start).days > (best[1] - best[0]).days + 1:
                best = (run_start, end - timedelta(days=1))
        else:
            run_start = run_end = None
    return best
