"""Appending to the journal: the submissions of concurrent requests share one fsync.

Each write request hands its `Submission` to `JournalAppend.submit` and waits. A thread of its
own takes every submission queued at that moment, encodes those of each project as one entry,
appends them in one journal transaction, and only then are they all answered: 201 means on this
server's disk. While that append runs the next group gathers, so single-event calls cost one
fsync per group rather than one each. Then the projector is woken (ingest/wake.py).

Nothing here touches the store: the projector (project/projector.py) applies the journal to it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading

from sqlalchemy.exc import DBAPIError
from starlette.requests import Request

from salesmachine_server.errors import ApiError, StoreUnavailable
from salesmachine_server.ingest import journal_codec
from salesmachine_server.ingest.group_commit import Submission
from salesmachine_server.ingest.journal import Journal, JournalFull, NewEntry
from salesmachine_server.ingest.wake import Wake
from salesmachine_server.serving import metrics
from salesmachine_server.serving.read_your_writes import wait_for_projection
from salesmachine_server.serving.state import app_state
from salesmachine_server.serving.threads import on_connection
from salesmachine_server.store.read.message_ids import applied_ids

log = logging.getLogger("salesmachine.journal")

# How long a batch with message ids waits for the projector before counting its duplicates: at
# most this, and not at all when the projection is already behind by more (a store down, a
# backlog), so that neither slows acknowledgements down.
DUPLICATES_WAIT_SECONDS = 1.0


async def acknowledge(request: Request, submission: Submission, count_duplicates: bool = False) -> int:
    """Make a request's submission durable in the journal (503 past the disk budget); with
    `count_duplicates`, first count its messages already applied (the answer's `duplicates`)."""
    state = app_state(request)
    try:
        state.journal.check_budget(state.settings.journal_budget_bytes)
    except JournalFull as full:
        log.warning("journal over its budget: %s", full)
        raise ApiError(
            503,
            "the server's journal is full: writes wait for the database to catch up; retry later",
            headers={"Retry-After": str(state.settings.retry_after_seconds)},
        ) from None
    duplicates = await door_duplicates(request, submission) if count_duplicates else 0
    await state.journal_append.submit(submission)
    return duplicates


async def door_duplicates(request: Request, submission: Submission) -> int:
    """How many of the messages the projector will find already applied: repeated within the
    submission, or already in the store once what this server acknowledged before is applied
    (a bounded wait, as reads wait). Best effort: the projector's claim of each id is what
    decides (store/write/apply.py), and with the store unreachable only repeats are counted."""
    keys = [m.message_id for m in submission.messages if m.message_id is not None]
    if not keys:
        return 0
    repeats = len(keys) - len(set(keys))
    state = app_state(request)
    wait = min(state.settings.read_wait_seconds, DUPLICATES_WAIT_SECONDS)
    # A projection already further behind than the wait (the store down, a backlog) would make
    # every such batch wait its whole second for a count it cannot make exact: count at once.
    hurry = state.journal_append.wake.hurry
    if state.journal.depth().lag_seconds > wait or await wait_for_projection(state.journal, wait, hurry):
        return repeats
    try:
        known = await on_connection(
            state.engines.reader, lambda conn: applied_ids(conn, submission.project_id, sorted(set(keys)))
        )
    except (DBAPIError, StoreUnavailable):
        return repeats
    return repeats + len(known)


class JournalAppend:
    """The queue of submissions and the thread that appends them in groups (started and stopped
    by the application's lifespan, app.py).

    The thread appends back to back, taking whatever was queued while the last append ran, and
    hands each appended group to the event loop to answer. It does not wait for the loop between
    appends: the loop, busy answering one group and reading the next requests, would otherwise
    hold the next append back by that much, and the journal's lock (journal.py) with the other
    workers' appends queued on it."""

    def __init__(self, journal: Journal, max_group_items: int = 5000) -> None:
        # The labelled children, looked up once (`labels` costs more than the increment), here
        # rather than at import: `serve`'s supervisor makes the metrics' values anew for its
        # workers after the import (serving/metrics.py share_between_processes), and a child
        # looked up before that counts in no file the workers' /metrics reads.
        self._accepted = metrics.ITEMS.labels("accepted")
        self._rejected = metrics.ITEMS.labels("rejected")
        self.journal = journal
        self.max_group_items = max_group_items
        self.wake = Wake(journal.path)
        self._queue: queue.SimpleQueue[Submission | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="journal-append", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Append what is queued, then stop (graceful shutdown)."""
        if self._thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    async def submit(self, submission: Submission) -> None:
        """Queue a submission and wait until it is in the journal, on disk."""
        submission.future = asyncio.get_running_loop().create_future()
        self._queue.put(submission)  # unbounded: never waits
        await submission.future

    def _run(self) -> None:
        """The append thread: a group, appended, handed to the loop; until told to stop."""
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            group, items = [first], first.size()
            while items < self.max_group_items:
                try:
                    submission = self._queue.get_nowait()
                except queue.Empty:
                    break
                if submission is None:
                    stopping = True
                    break
                group.append(submission)
                items += submission.size()
            metrics.QUEUE_DEPTH.set(self._queue.qsize())
            failure: Exception | None = None
            try:
                with metrics.COMMIT_SECONDS.time():
                    self.journal.append(entries_of(group))
            except Exception as exc:
                failure = _unavailable(exc)
            else:
                try:
                    self._count(group)
                    self.wake.projector()
                except Exception:  # the group is on disk: its requests are answered 201 all the same
                    log.exception("counting an append failed")
            assert self._loop is not None
            try:
                self._loop.call_soon_threadsafe(_settle_all, group, failure)
            except RuntimeError:  # the loop is closed: nobody waits for these answers any more
                return

    def _count(self, group: list[Submission]) -> None:
        metrics.COMMITS.inc()
        metrics.JOBS.inc(len(group))
        self._accepted.inc(sum(len(s.messages) for s in group))
        self._rejected.inc(sum(len(s.rejections) for s in group))


def entries_of(group: list[Submission]) -> list[NewEntry]:
    """One entry per project of the group, holding its submissions in the order they came
    (journal_codec.py); its time is its first submission's, from which the lag counts."""
    by_project: dict[int, list[Submission]] = {}
    for submission in group:
        by_project.setdefault(submission.project_id, []).append(submission)
    return [
        NewEntry(
            project_id=project_id,
            received_at=journal_codec.micros(ours[0].received_at) / 1e6,
            items=sum(s.size() for s in ours),
            body=journal_codec.encode(ours),
        )
        for project_id, ours in by_project.items()
    ]


def _unavailable(exc: Exception) -> Exception:
    """A journal that cannot be written (disk full, I/O error) is a 503 like an unreachable store."""
    if isinstance(exc, sqlite3.Error):
        log.error("the journal cannot be written: %s", exc)
        return StoreUnavailable(str(exc))
    log.exception("a journal append failed")
    return RuntimeError("the write failed")


def _settle_all(group: list[Submission], exception: BaseException | None) -> None:
    """Answer a group's requests (on the event loop): appended, or the append's failure."""
    for submission in group:
        future = submission.future
        if future is None or future.done():  # the client went away; the entry is on disk anyway
            continue
        if exception is not None:
            future.set_exception(exception)
        else:
            future.set_result(0)
