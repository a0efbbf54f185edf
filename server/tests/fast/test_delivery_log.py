"""The delivery log's housekeeping as functions on SQLite: retention of finished deliveries, and
an erasure's removal of what was sent about a person."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from salesmachine_server.deliver.queue import enqueue
from salesmachine_server.store.db.engine import Engines, open_engines
from salesmachine_server.store.db.migrate import migrate
from salesmachine_server.store.records.deliveries import (
    DELIVERED,
    FAILED,
    Attempt,
    claim_due,
    delete_naming,
    prune_finished,
    record_attempt,
)
from salesmachine_server.store.records.projects import create_project, utcnow


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Engines]:
    opened = open_engines(f"sqlite:///{tmp_path}/log.db")
    migrate(opened)
    yield opened
    opened.dispose()


def _queue(engines: Engines, project_id: int, payloads: list[dict[str, Any]]) -> list[int]:
    with engines.writer.begin() as conn:
        return [
            enqueue(conn, project_id, channel="slack", target={"url": "https://hooks.slack.com/x"}, payload=p)
            for p in payloads
        ]


def _ids(engines: Engines, table: str) -> list[int]:
    with engines.reader.connect() as conn:
        column = "delivery_id" if table == "delivery_attempts" else "id"
        return sorted(conn.execute(text(f"SELECT {column} FROM {table}")).scalars())


def test_the_log_keeps_finished_deliveries_for_its_days_and_pending_ones_always(engines: Engines) -> None:
    project, _ = create_project(engines.writer, "log", b"k" * 32)
    delivered, failed, pending, recent = _queue(engines, project.id, [{"text": str(i)} for i in range(4)])
    now = utcnow()
    for claimed in claim_due(engines.writer, now, timedelta(minutes=1), 10):
        if claimed.id in (delivered, failed, recent):
            status = FAILED if claimed.id == failed else DELIVERED
            record_attempt(engines.writer, claimed, Attempt(now, 1.0, {}, 200, "ok", None), status, None)
    with engines.writer.begin() as conn:
        conn.execute(
            text("UPDATE deliveries SET created_at = :old WHERE id IN (:a, :b, :c)"),
            {"old": now - timedelta(days=31), "a": delivered, "b": failed, "c": pending},
        )
    assert prune_finished(engines.writer, now - timedelta(days=30), batch=1) == 2
    assert _ids(engines, "deliveries") == [pending, recent]
    assert _ids(engines, "delivery_attempts") == [recent]


def test_an_erasure_removes_the_deliveries_naming_one_of_the_uids(engines: Engines) -> None:
    project, _ = create_project(engines.writer, "erase", b"k" * 32)
    other, _ = create_project(engines.writer, "other", b"k" * 32)
    about_ann, about_joanna, nested, says_ann = _queue(
        engines,
        project.id,
        [{"contact_uid": "ann"}, {"contact_uid": "joanna"}, {"customer": {"uid": "ann-2"}}, {"text": "ann"}],
    )
    [elsewhere] = _queue(engines, other.id, [{"contact_uid": "ann"}])
    assert delete_naming(engines.writer, project.id, frozenset({"ann", "ann-2"}), batch=2) == 3
    # Gone: every value equal to a uid, nested or not, whatever its key. Kept: "joanna" holds
    # "ann" but is not it; the other project's delivery is its own.
    assert _ids(engines, "deliveries") == sorted([about_joanna, elsewhere])
    assert not {about_ann, nested, says_ann} & set(_ids(engines, "deliveries"))
