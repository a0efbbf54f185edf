"""The events of a run as store/write/event_insert.py writes them: each as it is added, in
order, all of them by the end of the block, with the values read back as they were sent; on
PostgreSQL through a COPY opened at the first event, so that a run without events (contact and
account updates alone) costs no COPY's round trip."""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from salesmachine_server.domain.enrichment import NOTHING
from salesmachine_server.domain.messages import Message, MessageKind
from salesmachine_server.store.db import dialect
from salesmachine_server.store.db.engine import Engines, open_engines
from salesmachine_server.store.db.migrate import migrate
from salesmachine_server.store.write.event_insert import EventRow, EventWriter
from tests.support import make_project, postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engines, int]]:
    def opened(url: str) -> tuple[Engines, int]:
        engines = open_engines(url)
        migrate(engines)
        project, _secret = make_project(url)
        return engines, project.id

    if request.param == "sqlite":
        engines, project_id = opened(f"sqlite:///{tmp_path}/salesmachine.db")
        yield engines, project_id
        engines.dispose()
        return
    with postgres_database() as url:
        engines, project_id = opened(url)
        yield engines, project_id
        engines.dispose()


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The COPY statements opened through the dialect while the test runs."""
    opened: list[str] = []
    original = dialect.Dialect.copying

    def counted(self: dialect.Dialect, sql: str, types: Any = ()) -> Any:
        opened.append(sql)
        return original(self, sql, types)

    monkeypatch.setattr(dialect.Dialect, "copying", counted)
    return opened


def event(n: int, **fields: Any) -> Message:
    return Message(
        MessageKind.EVENT,
        contact_uid="c",
        event_name=fields.pop("name", "used"),
        params={"n": n, "text": 'tab\there "quoted" \\ back'},
        occurred_at=datetime(2026, 12, 6, 10, 0, n, 123456),
        enrichment=NOTHING,
        **fields,
    )


def test_events_are_written_in_order_with_their_values(store: tuple[Engines, int], copies: list[str]) -> None:
    engines, project_id = store
    received = datetime(2026, 12, 6, 11, 0, 0, 654321)
    rows: list[EventRow] = [
        (7, None, event(0), received),
        (7, 3, event(1, message_id="m-1"), received),
        (8, None, event(2, name="pageview"), received),
    ]
    with engines.writer.begin() as conn:
        with EventWriter(conn, project_id, []) as writer:
            for row in rows:
                writer.add(row)
        assert writer.rows == rows  # kept for what follows the run (trigger_inbox.py)
    with engines.reader.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT contact_id, account_id, name, kind, params, occurred_at, received_at, message_id, "
                "enrichment, country FROM events WHERE project_id = :p ORDER BY id"
            ),
            {"p": project_id},
        ).all()
    assert [(r.contact_id, r.account_id, r.name, r.kind, r.message_id) for r in stored] == [
        (7, None, "used", "event", None),
        (7, 3, "used", "event", "m-1"),
        (8, None, "pageview", "pageview", None),
    ]
    params = [r.params if isinstance(r.params, dict) else json.loads(r.params) for r in stored]
    assert params == [m.params for _, _, m, _ in rows]
    times = [(r.occurred_at, r.received_at) for r in stored]
    as_datetime = [tuple(t if isinstance(t, datetime) else datetime.fromisoformat(t) for t in pair) for pair in times]
    assert as_datetime == [(m.occurred_at, received) for _, _, m, _ in rows]
    assert [(r.enrichment, r.country) for r in stored] == [(1, None)] * 3
    assert len(copies) == (1 if engines.dialect == "postgresql" else 0)


def test_a_run_without_events_opens_no_copy(store: tuple[Engines, int], copies: list[str]) -> None:
    engines, project_id = store
    with engines.writer.begin() as conn:
        with EventWriter(conn, project_id, []) as writer:
            pass
        # Nothing holds the connection: the run's next statements go through.
        assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 0
    assert writer.rows == []
    assert copies == []


def test_a_writer_and_its_rows_are_freed_when_let_go(store: tuple[Engines, int]) -> None:
    """Freed by their reference counts, not left to the cyclic collector: a writer holding a
    group's rows in a cycle kept every event of it (and its message) alive until a collection,
    seconds later under load, and the projector's memory and collector's work grew with it."""
    engines, project_id = store
    collecting = gc.isenabled()
    gc.disable()
    try:
        with engines.writer.begin() as conn:
            with EventWriter(conn, project_id, []) as writer:
                writer.add((7, None, event(0), datetime(2026, 12, 6, 11)))
            freed = weakref.ref(writer)
            del writer
            assert freed() is None
    finally:
        if collecting:
            gc.enable()


def test_params_go_to_the_copy_through_psycopgs_c_dumper() -> None:
    """The bytea dumper psycopg registers last is its DB-API module's Python one; the COPY's
    cursor takes the C one (dialect.py `_c_bytea_dumper`), and the connection keeps its own."""
    from psycopg.pq import Format

    with postgres_database() as url:
        engines = open_engines(url)
        with engines.writer.begin() as conn:
            conn.execute(text("CREATE TEMP TABLE sent (params jsonb)"))
            with dialect.Dialect(conn).copying("COPY sent (params) FROM STDIN (FORMAT BINARY)", ["bytea"]) as write:
                copy = write.__self__  # type: ignore[attr-defined]
                used = copy.cursor.adapters.get_dumper_by_oid(17, Format.BINARY)
                write((b'\x01{"n": 1}',))
            kept = conn.connection.dbapi_connection.adapters.get_dumper_by_oid(17, Format.BINARY)  # type: ignore[union-attr]
            assert conn.execute(text("SELECT params FROM sent")).scalar_one() == {"n": 1}
        engines.dispose()
    assert used.__module__.startswith("psycopg_binary"), used
    assert not kept.__module__.startswith("psycopg_binary"), kept
