"""Active days and health, Salesmachine's default rule, with thresholds as project settings.

An active day is a calendar day, in the project's time zone, with at least one event or
pageview. Health looks at the active days of the last `window_days` days (today included):
good is more than `good_above`, bad is `bad_at_most` or fewer, average otherwise. An account's
active days are the days any of its contacts was active.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case

GOOD, AVERAGE, BAD = "good", "average", "bad"
LEVELS = (GOOD, AVERAGE, BAD)


@dataclass(frozen=True)
class HealthRule:
    window_days: int = 14
    good_above: int = 4
    bad_at_most: int = 0

    @classmethod
    def of(cls, settings: dict[str, Any]) -> HealthRule:
        health = settings.get("health") or {}
        return cls(
            window_days=int(health.get("window_days", cls.window_days)),
            good_above=int(health.get("good_above", cls.good_above)),
            bad_at_most=int(health.get("bad_at_most", cls.bad_at_most)),
        )

    def classify(self, active_days: int) -> str:
        if active_days > self.good_above:
            return GOOD
        if active_days <= self.bad_at_most:
            return BAD
        return AVERAGE

    def explain(self, active_days: int) -> str:
        """The rule that put a customer in its band, in words a CSM reads."""
        level = self.classify(active_days)
        return (
            f"{active_days} active day{'s' if active_days != 1 else ''} in the last {self.window_days}: {level} "
            f"(good is more than {self.good_above}, bad is {self.bad_at_most} or fewer)"
        )

    def sql(self, active_days: ColumnElement[int]) -> ColumnElement[str]:
        """The same classification as a SQL expression, for filtering lists."""
        return case(
            (active_days > self.good_above, GOOD),
            (active_days <= self.bad_at_most, BAD),
            else_=AVERAGE,
        )


def window_start(today: date, days: int) -> date:
    """The first day of the last `days` calendar days, today included."""
    return today - timedelta(days=days - 1)
