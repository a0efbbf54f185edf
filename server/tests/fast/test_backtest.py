"""The backtest's figures as plain functions (domain/backtest.py), on timelines small enough to
count on a calendar: every expected figure below is worked out by hand in the comments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from salesmachine_server.domain import backtest
from salesmachine_server.domain.revenue import Unit

PARIS = ZoneInfo("Europe/Paris")
FIRST, LAST = date(2026, 1, 1), date(2026, 6, 30)
KNOWN_FROM = date(2025, 11, 1)


@dataclass(frozen=True)
class S:
    """A state, as project/health_history.Interval holds one (reason and stage left out)."""

    from_day: date
    to_day: date | None
    status: str
    band: str | None


def d(text: str) -> date:
    return date.fromisoformat(text)


TIMELINES = {
    # Churns on 1 March. Bands: 22 Feb (7 days before) bad; 30 Jan (30 before) average; 31 Dec
    # (60 before) good. Bad from 5 Feb to 28 Feb, in two states (the reason changed on 20 Feb):
    # 24 consecutive days.
    "alpha": [
        S(d("2025-11-02"), d("2026-01-20"), "paying", "good"),
        S(d("2026-01-20"), d("2026-02-05"), "paying", "average"),
        S(d("2026-02-05"), d("2026-02-20"), "paying", "bad"),
        S(d("2026-02-20"), d("2026-03-01"), "paying", "bad"),
        S(d("2026-03-01"), None, "churned", None),
    ],
    # Churns on 10 April; average on 3 April, 11 March and 9 February; bad 5 to 9 April: 5 days.
    "beta": [
        S(d("2025-12-01"), d("2026-04-05"), "paying", "average"),
        S(d("2026-04-05"), d("2026-04-10"), "paying", "bad"),
        S(d("2026-04-10"), None, "churned", None),
    ],
    # Churns on 15 February: good on 8 February and 16 January, not started 60 days before
    # (17 December: no state); never bad: 0 days.
    "gamma": [
        S(d("2026-01-10"), d("2026-02-15"), "paying", "good"),
        S(d("2026-02-15"), None, "churned", None),
    ],
    # Never churns; bad while paying 1 March to 14 April: 31 + 14 = 45 days. A false alarm.
    "delta": [
        S(d("2025-11-01"), d("2026-03-01"), "paying", "good"),
        S(d("2026-03-01"), d("2026-04-15"), "paying", "bad"),
        S(d("2026-04-15"), None, "paying", "good"),
    ],
    # Bad for the whole range, but free: it cannot churn, so it is no alarm about revenue.
    "epsilon": [S(d("2025-11-01"), None, "free", "bad")],
    # Bad while paying 1 to 19 May, then bad for another reason 20 to 30 May: 19 + 11 = 30
    # consecutive days, exactly the threshold. A false alarm.
    "zeta": [
        S(d("2025-11-01"), d("2026-05-01"), "paying", "good"),
        S(d("2026-05-01"), d("2026-05-20"), "paying", "bad"),
        S(d("2026-05-20"), d("2026-05-31"), "paying", "bad"),
        S(d("2026-05-31"), None, "paying", "average"),
    ],
    # Bad from 10 June to the end of the range (30 June): 21 days. Not (yet) an alarm.
    "eta": [
        S(d("2025-11-01"), d("2026-06-10"), "paying", "good"),
        S(d("2026-06-10"), None, "paying", "bad"),
    ],
    # Bad from 1 November to 19 January: 80 days, but 19 of them in the range. Not an alarm.
    "theta": [
        S(d("2025-11-01"), d("2026-01-20"), "paying", "bad"),
        S(d("2026-01-20"), None, "paying", "good"),
    ],
    # Bad while paying for 40 days, interrupted by one average day: two spells of 20 and 19.
    "iota": [
        S(d("2026-02-01"), d("2026-02-21"), "paying", "bad"),
        S(d("2026-02-21"), d("2026-02-22"), "paying", "average"),
        S(d("2026-02-22"), d("2026-03-13"), "paying", "bad"),
        S(d("2026-03-13"), None, "paying", "good"),
    ],
}
CHURNED_ON = {"alpha": d("2026-03-01"), "beta": d("2026-04-10"), "gamma": d("2026-02-15")}


def run() -> backtest.Backtest:
    return backtest.backtest(TIMELINES, CHURNED_ON, FIRST, LAST, KNOWN_FROM)


def test_churned_accounts_in_churn_order_with_their_bands_and_bad_days() -> None:
    result = run()
    assert [(c.uid, c.churned_on, c.days_bad_before) for c in result.churned] == [
        ("gamma", d("2026-02-15"), 0),
        ("alpha", d("2026-03-01"), 24),
        ("beta", d("2026-04-10"), 5),
    ]
    assert {c.uid: c.bands_before for c in result.churned} == {
        "alpha": {7: "bad", 30: "average", 60: "good"},
        "beta": {7: "average", 30: "average", 60: "average"},
        "gamma": {7: "good", 30: "good", 60: None},
    }


def test_flagged_at_7_30_and_60_days_with_the_accounts_behind_each_figure() -> None:
    flagged = run().flagged
    assert flagged[7] == backtest.Flagged(bad=("alpha",), bad_or_average=("alpha", "beta"))
    assert flagged[30] == backtest.Flagged(bad=(), bad_or_average=("alpha", "beta"))
    assert flagged[60] == backtest.Flagged(bad=(), bad_or_average=("beta",))


def test_the_median_is_over_every_churned_account() -> None:
    # 0 (gamma), 5 (beta), 24 (alpha): the middle one is 5.
    assert run().median_days_bad_before_churn == 5.0
    # Without gamma: 5 and 24, the median of two is their mean.
    two = backtest.backtest(TIMELINES, {k: v for k, v in CHURNED_ON.items() if k != "gamma"}, FIRST, LAST, KNOWN_FROM)
    assert two.median_days_bad_before_churn == 14.5
    assert backtest.backtest(TIMELINES, {}, FIRST, LAST, KNOWN_FROM).median_days_bad_before_churn is None


def test_false_alarms_are_30_days_bad_while_paying_in_the_range_without_churn() -> None:
    alarms = run().false_alarms
    assert [(a.uid, a.bad_from, a.bad_to, a.days) for a in alarms] == [
        ("delta", d("2026-03-01"), d("2026-04-14"), 45),
        ("zeta", d("2026-05-01"), d("2026-05-30"), 30),
    ]


def test_a_churned_account_is_never_a_false_alarm() -> None:
    # delta churning in the range (on 20 April, after its bad spell) takes it off the alarms.
    result = backtest.backtest(TIMELINES, {**CHURNED_ON, "delta": d("2026-04-20")}, FIRST, LAST, KNOWN_FROM)
    assert [a.uid for a in result.false_alarms] == ["zeta"]
    assert [c.uid for c in result.churned][-1] == "delta"
    # 13 April (7 days before) was bad; 15 to 19 April good: no bad day right before the churn.
    delta = result.churned[-1]
    assert delta.bands_before[7] == "bad" and delta.days_bad_before == 0


def test_a_churned_account_without_any_known_state_counts_but_is_flagged_at_no_lead() -> None:
    result = backtest.backtest({}, {"ghost": d("2026-03-03")}, FIRST, LAST, KNOWN_FROM)
    assert [(c.uid, c.days_bad_before, c.bands_before) for c in result.churned] == [
        ("ghost", 0, {7: None, 30: None, 60: None})
    ]
    assert all(f == backtest.Flagged((), ()) for f in result.flagged.values())
    assert result.median_days_bad_before_churn == 0.0


def test_bad_days_before_a_churn_are_counted_back_before_the_range() -> None:
    # Churns on 3 January, bad since 20 December (KNOWN_FROM is earlier): 14 days, 13 of them
    # before the range.
    timeline = {
        "early": [
            S(d("2025-11-01"), d("2025-12-20"), "paying", "average"),
            S(d("2025-12-20"), d("2026-01-03"), "paying", "bad"),
            S(d("2026-01-03"), None, "churned", None),
        ]
    }
    result = backtest.backtest(timeline, {"early": d("2026-01-03")}, FIRST, LAST, KNOWN_FROM)
    assert result.churned[0].days_bad_before == 14
    assert result.churned[0].bands_before == {7: "bad", 30: "average", 60: "average"}


# --- churn movements, by day, in the project's time zone -------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_churns_are_the_revenue_reports_churn_movements_cut_by_local_day() -> None:
    histories = {
        # 0 at 23:30 UTC on 28 February: 00:30 on 1 March in Paris.
        Unit("account", "a"): [(at("2026-01-05T10:00"), Decimal(100)), (at("2026-02-28T23:30"), Decimal(0))],
        # Churns on 10 February, comes back, churns again on 20 March: the first churn counts.
        Unit("account", "b"): [
            (at("2025-12-01T09:00"), Decimal(50)),
            (at("2026-02-10T09:00"), Decimal(0)),
            (at("2026-03-01T09:00"), Decimal(60)),
            (at("2026-03-20T09:00"), Decimal(0)),
        ],
        # Churned before the range.
        Unit("account", "c"): [(at("2025-10-01T09:00"), Decimal(10)), (at("2025-12-15T09:00"), Decimal(0))],
        # Down to 0 and up again the same day: no churn movement that day.
        Unit("account", "d"): [
            (at("2025-10-01T09:00"), Decimal(10)),
            (at("2026-04-01T09:00"), Decimal(0)),
            (at("2026-04-01T15:00"), Decimal(20)),
        ],
        # A contact carrying revenue: health is backtested on accounts only.
        Unit("contact", "e"): [(at("2025-10-01T09:00"), Decimal(10)), (at("2026-02-01T09:00"), Decimal(0))],
    }
    assert backtest.churns(histories, FIRST, LAST, PARIS) == {"a": d("2026-03-01"), "b": d("2026-02-10")}
    assert backtest.churns(histories, FIRST, LAST, ZoneInfo("UTC"))["a"] == d("2026-02-28")
