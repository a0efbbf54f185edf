"""The dashboard home's revenue report (store/read/revenue.py: home_reports) on the read
database of the benchmark (bench/readdata.py: 10,000 accounts with two rows of mrr history
each): computed anew, remembered, and the first read after an mrr change, checked equal to the
report computed anew each time.

    .venv/bin/python bench/home_revenue.py [--engine sqlite|postgres]

The change is one account's mrr row, added inside a transaction that is rolled back (the
database is left as it was). Writes bench/results/home-revenue.md (home-revenue-postgres.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import insert

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import readdata
from salesmachine_server.domain import revenue
from salesmachine_server.domain.timezones import local_today, zone
from salesmachine_server.store.db.engine import open_engines
from salesmachine_server.store.db.schema import mrr_changes
from salesmachine_server.store.read.revenue import (
    accounts_of_paying_contacts,
    home_reports,
    mrr_rows,
)
from salesmachine_server.web.home import first_month

RESULTS = {"sqlite": HERE / "results" / "home-revenue.md", "postgres": HERE / "results" / "home-revenue-postgres.md"}
T = TypeVar("T")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    engine = parser.parse_args().engine
    marker = readdata.cached(engine) or readdata.generate(engine)
    readdata.warm(engine)
    engines = open_engines(readdata.url_for(engine))
    project_id = marker["project"]["id"]
    tz = zone(None)
    cuts = revenue.periods(first_month(local_today(tz)), local_today(tz), revenue.MONTH, tz)
    rows: list[tuple[str, float]] = []

    def timed(label: str, step: Callable[[], T]) -> T:
        start = time.perf_counter()
        found = step()
        rows.append((label, time.perf_counter() - start))
        return found

    def anew(conn: Any) -> list[revenue.PeriodReport]:
        return revenue.report(revenue.revenue_units(mrr_rows(conn, project_id),
                                                    accounts_of_paying_contacts(conn, project_id)), cuts)

    # The writer's engine: the change and the reads after it share one transaction.
    with engines.writer.connect() as conn:
        transaction = conn.begin()
        computed = timed("computed anew (mrr_rows, accounts_of_paying_contacts, revenue_units, report)",
                         lambda: anew(conn))
        assert timed("home_reports, first call (nothing remembered)", lambda: home_reports(conn, project_id, cuts)) \
            == computed
        for n in (1, 2, 3):
            timed(f"home_reports, unchanged ({n})", lambda: home_reports(conn, project_id, cuts))
        now = datetime.now(UTC).replace(tzinfo=None)
        conn.execute(insert(mrr_changes).values(project_id=project_id, account_id=7, mrr=1234.5,
                                                effective_at=now, received_at=now))
        changed = timed("home_reports, first call after one account's mrr changed",
                        lambda: home_reports(conn, project_id, cuts))
        timed("home_reports, the call after", lambda: home_reports(conn, project_id, cuts))
        assert changed == anew(conn) and changed != computed
        transaction.rollback()
    engines.dispose()
    lines = ["# The home page's revenue report on 10,000 paying accounts (20,000 rows of mrr history)", "",
             f"Command: `.venv/bin/python bench/home_revenue.py --engine {engine}`  ",
             (f"Machine: {os.cpu_count()} cores (shared), CPython {platform.python_version()}, {engine}; "
              f"load average {os.getloadavg()[0]:.1f}; date {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; in "
              "process, one call each. Every report was checked equal to the one computed anew."), "",
             "| step | time |", "|---|---|"]
    lines += [f"| {label} | {seconds * 1000:,.0f} ms |" for label, seconds in rows]
    RESULTS[engine].write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
