"""The health task's pass over the customers the write path marked (project/health_history.py
`evaluate_marked`) beside a writer on PostgreSQL: it holds no customer's row while it
evaluates, so the projector never waits for an evaluation; a customer written meanwhile stays
marked for the next run; and a claim that would wait too long for a writer's rows gives up,
leaving its customers marked, rather than taking part in a deadlock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from salesmachine_server.project import health_history
from salesmachine_server.project.health_history import evaluate_marked
from salesmachine_server.store.db.engine import Engines, open_engines
from salesmachine_server.store.db.migrate import migrate
from salesmachine_server.store.read.health_models import in_force
from tests.support import make_project, postgres_database

TODAY = datetime.now(UTC).date()
UTC_ZONE = ZoneInfo("UTC")


@pytest.fixture
def store() -> Iterator[tuple[Engines, int, list[int]]]:
    """A PostgreSQL store with a project and three contacts, each active a few days and marked."""
    with postgres_database() as url:
        engines = open_engines(url)
        migrate(engines)
        project, _secret = make_project(url)
        ids = []
        with engines.writer.begin() as conn:
            for n in range(3):
                ids.append(
                    conn.execute(
                        text(
                            "INSERT INTO contacts (project_id, contact_uid, params, first_seen_at, updated_at, "
                            "health_dirty_from) VALUES (:p, :uid, '{}', :first, :first, :dirty) RETURNING id"
                        ),
                        {
                            "p": project.id,
                            "uid": f"c{n}",
                            "first": datetime.now(UTC).replace(tzinfo=None) - timedelta(days=5),
                            "dirty": TODAY - timedelta(days=5),
                        },
                    ).scalar_one()
                )
            conn.execute(
                text("INSERT INTO contact_days (contact_id, day, project_id, events) VALUES (:c, :d, :p, 1)"),
                [{"c": c, "d": TODAY - timedelta(days=k), "p": project.id} for c in ids for k in range(4)],
            )
        yield engines, project.id, ids
        engines.dispose()


def run_task(engines: Engines, project_id: int) -> int:
    with engines.reader.connect() as conn:
        model = in_force(conn, project_id).model
    return evaluate_marked(engines.writer, project_id, UTC_ZONE, model, TODAY, threading.Event())


def marks(engines: Engines, ids: list[int]) -> list[Any]:
    with engines.reader.connect() as conn:
        rows = conn.execute(text("SELECT id, health_dirty_from FROM contacts WHERE id = ANY(:ids)"), {"ids": ids})
        found = dict(rows.all())
    return [found[c] for c in ids]


def history_of(engines: Engines, ids: list[int]) -> set[int]:
    with engines.reader.connect() as conn:
        rows = conn.execute(
            text("SELECT DISTINCT customer_id FROM health_history WHERE subject = 'contact' AND customer_id = ANY(:i)"),
            {"i": ids},
        )
        return {cid for (cid,) in rows}


def test_a_writer_does_not_wait_for_an_evaluation_and_what_it_wrote_is_evaluated_next_run(
    store: tuple[Engines, int, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    engines, project_id, ids = store
    original = health_history.evaluate
    written: list[int] = []

    def evaluated_while_written(conn: Any, *args: Any) -> Any:
        if args[3] == "contact" and not written:
            # What the projector does to a contact it has events for: its rows locked in id
            # order, the row written. Given up after 2 s if the task held them.
            with engines.writer.begin() as writer:
                writer.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                lock = text("SELECT id FROM contacts WHERE id = ANY(:ids) ORDER BY id FOR UPDATE")
                writer.execute(lock, {"ids": ids})
                writer.execute(text("UPDATE contacts SET last_seen_at = now() WHERE id = :id"), {"id": ids[0]})
            written.append(ids[0])
        return original(conn, *args)

    monkeypatch.setattr(health_history, "evaluate", evaluated_while_written)
    assert run_task(engines, project_id) == 3
    assert written == [ids[0]]
    first, *others = marks(engines, ids)
    assert first == TODAY - timedelta(days=5), "written while evaluated: still marked, as it was"
    assert others == [None, None]
    assert history_of(engines, ids) == set(ids)

    assert run_task(engines, project_id) == 1, "the next run takes the one left marked, and only it"
    assert marks(engines, ids) == [None, None, None]


def test_a_claim_gives_up_on_rows_a_writer_holds_too_long_and_leaves_them_marked(
    store: tuple[Engines, int, list[int]],
) -> None:
    engines, project_id, ids = store
    with engines.writer.begin() as writer:  # a writer holding one of the rows past the claim's wait
        writer.execute(text("SELECT id FROM contacts WHERE id = :id FOR UPDATE"), {"id": ids[1]})
        assert run_task(engines, project_id) == 0
    assert None not in marks(engines, ids)
    assert history_of(engines, ids) == set()

    assert run_task(engines, project_id) == 3
    assert marks(engines, ids) == [None, None, None]
    assert history_of(engines, ids) == set(ids)
