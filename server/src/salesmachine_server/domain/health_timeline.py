"""A customer's states over a range of days, from what it did, in one pass over its own rows.

Everything a health model reads is piecewise constant over days: active days in a window change
only on an active day and D days after it, a milestone on the day it was done, mrr on the day of
a change, a Pulse on its day and when it turns stale. So a customer's state is evaluated only on
the days where one of its inputs changes (`change_days`), never on every day: the work grows with
the customer's rows, not with the length of the range. Consecutive equal states (status, stage,
band) are one `Interval`, whose reason is the one of its first day.

Day granularity throughout: days are the project's local calendar days; a relative time in a
condition (`first_seen_at>-30d`) compares days, `d - 30` on day d. What the store keeps only as a
current value (attributes: params, and the parts of a condition on them) is `static`: the same on
every day of the range (docs/health.md says so).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from salesmachine_server.domain.health_model import (
    CHURNED,
    FREE,
    PAYING,
    TRIAL,
    Condition,
    Facts,
    SubjectModel,
    band_of,
    judge,
)
from salesmachine_server.domain.list_query import Ago, Filter

# Fields of the list language whose value changes over days, evaluated here; any other filter
# (params, account_uid, absolute times) is static and evaluated by the store's SQL.
DAILY_FIELDS = ("mrr", "active_days_14", "active_days_30")
_FIELD_WINDOWS = {"active_days_14": 14, "active_days_30": 30}

NOT_STARTED = "not started: never active"
CHURNED_REASON = "churned: mrr went to 0"


def is_daily(one: Filter) -> bool:
    """Whether a filter's truth changes from day to day (evaluated here, not in SQL)."""
    if one.field in DAILY_FIELDS:
        return True
    return one.field in ("first_seen_at", "last_seen_at") and isinstance(one.value, Ago)


def static_filters(condition: Condition) -> tuple[Filter, ...]:
    return tuple(one for one in condition.filters if not is_daily(one))


@dataclass(frozen=True)
class Interval:
    """A state over [from_day, to_day): to_day is exclusive; None only for a state in force."""

    from_day: date
    to_day: date | None
    status: str
    stage: str | None
    band: str | None
    reason: str

    def same_state(self, other: Interval) -> bool:
        return (self.status, self.stage, self.band) == (other.status, other.stage, other.band)


@dataclass
class CustomerRows:
    """What one customer did, as the store gave it (store/read/health_inputs.py)."""

    first_day: date  # the local day it was first seen: it has no state before
    active: list[date] = field(default_factory=list)  # its active days, sorted
    first_active: date | None = None  # its first active day ever (may be before `active` starts)
    events: dict[str, list[tuple[date, int]]] = field(default_factory=dict)  # name -> (day, times), sorted
    milestones: dict[str, date] = field(default_factory=dict)  # name -> first day done
    mrr: list[tuple[date, float | None]] = field(default_factory=list)  # value in force from that day
    pulses: list[tuple[date, int]] = field(default_factory=list)  # score from that day
    static: dict[str, bool] = field(default_factory=dict)  # condition text -> its static part holds


@dataclass(frozen=True)
class Needs:
    """The windows and names a subject's model reads, found once per model."""

    active_windows: frozenset[int]
    event_windows: Mapping[str, frozenset[int]]
    milestones: frozenset[str]
    contraction_windows: frozenset[int]
    first_seen_ago: frozenset[int]
    last_seen_ago: frozenset[int]
    attributes: tuple[Condition, ...] = ()  # the conditions of attribute signals

    @classmethod
    def of(cls, model: SubjectModel) -> Needs:
        active: set[int] = set()
        events: dict[str, set[int]] = {}
        milestones: set[str] = set()
        contractions: set[int] = set()
        for signal in model.signals():
            if signal.kind == "active_days" and signal.days:
                active.add(signal.days)
            elif signal.kind == "event" and signal.event and signal.days:
                events.setdefault(signal.event, set()).add(signal.days)
            elif signal.kind == "milestone" and signal.event:
                milestones.add(signal.event)
            elif signal.kind == "mrr_contraction" and signal.days:
                contractions.add(signal.days)
        first_ago: set[int] = set()
        last_ago: set[int] = set()
        for condition in model.conditions():
            for one in condition.filters:
                if one.field in _FIELD_WINDOWS:
                    active.add(_FIELD_WINDOWS[one.field])
                elif isinstance(one.value, Ago):
                    (first_ago if one.field == "first_seen_at" else last_ago).add(one.value.days)
        return cls(
            frozenset(active),
            {name: frozenset(days) for name, days in events.items()},
            frozenset(milestones),
            frozenset(contractions),
            frozenset(first_ago),
            frozenset(last_ago),
            tuple(s.condition for s in model.signals() if s.condition is not None),
        )

    def lookback(self) -> int:
        """How many days before a range its windows read."""
        windows = [*self.active_windows, *self.contraction_windows, *self.last_seen_ago, 1]
        windows += [d for days in self.event_windows.values() for d in days]
        return max(windows)


class _Series:
    """One customer's rows, indexed for questions about any day."""

    def __init__(self, rows: CustomerRows) -> None:
        self.rows = rows
        self.active = rows.active
        self.event_days = {name: [d for d, _ in seq] for name, seq in rows.events.items()}
        self.event_sums: dict[str, list[int]] = {}
        for name, seq in rows.events.items():
            total, sums = 0, []
            for _, n in seq:
                total += n
                sums.append(total)
            self.event_sums[name] = sums
        self.mrr_days = [d for d, _ in rows.mrr]
        self.mrr_values = [v for _, v in rows.mrr]
        self.paid_from = next((d for d, v in rows.mrr if v is not None and v > 0), None)
        self.contractions = [
            d for (d, v), (_, before) in zip(rows.mrr[1:], rows.mrr) if before is not None and (v or 0) < before
        ]
        self.pulse_days = [d for d, _ in rows.pulses]

    def active_in(self, day: date, window: int) -> int:
        return bisect_right(self.active, day) - bisect_right(self.active, day - timedelta(days=window))

    def last_active(self, day: date) -> date | None:
        i = bisect_right(self.active, day)
        if i:
            return self.active[i - 1]
        first = self.rows.first_active
        return first if first is not None and first <= day else None

    def events_in(self, name: str, day: date, window: int) -> int:
        days, sums = self.event_days.get(name), self.event_sums.get(name)
        if not days or not sums:
            return 0
        hi, lo = bisect_right(days, day), bisect_right(days, day - timedelta(days=window))
        return (sums[hi - 1] if hi else 0) - (sums[lo - 1] if lo else 0)

    def mrr(self, day: date) -> float | None:
        i = bisect_right(self.mrr_days, day)
        return self.mrr_values[i - 1] if i else None

    def contracted(self, day: date, window: int) -> bool:
        i = bisect_right(self.contractions, day)
        return bool(i) and self.contractions[i - 1] > day - timedelta(days=window)

    def pulse(self, day: date, stale_after: int) -> int | None:
        i = bisect_right(self.pulse_days, day)
        if not i:
            return None
        rated, score = self.rows.pulses[i - 1]
        return score if day < rated + timedelta(days=stale_after) else None


def change_days(rows: CustomerRows, needs: Needs, stale_after: int, start: date, end: date) -> list[date]:
    """The days of [start, end] on which any input of this customer's state may change."""
    if start >= end:  # one day (the day turned): judged on it
        return [start] if start == end else []
    candidates: set[date] = {start}
    shifts = {0, *needs.active_windows, *(n for n in needs.last_seen_ago), *(n + 1 for n in needs.last_seen_ago)}
    reach = timedelta(days=max(shifts))
    # Only the days whose shifts can land in [start, end]: a range of the sorted active days.
    active = rows.active[bisect_left(rows.active, start - reach) : bisect_right(rows.active, end)]
    for day in active:
        candidates.update(day + timedelta(days=s) for s in shifts)
    if rows.first_active is not None:
        candidates.add(rows.first_active)
        candidates.update(rows.first_active + timedelta(days=n + k) for n in needs.last_seen_ago for k in (0, 1))
    for name, windows in needs.event_windows.items():
        for day, _ in rows.events.get(name, ()):
            candidates.add(day)
            candidates.update(day + timedelta(days=w) for w in windows)
    candidates.update(rows.milestones.values())
    for day, _ in rows.mrr:
        candidates.add(day)
        candidates.update(day + timedelta(days=w) for w in needs.contraction_windows)
    for day, _ in rows.pulses:
        candidates.update((day, day + timedelta(days=stale_after)))
    candidates.update(rows.first_day + timedelta(days=n + k) for n in needs.first_seen_ago for k in (0, 1))
    return sorted(day for day in candidates if start <= day <= end)


def _compare(value: Any, op: str, wanted: Any) -> bool:
    if wanted is None:  # = missing, != present
        return (value is None) if op == "=" else (value is not None)
    if value is None:
        return op == "!="
    if op == "=":
        return bool(value == wanted)
    if op == "!=":
        return bool(value != wanted)
    if op == ">":
        return bool(value > wanted)
    if op == ">=":
        return bool(value >= wanted)
    if op == "<":
        return bool(value < wanted)
    return bool(value <= wanted)


def _daily_holds(one: Filter, series: _Series, day: date) -> bool:
    if one.field == "mrr":
        return _compare(series.mrr(day), one.op, one.value)
    if one.field in _FIELD_WINDOWS:
        return _compare(float(series.active_in(day, _FIELD_WINDOWS[one.field])), one.op, one.value)
    assert isinstance(one.value, Ago)
    seen = series.rows.first_day if one.field == "first_seen_at" else series.last_active(day)
    return _compare(seen, one.op, day - timedelta(days=one.value.days))


def condition_holds(condition: Condition, series: _Series, day: date) -> bool:
    if not series.rows.static.get(condition.text, False):
        return False
    return all(_daily_holds(one, series, day) for one in condition.filters if is_daily(one))


def state_on(
    model: SubjectModel, needs: Needs, stale_after: int, series: _Series, day: date, explain: bool = True
) -> Interval:
    """The customer's state on `day`, as a one-day interval; without `explain`, a band's reason
    is left empty (words cost more than the band: they are written only where a state starts)."""
    mrr = series.mrr(day)
    if mrr is not None and mrr > 0:
        status = PAYING
    elif series.paid_from is not None and series.paid_from <= day:
        status = CHURNED
    elif model.trial_when is not None and condition_holds(model.trial_when, series, day):
        status = TRIAL
    else:
        status = FREE
    stage = None
    for one in model.stages:
        if condition_holds(one.when, series, day):
            stage = one.name
    end = day + timedelta(days=1)
    if status == CHURNED:
        return Interval(day, end, status, stage, None, CHURNED_REASON)
    first_active = series.rows.first_active
    if first_active is None or first_active > day:
        return Interval(day, end, status, stage, None, NOT_STARTED)
    facts = Facts(
        active_days={w: series.active_in(day, w) for w in needs.active_windows},
        events={(n, w): series.events_in(n, day, w) for n, ws in needs.event_windows.items() for w in ws},
        milestones={n: n in series.rows.milestones and series.rows.milestones[n] <= day for n in needs.milestones},
        conditions={c.text: condition_holds(c, series, day) for c in needs.attributes},
        contractions={w: series.contracted(day, w) for w in needs.contraction_windows},
        pulse=series.pulse(day, stale_after),
    )
    rule = model.rule_for(stage)
    if not explain:
        return Interval(day, end, status, stage, band_of(rule, facts), "")
    band, reason = judge(rule, facts)
    return Interval(day, end, status, stage, band, reason)


class _Prepared:
    """A condition with its daily filters found once (not once per day judged)."""

    def __init__(self, condition: Condition) -> None:
        self.text = condition.text
        self.daily = tuple(one for one in condition.filters if is_daily(one))

    def holds(self, series: _Series, day: date) -> bool:
        if not series.rows.static.get(self.text, False):
            return False
        return all(_daily_holds(one, series, day) for one in self.daily)


# A day's state as `Judging.state` gives it: (status, stage, band, reason).
State = tuple[str, str | None, str | None, str]


class Judging:
    """A subject model's judgment of one day, prepared once for every customer of a group.

    It gives what `state_on` gives (the property test of test_health_model.py holds them equal),
    at less cost per day: the facts of a day are a tuple of numbers, not a Facts of dicts, and
    the band and reason of each distinct (stage, facts) are judged once and remembered. A
    model's facts take few values (active days in a window of 14 are 0 to 14), so across the
    thousands of customers of a group nearly every day is a look-up, not a judgment in words."""

    def __init__(self, model: SubjectModel, needs: Needs, stale_after: int) -> None:
        self.model = model
        self.stale_after = stale_after
        self.active_windows = tuple(sorted(needs.active_windows))
        self.event_windows = tuple((n, w) for n, ws in sorted(needs.event_windows.items()) for w in sorted(ws))
        self.milestones = tuple(sorted(needs.milestones))
        self.attributes = tuple(_Prepared(c) for c in needs.attributes)
        self.contractions = tuple(sorted(needs.contraction_windows))
        self.trial = _Prepared(model.trial_when) if model.trial_when is not None else None
        self.stages = tuple((stage.name, _Prepared(stage.when)) for stage in model.stages)
        self.verdicts: dict[tuple[Any, ...], tuple[str, str]] = {}

    def state(self, series: _Series, day: date) -> State:
        mrr = series.mrr(day)
        if mrr is not None and mrr > 0:
            status = PAYING
        elif series.paid_from is not None and series.paid_from <= day:
            status = CHURNED
        elif self.trial is not None and self.trial.holds(series, day):
            status = TRIAL
        else:
            status = FREE
        stage = None
        for name, when in self.stages:
            if when.holds(series, day):
                stage = name
        if status == CHURNED:
            return status, stage, None, CHURNED_REASON
        first_active = series.rows.first_active
        if first_active is None or first_active > day:
            return status, stage, None, NOT_STARTED
        key = (
            stage,
            tuple([series.active_in(day, w) for w in self.active_windows]),
            tuple([series.events_in(n, day, w) for n, w in self.event_windows]),
            tuple([n in series.rows.milestones and series.rows.milestones[n] <= day for n in self.milestones]),
            tuple([c.holds(series, day) for c in self.attributes]),
            tuple([series.contracted(day, w) for w in self.contractions]),
            series.pulse(day, self.stale_after),
        )
        verdict = self.verdicts.get(key)
        if verdict is None:
            verdict = self.verdicts[key] = self._judge(key)
        return status, stage, verdict[0], verdict[1]

    def _judge(self, key: tuple[Any, ...]) -> tuple[str, str]:
        stage, active, events, milestones, conditions, contractions, pulse = key
        facts = Facts(
            active_days=dict(zip(self.active_windows, active, strict=True)),
            events=dict(zip(self.event_windows, events, strict=True)),
            milestones=dict(zip(self.milestones, milestones, strict=True)),
            conditions={c.text: holds for c, holds in zip(self.attributes, conditions, strict=True)},
            contractions=dict(zip(self.contractions, contractions, strict=True)),
            pulse=pulse,
        )
        return judge(self.model.rule_for(stage), facts)


def intervals(
    model: SubjectModel,
    needs: Needs,
    stale_after: int,
    rows: CustomerRows,
    start: date,
    end: date,
    judging: Judging | None = None,
) -> list[Interval]:
    """The customer's states over [start, end] (none before its first day), the last one ending
    at end + 1 day. `judging`: one shared by the customers of a group (its verdicts are
    remembered across them); a new one when not given."""
    start = max(start, rows.first_day)
    if start > end:
        return []
    judging = judging or Judging(model, needs, stale_after)
    series = _Series(rows)
    starts: list[tuple[date, State]] = []
    last: tuple[str, str | None, str | None] | None = None
    for day in change_days(rows, needs, stale_after, start, end):
        state = judging.state(series, day)
        if state[:3] == last:  # the same state goes on: its reason stays the one of its first day
            continue
        last = state[:3]
        starts.append((day, state))
    ends = [day for day, _ in starts[1:]] + [end + timedelta(days=1)]
    return [Interval(day, to_day, *state) for (day, state), to_day in zip(starts, ends, strict=True)]


def last_per_day(values: Iterable[tuple[date, Any]]) -> list[tuple[date, Any]]:
    """(day, value) sorted by time -> one per day, the day's last value (what is in force at its end)."""
    out: list[tuple[date, Any]] = []
    for day, value in values:
        if out and out[-1][0] == day:
            out[-1] = (day, value)
        else:
            out.append((day, value))
    return out
