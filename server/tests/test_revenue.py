"""The revenue report: MRR, ARR, customers and the movements that explain each change.

First the pure computation (`salesmachine_server.domain.revenue`), then GET /v1/revenue over HTTP on
a small history built through the write API, every figure checked against hand-computed
expectations on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesmachine_server.domain import revenue
from salesmachine_server.domain.revenue import MrrRow, Unit
from tests.support import Project, ServerProcess, StoredData, make_project

PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")


def at(text: str) -> datetime:
    """A naive UTC instant, the form `mrr_changes.effective_at` has."""
    return datetime.fromisoformat(text)


def account(uid: str) -> Unit:
    return Unit("account", uid)


def contact(uid: str) -> Unit:
    return Unit("contact", uid)


# --- the pure computation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "paid_before", "expected"),
    [
        ("0", "100", False, "new"),
        ("0", "100", True, "reactivation"),
        ("100", "150", True, "expansion"),
        ("150", "120", True, "contraction"),
        ("120", "0", True, "churn"),
        ("120", "120", True, None),
        ("0", "0", True, None),
    ],
)
def test_classify_the_move_from_opening_to_closing_value(
    before: str, after: str, paid_before: bool, expected: str | None
) -> None:
    assert revenue.classify(Decimal(before), Decimal(after), paid_before) == expected


def test_months_are_cut_at_midnight_in_the_project_time_zone() -> None:
    months = revenue.periods(date(2024, 1, 1), date(2024, 4, 30), "month", PARIS)
    assert [(p.start, p.end) for p in months] == [
        (date(2024, 1, 1), date(2024, 2, 1)),
        (date(2024, 2, 1), date(2024, 3, 1)),
        (date(2024, 3, 1), date(2024, 4, 1)),
        (date(2024, 4, 1), date(2024, 5, 1)),
    ]
    # CET is UTC+1 and CEST (from 31 March 2024) UTC+2.
    assert [p.start_at for p in months] == [
        at("2023-12-31T23:00"),
        at("2024-01-31T23:00"),
        at("2024-02-29T23:00"),
        at("2024-03-31T22:00"),
    ]
    assert months[-1].end_at == at("2024-04-30T22:00")


def test_weeks_start_on_monday_and_the_range_is_cut_where_it_was_asked() -> None:
    weeks = revenue.periods(date(2024, 6, 1), date(2024, 6, 30), "week", UTC)  # a Saturday to a Sunday
    assert [(p.start, p.end) for p in weeks] == [
        (date(2024, 6, 1), date(2024, 6, 3)),
        (date(2024, 6, 3), date(2024, 6, 10)),
        (date(2024, 6, 10), date(2024, 6, 17)),
        (date(2024, 6, 17), date(2024, 6, 24)),
        (date(2024, 6, 24), date(2024, 7, 1)),
    ]
    assert all(p.start.weekday() == 0 for p in weeks[1:])


@pytest.mark.parametrize(
    ("interval", "first", "last", "starts"),
    [
        ("day", date(2024, 2, 28), date(2024, 3, 1), [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]),
        (
            "quarter",
            date(2023, 11, 15),
            date(2024, 7, 1),
            [date(2023, 11, 15), date(2024, 1, 1), date(2024, 4, 1), date(2024, 7, 1)],
        ),
        ("year", date(2023, 6, 1), date(2025, 1, 1), [date(2023, 6, 1), date(2024, 1, 1), date(2025, 1, 1)]),
        ("month", date(2023, 12, 31), date(2024, 1, 1), [date(2023, 12, 31), date(2024, 1, 1)]),
    ],
)
def test_each_interval_kind(interval: str, first: date, last: date, starts: list[date]) -> None:
    cut = revenue.periods(first, last, interval, UTC)
    assert [p.start for p in cut] == starts
    assert cut[-1].end == last + timedelta(days=1)
    assert revenue.period_count(first, last, interval) == len(starts)


def test_the_number_of_periods_is_capped() -> None:
    thousand_days = date(2024, 1, 1) + timedelta(days=999)
    assert len(revenue.periods(date(2024, 1, 1), thousand_days, "day", UTC)) == 1000
    with pytest.raises(revenue.TooManyPeriods) as refused:
        revenue.periods(date(2024, 1, 1), thousand_days + timedelta(days=1), "day", UTC)
    assert (refused.value.count, refused.value.limit) == (1001, 1000)


def test_a_contact_carries_revenue_only_when_none_of_its_accounts_ever_had_mrr() -> None:
    rows = [
        MrrRow(contact("solo"), 30, at("2024-01-01T00:00")),  # no account
        MrrRow(contact("in-free-account"), 20, at("2024-01-01T00:00")),  # its account has no mrr
        MrrRow(contact("in-paying"), 99, at("2024-01-01T00:00")),  # a copy of its account's mrr
        MrrRow(contact("before-account-paid"), 10, at("2024-01-01T00:00")),
        MrrRow(account("acme"), 99, at("2024-01-01T00:00")),
        MrrRow(account("later"), 50, at("2024-06-01T00:00")),  # had mrr only after the contact's
        MrrRow(account("free-trial"), 0, at("2024-01-01T00:00")),  # a unit that never paid
    ]
    accounts_of = {"in-free-account": {"free"}, "in-paying": {"free", "acme"}, "before-account-paid": {"later"}}
    units = revenue.revenue_units(rows, accounts_of)
    assert set(units) == {
        contact("solo"),
        contact("in-free-account"),
        account("acme"),
        account("later"),
        account("free-trial"),
    }
    assert units[account("acme")] == [(at("2024-01-01T00:00"), Decimal(99))]


def test_history_is_ordered_by_effective_time_and_removal_is_zero() -> None:
    rows = [
        MrrRow(account("a"), 20.1, at("2024-03-01T00:00")),
        MrrRow(account("a"), None, at("2024-04-01T00:00")),
        MrrRow(account("a"), 10, at("2024-01-01T00:00")),
    ]
    history = revenue.revenue_units(rows, {})[account("a")]
    assert history == [
        (at("2024-01-01T00:00"), Decimal(10)),
        (at("2024-03-01T00:00"), Decimal("20.1")),
        (at("2024-04-01T00:00"), Decimal(0)),
    ]
    assert revenue.mrr_at(history, at("2023-12-31T23:59")) == 0
    assert revenue.mrr_at(history, at("2024-03-01T00:00")) == Decimal("20.1")  # effective at that instant


def test_a_change_at_a_boundary_belongs_to_the_period_it_starts() -> None:
    history = {
        account("a"): [(at("2024-02-01T00:00"), Decimal(80))],
        account("b"): [(at("2024-01-10T00:00"), Decimal(50)), (at("2024-02-01T00:00"), Decimal(70))],
    }
    january, february = revenue.report(history, revenue.periods(date(2024, 1, 1), date(2024, 2, 29), "month", UTC))
    assert [(m.unit, m.before, m.after) for m in january.movements["new"]] == [(account("b"), 0, 50)]
    assert (january.mrr, january.customers) == (50, 1)
    assert [(m.unit, m.before, m.after) for m in february.movements["new"]] == [(account("a"), 0, 80)]
    assert [(m.unit, m.before, m.after) for m in february.movements["expansion"]] == [(account("b"), 50, 70)]
    assert (february.mrr, february.arr, february.customers) == (150, 1800, 2)
    (alone,) = revenue.report(history, revenue.periods(date(2024, 2, 1), date(2024, 2, 29), "month", UTC))
    assert (alone.start_mrr, alone.start_customers, alone.movements) == (
        february.start_mrr,
        february.start_customers,
        february.movements,
    )


def test_movements_within_one_period_net_out() -> None:
    history = {
        account("down-and-back"): [
            (at("2024-01-01T00:00"), Decimal(60)),
            (at("2024-08-10T00:00"), Decimal(0)),
            (at("2024-08-25T00:00"), Decimal(60)),
        ],
        account("tried"): [(at("2024-08-03T00:00"), Decimal(50)), (at("2024-08-20T00:00"), Decimal(0))],
    }
    (august,) = revenue.report(history, revenue.periods(date(2024, 8, 1), date(2024, 8, 31), "month", UTC))
    assert all(listed == [] for listed in august.movements.values())
    assert (august.start_mrr, august.mrr, august.customers) == (60, 60, 1)


def test_new_then_churn_then_reactivation() -> None:
    history = {
        account("a"): [
            (at("2024-01-10T00:00"), Decimal(100)),
            (at("2024-02-10T00:00"), Decimal(0)),
            (at("2024-03-10T00:00"), Decimal(40)),
        ]
    }
    reports = revenue.report(history, revenue.periods(date(2024, 1, 1), date(2024, 3, 31), "month", UTC))
    assert [{k: [(m.before, m.after) for m in v] for k, v in r.movements.items() if v} for r in reports] == [
        {"new": [(0, 100)]},
        {"churn": [(100, 0)]},
        {"reactivation": [(0, 40)]},
    ]
    assert [r.customers for r in reports] == [1, 0, 1]


def test_money_is_rounded_only_for_output() -> None:
    history = {account(str(i)): [(at("2024-01-01T00:00"), revenue.money(0.1))] for i in range(3)}
    (january,) = revenue.report(history, revenue.periods(date(2024, 1, 1), date(2024, 1, 31), "month", UTC))
    assert january.mrr == Decimal("0.3")  # 0.1 + 0.1 + 0.1 in floats is 0.30000000000000004
    assert revenue.rounded(Decimal("2.005")) == 2.01
    assert str(revenue.rounded(Decimal("-0.001"))) == "0.0"


def _value_before(history: revenue.History, instant: datetime) -> Decimal:
    earlier = [value for effective_at, value in history if effective_at < instant]
    return earlier[-1] if earlier else Decimal(0)


# Hours after the origin, often exactly at a boundary: local midnight is 00:00 UTC, 22:00 or
# 23:00 in Paris, 11:00 or 12:00 in Auckland, 03:00 or 04:00 in Santiago.
_hours = st.builds(
    lambda day, hour: day * 24 + hour, st.integers(0, 40), st.sampled_from([0, 3, 4, 11, 12, 13, 22, 23])
)
_changes = st.lists(
    st.tuples(_hours, st.sampled_from([None, 0, 10, 19.99, 25.5, 100, 0.1])),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(
    units=st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), _changes, max_size=4),
    interval=st.sampled_from(["day", "week", "month"]),
    first_day=st.integers(0, 20),
    days=st.integers(0, 30),
    tz=st.sampled_from([UTC, PARIS, ZoneInfo("Pacific/Auckland"), ZoneInfo("America/Santiago")]),
)
def test_every_period_against_a_direct_computation(
    units: dict[str, list[tuple[int, Any]]], interval: str, first_day: int, days: int, tz: ZoneInfo
) -> None:
    """Movements sum exactly to the change, and each unit's movement is its opening value ->
    closing value, whatever the history, time zone and interval."""
    origin = datetime(2024, 3, 20)  # two DST changes fall within the range
    rows = [
        MrrRow(account(uid), mrr, origin + timedelta(hours=hours))
        for uid, changes in units.items()
        for hours, mrr in changes
    ]
    histories = revenue.revenue_units(sorted(rows, key=lambda r: r.effective_at), {})
    first = origin.date() + timedelta(days=first_day)
    cut = revenue.periods(first, first + timedelta(days=days), interval, tz)
    reports = revenue.report(histories, cut)
    assert len(reports) == len(cut)
    for period in reports:
        start, end = period.period.start_at, period.period.end_at
        opening = {u: _value_before(h, start) for u, h in histories.items()}
        closing = {u: _value_before(h, end) for u, h in histories.items()}
        assert period.start_mrr == sum(opening.values(), Decimal(0))
        assert period.mrr == sum(closing.values(), Decimal(0))
        assert period.customers == sum(1 for v in closing.values() if v > 0)
        assert period.mrr - period.start_mrr == (
            period.total("new")
            + period.total("reactivation")
            + period.total("expansion")
            - period.total("contraction")
            - period.total("churn")
        )
        found = {m.unit: (m.kind, m.before, m.after) for listed in period.movements.values() for m in listed}
        expected = {}
        for unit, history in histories.items():
            paid_before = any(value > 0 for effective_at, value in history if effective_at < start)
            kind = revenue.classify(opening[unit], closing[unit], paid_before)
            if kind is not None:
                expected[unit] = (kind, opening[unit], closing[unit])
        assert found == expected


# --- GET /v1/revenue -----------------------------------------------------------------------


def reader(project: Project) -> httpx.Client:
    return httpx.Client(base_url=project.http.base_url, auth=(project.token, project.secret), timeout=30)


def send(project: Project, items: list[dict[str, Any]]) -> None:
    response = project.http.post("/v1/batch", json=items)
    assert response.status_code == 201, response.text
    assert "rejected" not in response.json()


def account_mrr(uid: str, when: str, mrr: float | None) -> dict[str, Any]:
    return {"method": "account", "account_uid": uid, "created_at": when, "params": {"mrr": mrr}}


def contact_mrr(uid: str, when: str, mrr: float | None, **params: Any) -> dict[str, Any]:
    return {"method": "contact", "contact_uid": uid, "created_at": when, "params": {"mrr": mrr, **params}}


# A year of a small business, in the order it happened (UTC).
HISTORY = [
    account_mrr("flip", "2024-01-05T12:00:00Z", 60),
    account_mrr("acme", "2024-01-10T09:00:00Z", 100),
    account_mrr("zero", "2024-01-20T12:00:00Z", 0),  # a unit that never pays
    account_mrr("bolt", "2024-02-01T00:00:00Z", 80),  # exactly at the boundary: February's
    contact_mrr("late-user", "2024-02-01T10:00:00Z", 25, account_uid="late"),  # its account pays from November
    contact_mrr("solo", "2024-02-14T08:00:00Z", 29.99),  # a customer without an account
    contact_mrr("member", "2024-03-01T10:00:00Z", 999, account_uid="acme"),  # acme's revenue, not its own
    account_mrr("acme", "2024-03-05T09:00:00Z", 150),
    account_mrr("bolt", "2024-04-10T09:00:00Z", None),
    account_mrr("acme", "2024-05-20T09:00:00Z", 120),
    contact_mrr("solo", "2024-06-02T10:00:00Z", 45.5),
    account_mrr("bolt", "2024-06-03T10:00:00Z", 50),
    account_mrr("bolt", "2024-06-20T10:00:00Z", 0),
    account_mrr("acme", "2024-07-15T09:00:00Z", 0),
    account_mrr("flip", "2024-08-10T09:00:00Z", 0),
    account_mrr("flip", "2024-08-25T09:00:00Z", 60),
    account_mrr("acme", "2024-09-15T09:00:00Z", 200),
    contact_mrr("member", "2024-10-01T10:00:00Z", 0),
    account_mrr("late", "2024-11-01T09:00:00Z", 10),
]


def moves(period: dict[str, Any]) -> dict[str, list[tuple[str, float, float]]]:
    """The movements of a period that has some, as kind -> [(uid, from, to)]."""
    return {
        kind: [(u.get("account_uid") or "contact:" + u["contact_uid"], u["from"], u["to"]) for u in m["units"]]
        for kind, m in period["movements"].items()
        if m["units"]
    }


def figures(period: dict[str, Any]) -> tuple[Any, ...]:
    return period["start"], period["end"], period["start_mrr"], period["mrr"], period["customers"], moves(period)


def check_sums(report: dict[str, Any]) -> None:
    """What holds in every report: the movements explain the change exactly, each total is the
    sum of its units, and each period opens where the one before closed."""

    def cents(value: float) -> Decimal:
        return Decimal(str(value))

    for period in report["periods"]:
        m = period["movements"]
        totals = {kind: cents(m[kind]["total"]) for kind in revenue.MOVEMENTS}
        for kind in revenue.MOVEMENTS:
            assert totals[kind] == sum((abs(cents(u["to"]) - cents(u["from"])) for u in m[kind]["units"]), Decimal(0))
            assert m[kind]["count"] == len(m[kind]["units"])
        net = totals["new"] + totals["reactivation"] + totals["expansion"] - totals["contraction"] - totals["churn"]
        assert cents(period["net_new_mrr"]) == net
        assert cents(period["mrr"]) - cents(period["start_mrr"]) == net
        assert cents(period["arr"]) == 12 * cents(period["mrr"])
        assert period["customers"] - period["start_customers"] == (
            m["new"]["count"] + m["reactivation"]["count"] - m["churn"]["count"]
        )
    for before, after in zip(report["periods"], report["periods"][1:]):
        assert (after["start"], after["start_at"]) == (before["end"], before["end_at"])
        assert (after["start_mrr"], after["start_customers"]) == (before["mrr"], before["customers"])


def get_report(project: Project, **query: str) -> dict[str, Any]:
    with reader(project) as http:
        response = http.get("/v1/revenue", params=query)
    assert response.status_code == 200, response.text
    body = response.json()
    check_sums(body)
    return body


@pytest.fixture
def paris(server: ServerProcess) -> Iterator[Project]:
    created, secret = make_project(server.database_url, timezone="Europe/Paris")
    stored = StoredData(server.database_url, created.id)
    with httpx.Client(base_url=server.base_url, auth=(created.token, ""), timeout=30) as http:
        yield Project(created.id, created.name, created.token, secret, http, stored)
    stored.close()


def test_monthly_report_of_a_year(project: Project) -> None:
    send(project, HISTORY)
    report = get_report(project, **{"from": "2024-01-01", "to": "2024-12-31", "interval": "month"})
    assert (report["from"], report["to"], report["interval"], report["timezone"]) == (
        "2024-01-01",
        "2024-12-31",
        "month",
        "UTC",
    )
    assert [figures(p) for p in report["periods"]] == [
        ("2024-01-01", "2024-02-01", 0, 160, 2, {"new": [("acme", 0, 100), ("flip", 0, 60)]}),
        ("2024-02-01", "2024-03-01", 160, 269.99, 4, {"new": [("bolt", 0, 80), ("contact:solo", 0, 29.99)]}),
        ("2024-03-01", "2024-04-01", 269.99, 319.99, 4, {"expansion": [("acme", 100, 150)]}),
        ("2024-04-01", "2024-05-01", 319.99, 239.99, 3, {"churn": [("bolt", 80, 0)]}),
        ("2024-05-01", "2024-06-01", 239.99, 209.99, 3, {"contraction": [("acme", 150, 120)]}),
        # bolt came back on the 3rd and left on the 20th: no movement in June
        ("2024-06-01", "2024-07-01", 209.99, 225.5, 3, {"expansion": [("contact:solo", 29.99, 45.5)]}),
        ("2024-07-01", "2024-08-01", 225.5, 105.5, 2, {"churn": [("acme", 120, 0)]}),
        ("2024-08-01", "2024-09-01", 105.5, 105.5, 2, {}),  # flip left on the 10th, back on the 25th
        ("2024-09-01", "2024-10-01", 105.5, 305.5, 3, {"reactivation": [("acme", 0, 200)]}),
        ("2024-10-01", "2024-11-01", 305.5, 305.5, 3, {}),  # member's 999 -> 0 is acme's, not revenue
        ("2024-11-01", "2024-12-01", 305.5, 315.5, 4, {"new": [("late", 0, 10)]}),
        ("2024-12-01", "2025-01-01", 315.5, 315.5, 4, {}),
    ]
    january, february = report["periods"][:2]
    assert (january["start_at"], january["end_at"]) == ("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z")
    assert (january["arr"], january["net_new_mrr"], january["start_customers"]) == (1920, 160, 0)
    assert february["movements"]["new"] == {
        "total": 109.99,
        "count": 2,
        "units": [{"account_uid": "bolt", "from": 0, "to": 80}, {"contact_uid": "solo", "from": 0, "to": 29.99}],
    }
    assert report["periods"][-1]["arr"] == 3786


def test_quarters_and_years_compare_only_their_endpoints(project: Project) -> None:
    send(project, HISTORY)
    quarters = get_report(project, **{"from": "2024-01-01", "to": "2024-12-31", "interval": "quarter"})
    assert [figures(p) for p in quarters["periods"]] == [
        (
            "2024-01-01",
            "2024-04-01",
            0,
            319.99,
            4,
            {"new": [("acme", 0, 150), ("bolt", 0, 80), ("flip", 0, 60), ("contact:solo", 0, 29.99)]},
        ),
        (
            "2024-04-01",
            "2024-07-01",
            319.99,
            225.5,
            3,
            {
                "expansion": [("contact:solo", 29.99, 45.5)],
                "contraction": [("acme", 150, 120)],
                "churn": [("bolt", 80, 0)],
            },
        ),
        # acme churned in July and came back in September: over the quarter, 120 -> 200
        ("2024-07-01", "2024-10-01", 225.5, 305.5, 3, {"expansion": [("acme", 120, 200)]}),
        ("2024-10-01", "2025-01-01", 305.5, 315.5, 4, {"new": [("late", 0, 10)]}),
    ]
    years = get_report(project, **{"from": "2024-01-01", "to": "2025-12-31", "interval": "year"})
    assert [figures(p) for p in years["periods"]] == [
        (
            "2024-01-01",
            "2025-01-01",
            0,
            315.5,
            4,
            {"new": [("acme", 0, 200), ("flip", 0, 60), ("contact:solo", 0, 45.5), ("late", 0, 10)]},
        ),
        ("2025-01-01", "2026-01-01", 315.5, 315.5, 4, {}),
    ]


def test_weeks_and_days(project: Project) -> None:
    send(project, HISTORY)
    weeks = get_report(project, **{"from": "2024-06-01", "to": "2024-06-30", "interval": "week"})
    assert [figures(p) for p in weeks["periods"]] == [
        ("2024-06-01", "2024-06-03", 209.99, 225.5, 3, {"expansion": [("contact:solo", 29.99, 45.5)]}),
        ("2024-06-03", "2024-06-10", 225.5, 275.5, 4, {"reactivation": [("bolt", 0, 50)]}),  # paid in February
        ("2024-06-10", "2024-06-17", 275.5, 275.5, 4, {}),
        ("2024-06-17", "2024-06-24", 275.5, 225.5, 3, {"churn": [("bolt", 50, 0)]}),
        ("2024-06-24", "2024-07-01", 225.5, 225.5, 3, {}),
    ]
    days = get_report(project, **{"from": "2024-01-31", "to": "2024-02-01", "interval": "day"})
    assert [figures(p) for p in days["periods"]] == [
        ("2024-01-31", "2024-02-01", 160, 160, 2, {}),
        ("2024-02-01", "2024-02-02", 160, 240, 3, {"new": [("bolt", 0, 80)]}),
    ]


def test_periods_follow_the_project_time_zone(project: Project, paris: Project) -> None:
    edges = [
        account_mrr("eve", "2024-01-31T23:30:00Z", 100),  # 1 February 00:30 in Paris
        account_mrr("leap", "2024-02-29T23:00:00Z", 50),  # 1 March 00:00 in Paris, exactly
        account_mrr("edge", "2024-03-31T21:59:00Z", 5),  # 31 March 23:59 in Paris (CEST from that night)
        account_mrr("spring", "2024-03-31T22:30:00Z", 70),  # 1 April 00:30 in Paris
    ]
    send(project, edges)
    send(paris, edges)
    query = {"from": "2024-01-01", "to": "2024-04-30"}
    in_paris = get_report(paris, **query)
    assert in_paris["timezone"] == "Europe/Paris"
    assert [(p["start_at"], moves(p)) for p in in_paris["periods"]] == [
        ("2023-12-31T23:00:00Z", {}),
        ("2024-01-31T23:00:00Z", {"new": [("eve", 0, 100)]}),
        ("2024-02-29T23:00:00Z", {"new": [("leap", 0, 50), ("edge", 0, 5)]}),
        ("2024-03-31T22:00:00Z", {"new": [("spring", 0, 70)]}),
    ]
    assert in_paris["periods"][-1]["end_at"] == "2024-04-30T22:00:00Z"
    in_utc = get_report(project, **query)
    assert [(p["start_at"], moves(p)) for p in in_utc["periods"]] == [
        ("2024-01-01T00:00:00Z", {"new": [("eve", 0, 100)]}),
        ("2024-02-01T00:00:00Z", {"new": [("leap", 0, 50)]}),
        ("2024-03-01T00:00:00Z", {"new": [("spring", 0, 70), ("edge", 0, 5)]}),
        ("2024-04-01T00:00:00Z", {}),
    ]
    assert [p["mrr"] for p in in_paris["periods"]] == [0, 100, 155, 225]
    assert [p["mrr"] for p in in_utc["periods"]] == [100, 150, 225, 225]


def test_default_is_twelve_months_ending_today(project: Project) -> None:
    send(project, HISTORY)
    today = datetime.now(UTC).date()
    report = get_report(project)
    assert report["interval"] == "month"
    periods = report["periods"]
    assert len(periods) == 12
    assert all(date.fromisoformat(p["start"]).day == 1 for p in periods)
    assert report["to"] in (today.isoformat(), (today + timedelta(days=1)).isoformat())  # midnight may pass
    assert periods[-1]["end"] == (date.fromisoformat(report["to"]) + timedelta(days=1)).isoformat()
    assert (periods[-1]["mrr"], periods[-1]["customers"]) == (315.5, 4)  # the history ended in 2024


def test_a_range_of_exactly_the_cap_is_answered(project: Project) -> None:
    last = date(2024, 1, 1) + timedelta(days=999)
    report = get_report(project, **{"from": "2024-01-01", "to": last.isoformat(), "interval": "day"})
    assert len(report["periods"]) == 1000


@pytest.mark.parametrize(
    ("query", "field", "rule", "says"),
    [
        ({"interval": "hour"}, "interval", "one_of", "day, week, month, quarter, year"),
        ({"from": "2024-02-30"}, "from", "date", "YYYY-MM-DD"),
        ({"to": "2024-1-5"}, "to", "date", "YYYY-MM-DD"),
        ({"from": "yesterday"}, "from", "date", "YYYY-MM-DD"),
        ({"from": "1800-01-01"}, "from", "range", "1900-01-01"),
        ({"from": "2024-03-01", "to": "2024-02-01"}, "to", "not_before_from", "before"),
        ({"from": "2000-01-01", "to": "2024-12-31", "interval": "day"}, "interval", "max_periods", "9132 periods"),
        ({"from": "2024-01-01", "to": "2026-09-27", "interval": "day"}, "interval", "max_periods", "1001 periods"),
        ({"currency": "usd"}, "currency", "known", "from, to, interval"),
        ([("interval", "month"), ("interval", "week")], "interval", "single", "more than once"),
    ],
)
def test_bad_parameters_are_refused_naming_field_and_rule(
    project: Project, query: Any, field: str, rule: str, says: str
) -> None:
    with reader(project) as http:
        response = http.get("/v1/revenue", params=query)
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["code"], body["field"], body["rule"]) == ("bad_request", field, rule)
    assert says in body["message"]


def test_reading_revenue_needs_token_and_secret(project: Project) -> None:
    response = project.http.get("/v1/revenue")  # token alone
    assert response.status_code == 401
    assert response.json()["rule"] == "token_and_secret"
    assert response.headers["www-authenticate"].startswith("Basic")
    with reader(project) as http:
        assert http.post("/v1/revenue").status_code == 405
