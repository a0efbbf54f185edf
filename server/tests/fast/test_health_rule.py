"""Health from active days (Salesmachine's default rule and a project's thresholds), the same
in Python and in the SQL that filters lists."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import create_engine, literal, select

from salesmachine_server.domain.health import AVERAGE, BAD, GOOD, HealthRule, window_start


@pytest.mark.parametrize("active_days,band", [(0, BAD), (1, AVERAGE), (4, AVERAGE), (5, GOOD), (14, GOOD)])
def test_the_default_rule(active_days: int, band: str) -> None:
    assert HealthRule().classify(active_days) == band


def test_a_projects_thresholds() -> None:
    rule = HealthRule.of({"health": {"window_days": 30, "good_above": 10, "bad_at_most": 2}})
    assert (rule.window_days, rule.classify(2), rule.classify(3), rule.classify(11)) == (30, BAD, AVERAGE, GOOD)
    assert HealthRule.of({}) == HealthRule()


def test_the_reason_is_written_for_a_person() -> None:
    assert HealthRule().explain(1) == "1 active day in the last 14: average (good is more than 4, bad is 0 or fewer)"


def test_the_window_counts_today() -> None:
    assert window_start(date(2026, 12, 5), 14) == date(2026, 11, 22)


def test_sql_and_python_agree_on_every_count() -> None:
    rule = HealthRule(window_days=14, good_above=4, bad_at_most=1)
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        for active_days in range(0, 16):
            assert conn.execute(select(rule.sql(literal(active_days)))).scalar_one() == rule.classify(active_days)
