"""The retention setting as typed, and the lease a periodic task runs under, as plain functions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from salesmachine_server.domain.retention import parse_retention_days, retention_days
from salesmachine_server.store.db.engine import open_engines
from salesmachine_server.store.db.migrate import migrate
from salesmachine_server.store.records import leases

RULE = "retention_days must be a whole number of days from 1 to 36500, or none to keep events forever"


@pytest.mark.parametrize(
    ("typed", "days"), [("30", 30), (" 1 ", 1), ("036500", 36500), ("none", None), ("NONE", None), ("", None)]
)
def test_retention_days_as_typed(typed: str, days: int | None) -> None:
    assert parse_retention_days(typed) == days


@pytest.mark.parametrize("typed", ["0", "-1", "36501", "1.5", "30d", "²", "٣", "9" * 5000, "forever"])
def test_a_bad_retention_is_refused_with_its_rule(typed: str) -> None:
    with pytest.raises(ValueError, match=RULE):
        parse_retention_days(typed)


@pytest.mark.parametrize(
    "stored",
    [
        {},
        {"retention_days": None},
        {"retention_days": "30"},
        {"retention_days": 0},
        {"retention_days": True},
        {"retention_days": 2.5},
    ],
)
def test_a_stored_value_the_setting_does_not_take_keeps_events(stored: dict[str, object]) -> None:
    assert retention_days(stored) is None


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engines = open_engines(f"sqlite:///{tmp_path}/leases.db")
    migrate(engines)
    yield engines.writer
    engines.dispose()


def test_one_holder_at_a_time_until_it_releases(engine: Engine) -> None:
    first = leases.claim(engine, "retention", "a", 60)
    assert first is not None and first.due(86_400)  # never ran
    assert leases.claim(engine, "retention", "b", 60) is None
    assert leases.claim(engine, "retention", "a", 60) is not None  # renewed
    assert leases.mark_ran(engine, "retention", "a")
    assert not leases.mark_ran(engine, "retention", "b")
    again = leases.claim(engine, "retention", "a", 60)
    assert again is not None and not again.due(86_400) and again.due(0)
    leases.release(engine, "retention", "a")
    taken = leases.claim(engine, "retention", "b", 60)
    assert taken is not None and not taken.due(86_400)  # when it last ran is the task's, not the holder's


def test_an_expired_lease_is_taken_over(engine: Engine) -> None:
    assert leases.claim(engine, "retention", "a", 0.05) is not None
    assert leases.claim(engine, "retention", "b", 60) is None
    time.sleep(0.1)
    assert leases.claim(engine, "retention", "b", 60) is not None
    with engine.connect() as conn:
        assert conn.execute(text("SELECT holder FROM leases")).scalar_one() == "b"
