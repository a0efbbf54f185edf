"""Each project's suppressed uid hashes, as the write path checks them (ingest/suppression.py).

Read from the database at most once per `TTL_SECONDS` per project and process: a write request
costs a dictionary lookup, and a suppression committed by another process (or the CLI) is seen
within that time. An erasure waits that long after suppressing before it removes the last rows
(serving/erasures.py), so a write that passed the check just before has landed by then and is
removed with the rest.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from salesmachine_server.serving.threads import on_connection
from salesmachine_server.store.records.suppressions import suppressed_hashes

TTL_SECONDS = 1.0


class SuppressedUids:
    def __init__(self) -> None:
        self._known: dict[int, tuple[float, frozenset[str]]] = {}
        # One read per project at a time: the requests that find the hashes stale together
        # (every one in flight, the moment they expire) wait for the same read.
        self._reading: dict[int, asyncio.Future[frozenset[str]]] = {}

    async def of(self, engine: Engine, project_id: int) -> frozenset[str]:
        """The project's suppressed uid hashes, at most TTL_SECONDS old."""
        known = self._known.get(project_id)
        if known is not None and time.monotonic() - known[0] < TTL_SECONDS:
            return known[1]
        reading = self._reading.get(project_id)
        if reading is None:
            reading = self._reading[project_id] = asyncio.ensure_future(self._read(engine, project_id))
            reading.add_done_callback(lambda done: self._done_reading(project_id, done))
        try:
            return await asyncio.shield(reading)
        except OperationalError:
            # The store is unreachable: writes still go to the journal, checked against the
            # hashes last read (no erasure can be committed meanwhile: it needs the store).
            if known is not None:
                return known[1]
            raise

    async def _read(self, engine: Engine, project_id: int) -> frozenset[str]:
        hashes = await on_connection(engine, lambda conn: suppressed_hashes(conn, project_id))
        if self._reading.get(project_id) is asyncio.current_task():  # not forgotten meanwhile
            self._known[project_id] = (time.monotonic(), hashes)
        return hashes

    def _done_reading(self, project_id: int, done: asyncio.Future[frozenset[str]]) -> None:
        if self._reading.get(project_id) is done:
            del self._reading[project_id]

    def forget(self, project_id: int) -> None:
        """Read the project's hashes again at the next write (this process just changed them):
        a read in flight may have missed the change, so the next write starts a new one."""
        self._known.pop(project_id, None)
        self._reading.pop(project_id, None)
