"""The health model as plain functions: the document parsed and written back, each signal judged
with its reason, a customer's states over days computed only where its inputs change (checked
against judging every day), and the history's diff keeping what did not change."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesmachine_server.domain.health import HealthRule
from salesmachine_server.domain.health_model import DocumentError, Facts, HealthModel, Signal, judge
from salesmachine_server.domain.health_timeline import (
    CustomerRows,
    Interval,
    Judging,
    Needs,
    _Series,
    intervals,
    state_on,
)
from salesmachine_server.store.write.health_history import StoredRow, plan, plan_rebuild

D0 = date(2026, 1, 1)


def d(n: int) -> date:
    return D0 + timedelta(days=n)


def document(rules: list[dict[str, Any]], stages: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    part = {"trial_when": "plan=trial", "stages": stages or [], "rules": rules}
    return {"accounts": part, "contacts": part, **extra}


DEFAULT_RULE = {
    "stage": None,
    "good": [{"signal": "active_days", "days": 14, "at_least": 5}],
    "bad": [{"signal": "active_days", "days": 14, "at_most": 0}],
}


def test_the_default_model_is_todays_rule_and_reads_back() -> None:
    model = HealthModel.default()
    assert model.to_document()["accounts"]["rules"] == [DEFAULT_RULE]
    assert HealthModel.parse(model.to_document()) == model
    custom = HealthModel.from_rule(HealthRule(window_days=30, good_above=10, bad_at_most=2))
    assert custom.to_document()["contacts"]["rules"][0]["good"] == [
        {"signal": "active_days", "days": 30, "at_least": 11}
    ]


@pytest.mark.parametrize(
    "doc,field,rule",
    [
        ("x", "document", "object"),
        ({"accounts": {"rules": [DEFAULT_RULE]}}, "contacts", "required"),
        (document([]), "accounts.rules", "fallback"),
        (
            document([{**DEFAULT_RULE, "bad": [{"signal": "event", "days": 3, "at_most": 0}]}]),
            "accounts.rules[0].bad[0].event",
            "required",
        ),
        (
            document([{**DEFAULT_RULE, "bad": [{"signal": "active_days", "days": 3}]}]),
            "accounts.rules[0].bad[0]",
            "one_bound",
        ),
        (
            document([{**DEFAULT_RULE, "good": [{"signal": "pulse", "at_least": 6}]}]),
            "accounts.rules[0].good[0].at_least",
            "whole_number",
        ),
        (
            document([{**DEFAULT_RULE, "good": [{"signal": "milestone", "event": "x", "done": "yes"}]}]),
            "accounts.rules[0].good[0].done",
            "boolean",
        ),
        (document([DEFAULT_RULE, DEFAULT_RULE]), "accounts.rules[1].stage", "unique"),
        (document([DEFAULT_RULE], [{"name": "A", "when": "sort=mrr"}]), "accounts.stages[0].when", "condition"),
        (
            document([DEFAULT_RULE], [{"name": "A", "when": "a=1"}, {"name": "A", "when": "b=1"}]),
            "accounts.stages[1].name",
            "unique",
        ),
        (
            document([DEFAULT_RULE], [{"name": "A", "when": "first_seen_at>soon"}]),
            "accounts.stages[0].when",
            "datetime",
        ),
    ],
)
def test_a_bad_document_names_its_field_and_rule(doc: Any, field: str, rule: str) -> None:
    with pytest.raises(DocumentError) as caught:
        HealthModel.parse(doc)
    assert (caught.value.field, caught.value.rule) == (field, rule)


def test_bad_is_checked_first_good_needs_every_signal_and_each_reason_is_in_words() -> None:
    rule = HealthModel.parse(
        document(
            [
                {
                    "stage": None,
                    "good": [
                        {"signal": "active_days", "days": 14, "at_least": 5},
                        {"signal": "milestone", "event": "setup", "done": True},
                    ],
                    "bad": [
                        {"signal": "event", "event": "login", "days": 21, "at_most": 0},
                        {"signal": "active_days", "days": 14, "at_most": 0},
                    ],
                }
            ]
        )
    ).accounts.rules[0]
    idle = Facts(active_days={14: 0}, events={("login", 21): 0})
    assert judge(rule, idle) == ("bad", "no `login` in 21 days; 0 active days of 14")
    busy = Facts(active_days={14: 6}, events={("login", 21): 2}, milestones={"setup": True})
    assert judge(rule, busy) == ("good", "6 active days of 14; did `setup`")
    half = Facts(active_days={14: 6}, events={("login", 21): 1}, milestones={"setup": False})
    assert judge(rule, half) == ("average", "never did `setup` (good needs it)")
    assert judge(None, idle)[0] == "average"


def test_signals_hold_by_their_bounds() -> None:
    pulse_low = Signal("pulse", at_most=2)
    assert judge_one(pulse_low, Facts(pulse=2)) and not judge_one(pulse_low, Facts(pulse=3))
    assert not judge_one(pulse_low, Facts(pulse=None))  # no fresh Pulse: no signal
    assert judge_one(Signal("mrr_contraction", days=30), Facts(contractions={30: True}))


def judge_one(signal: Signal, facts: Facts) -> bool:
    from salesmachine_server.domain.health_model import holds

    return holds(signal, facts)


# -- states over days ----------------------------------------------------------------------------


def every_day(model: HealthModel, subject: str, rows: CustomerRows, start: date, end: date) -> list[Interval]:
    """The reference: judge every day, merge equal neighbours (what `intervals` must equal)."""
    part = model.of(subject)
    needs = Needs.of(part)
    series = _Series(rows)
    out: list[Interval] = []
    day = max(start, rows.first_day)
    while day <= end:
        state = state_on(part, needs, model.pulse_stale_after_days, series, day)
        if out and out[-1].same_state(state):
            last = out[-1]
            out[-1] = Interval(last.from_day, state.to_day, last.status, last.stage, last.band, last.reason)
        else:
            out.append(state)
        day += timedelta(days=1)
    return out


RICH = HealthModel.parse(
    document(
        [
            {"stage": "New", "good": [{"signal": "milestone", "event": "setup", "done": True}], "bad": []},
            {
                "stage": None,
                "good": [{"signal": "active_days", "days": 7, "at_least": 3}],
                "bad": [
                    {"signal": "active_days", "days": 14, "at_most": 0},
                    {"signal": "event", "event": "login", "days": 10, "at_most": 0},
                    {"signal": "mrr_contraction", "days": 20},
                    {"signal": "pulse", "at_most": 1},
                ],
            },
        ],
        [{"name": "New", "when": "first_seen_at>-15d"}, {"name": "Busy", "when": "active_days_30>=10"}],
        pulse_stale_after_days=12,
    )
)

# One judging for every example, as evaluate shares one among the customers of a group.
RICH_JUDGING = Judging(RICH.accounts, Needs.of(RICH.accounts), RICH.pulse_stale_after_days)

days_strategy = st.lists(st.integers(0, 119), max_size=40).map(lambda xs: sorted(set(xs)))


@settings(max_examples=150, deadline=None)
@given(
    active=days_strategy,
    logins=days_strategy,
    setup=st.one_of(st.none(), st.integers(0, 119)),
    mrr=st.lists(st.tuples(st.integers(0, 119), st.sampled_from([None, 0.0, 50.0, 100.0])), max_size=6),
    pulses=st.lists(st.tuples(st.integers(0, 119), st.integers(0, 5)), max_size=4),
    first=st.integers(0, 30),
    start=st.integers(0, 60),
)
def test_changes_only_equal_judging_every_day(
    active: list[int],
    logins: list[int],
    setup: int | None,
    mrr: list[tuple[int, float | None]],
    pulses: list[tuple[int, int]],
    first: int,
    start: int,
) -> None:
    rows = CustomerRows(
        first_day=d(first),
        active=[d(a) for a in active],
        first_active=d(active[0]) if active else None,
        events={"login": [(d(x), 1) for x in logins]},
        milestones={"setup": d(setup)} if setup is not None else {},
        mrr=[(d(x), v) for x, v in sorted(dict(mrr).items())],
        pulses=[(d(x), s) for x, s in sorted(dict(pulses).items())],
        static={c.text: True for c in RICH.accounts.conditions()},
    )
    part = RICH.accounts
    computed = intervals(part, Needs.of(part), RICH.pulse_stale_after_days, rows, d(start), d(119), RICH_JUDGING)
    # Reasons too: each interval's is the one of its first day, though the shared judging
    # remembers verdicts found for the customers of earlier examples.
    assert [(i.from_day, i.to_day, i.status, i.stage, i.band, i.reason) for i in computed] == [
        (i.from_day, i.to_day, i.status, i.stage, i.band, i.reason)
        for i in every_day(RICH, "account", rows, d(start), d(119))
    ]


def test_status_goes_paying_churned_paying_and_churned_has_no_band() -> None:
    rows = CustomerRows(
        first_day=d(0),
        active=[d(n) for n in range(0, 40)],
        first_active=d(0),
        mrr=[(d(5), 100.0), (d(10), 0.0), (d(20), 30.0)],
        static={"plan=trial": False},
    )
    model = HealthModel.default()
    found = intervals(model.accounts, Needs.of(model.accounts), 90, rows, d(0), d(30))
    assert [(i.from_day, i.status, i.band) for i in found] == [
        (d(0), "free", "average"),
        (d(4), "free", "good"),
        (d(5), "paying", "good"),
        (d(10), "churned", None),
        (d(20), "paying", "good"),
    ]
    assert found[-1].to_day == d(31)


def test_a_pulse_turns_stale() -> None:
    model = HealthModel.parse(
        document([{"stage": None, "good": [], "bad": [{"signal": "pulse", "at_most": 1}]}], pulse_stale_after_days=5)
    )
    rows = CustomerRows(
        first_day=d(0), active=[d(0)], first_active=d(0), pulses=[(d(2), 1)], static={"plan=trial": False}
    )
    found = intervals(model.accounts, Needs.of(model.accounts), 5, rows, d(0), d(10))
    assert [(i.from_day, i.band, i.reason) for i in found] == [
        (d(0), "average", "no signal of bad; the rule has no good signals"),
        (d(2), "bad", "Pulse 1 of 5"),
        (d(7), "average", "no signal of bad; the rule has no good signals"),
    ]


# -- the history's diff --------------------------------------------------------------------------


def iv(a: int, b: int | None, band: str, reason: str = "r") -> Interval:
    return Interval(d(a), None if b is None else d(b), "free", None, band, reason)


def test_an_unchanged_state_is_extended_not_rewritten() -> None:
    stored = [StoredRow(1, iv(0, 5, "good")), StoredRow(2, iv(5, None, "bad", "old words"))]
    change = plan(stored, [iv(8, None, "bad", "new words")], d(8))
    assert (change.deletes, change.ends, change.inserts) == ([], [], [])


def test_a_new_state_closes_the_one_in_force() -> None:
    stored = [StoredRow(1, iv(0, None, "good"))]
    change = plan(stored, [iv(8, 9, "good"), iv(9, None, "bad")], d(8))
    assert change.ends == [(1, d(9))] and change.inserts == [iv(9, None, "bad")] and change.deletes == []


def test_a_recomputed_past_replaces_only_what_differs() -> None:
    stored = [StoredRow(1, iv(0, 4, "good")), StoredRow(2, iv(4, 6, "average")), StoredRow(3, iv(6, None, "bad"))]
    change = plan(stored, [iv(2, 6, "average"), iv(6, None, "bad")], d(2))
    assert change.ends == [(1, d(2))]
    assert change.deletes == [2]  # (4-6) merged into the average that starts on day 2
    assert change.inserts == [iv(2, 6, "average")]


def test_a_rebuild_keeps_only_identical_rows() -> None:
    stored = [
        StoredRow(1, iv(0, 4, "good")),  # before the rebuilt range: deleted
        StoredRow(2, iv(4, 9, "average", "0 active days of 14")),
        StoredRow(3, iv(9, 12, "bad", "old rule's words")),  # same days and band, other reason
        StoredRow(4, iv(12, None, "good")),
    ]
    computed = [iv(4, 9, "average", "0 active days of 14"), iv(9, 12, "bad", "new rule's words"), iv(12, None, "good")]
    change = plan_rebuild(stored, computed)
    assert change.deletes == [1, 3] and change.ends == []
    assert change.inserts == [iv(9, 12, "bad", "new rule's words")]
    assert plan_rebuild([], computed).inserts == computed
    assert plan_rebuild(stored, []).deletes == [1, 2, 3, 4]
