"""The usage map: one cell per day over the last months, darker for more activity.

Laid out as Salesmachine and GitHub do: a column per week (Monday on top), oldest on the left,
today in the last column. Cells are shaded in five steps relative to the busiest day shown,
so a small customer's habits are as visible as a large one's. Drawn as an HTML grid, not a
chart: it is a calendar, and each cell carries its date and count as text for screen readers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

WEEKS = 26


@dataclass(frozen=True)
class Cell:
    day: date
    events: int
    level: int  # 0 (nothing) to 4 (the busiest days)
    future: bool


@dataclass(frozen=True)
class UsageMap:
    weeks: list[list[Cell]]
    months: list[tuple[int, str]]  # (column, "Jan") where a month starts
    active_days: int
    total: int

    @property
    def first(self) -> date:
        return self.weeks[0][0].day


def first_day(today: date, weeks: int = WEEKS) -> date:
    """The Monday that starts the map's first column."""
    return today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)


def level(events: int, busiest: int) -> int:
    if events <= 0 or busiest <= 0:
        return 0
    return max(1, min(4, math.ceil(4 * events / busiest)))


def usage_map(per_day: dict[date, int], today: date, weeks: int = WEEKS) -> UsageMap:
    start = first_day(today, weeks)
    shown = {d: n for d, n in per_day.items() if start <= d <= today}
    busiest = max(shown.values(), default=0)
    columns, months = [], []
    for week in range(weeks):
        monday = start + timedelta(weeks=week)
        column = []
        for offset in range(7):
            day = monday + timedelta(days=offset)
            events = shown.get(day, 0)
            column.append(Cell(day, events, level(events, busiest), day > today))
        columns.append(column)
        first_of_month = next((c.day for c in column if c.day.day == 1), None)
        if week == 0 or first_of_month is not None:
            months.append((week, (first_of_month or monday).strftime("%b")))
    return UsageMap(columns, months, sum(1 for n in shown.values() if n > 0), sum(shown.values()))
