"""Group commit: concurrent requests share one transaction, and each is answered after it.

Every write request hands the group commit a `Submission` (its accepted messages and its
refusals) and waits on its future. One task takes every submission queued at that moment (up
to `max_group_items` items), applies them in order in one transaction on a dedicated thread,
commits, and only then resolves the futures: 201 means stored. While that transaction runs, the
next group gathers, so single-event calls cost one commit per group rather than one each.

A group that fails for a reason other than the store being unreachable is retried one
submission at a time, so one bad submission fails alone and the others are still stored.

`commit_group` is the synchronous half, one group in one transaction: the importer calls it
directly, one submission per batch of rows.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

from salesmachine_server.domain.messages import Message
from salesmachine_server.errors import StoreUnavailable
from salesmachine_server.serving import metrics
from salesmachine_server.store.db.engine import Engines
from salesmachine_server.store.write.apply import MessageApplier

# The logger and thread keep the name they had ("writer"): operators' log filters know it.
log = logging.getLogger("salesmachine.writer")

T = TypeVar("T")

# PostgreSQL SQLSTATEs after which the same transaction may simply be run again.
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected
_ATTEMPTS = 8


@dataclass
class Submission:
    """What one request (or one batch of imported rows) stores: its messages and its refusals,
    for one project, committed together."""

    project_id: int
    received_at: datetime
    messages: list[Message]
    rejections: list[dict[str, Any]] = field(default_factory=list)
    timezone: str = "UTC"  # the project's: events are counted per calendar day there
    future: asyncio.Future[int] | None = None  # resolves to how many messages were duplicates

    def size(self) -> int:
        return len(self.messages) + len(self.rejections)


def commit_group(engines: Engines, group: list[Submission]) -> list[int]:
    """Apply a group of submissions in one transaction and commit; the number of duplicates of
    each. Runs on the group commit's thread, or directly (the importer)."""
    with metrics.COMMIT_SECONDS.time():
        return store_transaction(engines, lambda: _apply(engines, group), f"a group of {len(group)} submissions")


def store_transaction(engines: Engines, work: Callable[[], T], what: str) -> T:
    """`work()`, which runs one store transaction, retried whole on a deadlock or
    serialization failure (nothing of it was committed); an unreachable store raises
    StoreUnavailable. Shared by the group commit and the projector (project/projector.py)."""
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return work()
        except OperationalError as exc:
            if sqlstate(exc) in _RETRYABLE_SQLSTATES and attempt < _ATTEMPTS:
                log.info("retrying %s after: %s", what, _describe(exc))
                time.sleep(random.uniform(0, 0.01 * attempt))
                continue
            raise StoreUnavailable(_describe(exc)) from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise StoreUnavailable(_describe(exc)) from exc
            raise
    raise AssertionError("unreachable")


def _apply(engines: Engines, group: list[Submission]) -> list[int]:
    """One store transaction for the group. The messages of one project are applied as one
    run, in the order of the submissions, so single-event requests cost as little as a batch."""
    duplicates = [0] * len(group)
    with engines.writer.begin() as conn:
        tx = MessageApplier(conn, group[-1].received_at)
        for project_id in sorted({submission.project_id for submission in group}):
            ours = [(i, submission) for i, submission in enumerate(group) if submission.project_id == project_id]
            tx.set_timezone(project_id, ours[-1][1].timezone)
            messages = [m for _, submission in ours for m in submission.messages]
            received = [submission.received_at for _, submission in ours for _ in submission.messages]
            applied = iter(tx.apply(project_id, messages, received))
            for i, submission in ours:
                duplicates[i] = sum(1 for _ in submission.messages if not next(applied))
                tx.reject(submission.rejections)
    return duplicates


def sqlstate(exc: DBAPIError) -> str | None:
    """The SQLSTATE of a PostgreSQL error (None on SQLite)."""
    return getattr(exc.orig, "sqlstate", None)


def _describe(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
