"""The runner's reading of the health history (project/playbook_runner.py follow_history), on an
SQLite file in process: a change fires once, a rebuild fires nothing, and a row that SQLite gives
the id of a deleted newest row (no AUTOINCREMENT: the history replaces a state recomputed for
today) is still read, once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from salesmachine_server.domain.playbooks import parse_playbook
from salesmachine_server.project.playbook_runner import RunnerCounts, follow_history
from salesmachine_server.store.db.engine import open_engines
from salesmachine_server.store.db.migrate import migrate
from salesmachine_server.store.records.playbooks import create_playbook
from salesmachine_server.store.records.projects import create_project

TODAY = date.today()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _history(conn: Any, project_id: int, account_id: int, band: str, from_day: date, written_by: str = "live") -> None:
    conn.execute(
        text(
            "INSERT INTO health_history (project_id, subject, customer_id, from_day, to_day, status, stage, band, "
            "reason, written_by, written_at) VALUES (:p, 'account', :a, :f, NULL, 'paying', NULL, :b, 'why', :w, :t)"
        ),
        {"p": project_id, "a": account_id, "f": from_day, "b": band, "w": written_by, "t": _now()},
    )


def _close_open_rows(conn: Any, account_id: int, day: date) -> None:
    conn.execute(
        text("UPDATE health_history SET to_day = :d WHERE customer_id = :a AND to_day IS NULL"),
        {"d": day, "a": account_id},
    )


def test_changes_fire_once_rebuilds_never_and_a_reused_id_is_still_read(tmp_path: Path) -> None:
    engines = open_engines(f"sqlite:///{tmp_path}/history.db")
    try:
        migrate(engines)
        project, _ = create_project(engines.writer, "history", b"k" * 32)
        document = {
            "name": "Turned bad",
            "enrollment": "every_time",
            "trigger": {"type": "health", "to": "bad"},
            "actions": [{"type": "task", "title": "Call {{account.uid}}", "due_in_days": 1}],
        }
        create_playbook(engines.writer, project.id, parse_playbook(document))
        with engines.writer.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accounts (project_id, account_uid, params, first_seen_at, updated_at) "
                    "VALUES (:p, 'acme', '{}', :t, :t)"
                ),
                {"p": project.id, "t": _now()},
            )
            account_id = conn.execute(text("SELECT id FROM accounts")).scalar_one()
        counts = RunnerCounts()

        def tasks() -> int:
            with engines.reader.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM tasks")).scalar_one())

        assert follow_history(engines.writer, counts) == 0  # the first look: the position at the end
        with engines.writer.begin() as conn:
            _history(conn, project.id, account_id, "average", TODAY - timedelta(days=5))
            _close_open_rows(conn, account_id, TODAY)
            _history(conn, project.id, account_id, "bad", TODAY)
        follow_history(engines.writer, counts)
        assert tasks() == 1
        assert follow_history(engines.writer, counts) == 0 and tasks() == 1  # read once

        with engines.writer.begin() as conn:  # a rebuild rewrites the past: nobody is alerted
            _history(conn, project.id, account_id, "bad", TODAY, written_by="rebuild")
        follow_history(engines.writer, counts)
        assert tasks() == 1

        # Today recomputed twice: the newest row deleted, a good one in its place (SQLite gives
        # it the deleted row's id), then bad again: the second turn to bad fires.
        for band in ("good", "bad"):
            with engines.writer.begin() as conn:
                newest = conn.execute(text("SELECT max(id) FROM health_history")).scalar_one()
                conn.execute(text("DELETE FROM health_history WHERE id = :i"), {"i": newest})
                _history(conn, project.id, account_id, band, TODAY)
                assert conn.execute(text("SELECT max(id) FROM health_history")).scalar_one() == newest
            follow_history(engines.writer, counts)
        assert tasks() == 2
        assert follow_history(engines.writer, counts) == 0 and tasks() == 2
    finally:
        engines.dispose()
