"""The projector: the journal applied to the store, in large groups, in order, exactly once.

A process of its own, started (and restarted if it dies) by `salesmachine serve`
(supervisor.py), so the store's work runs on a core of its own while the request workers take
writes. It reads the journal's entries after its position, up to `projector_group_items` items
(a small group first waits a moment for more, `_gather`, unless a read waits for it), and
applies them in one store transaction: each project's messages in journal order through
`MessageApplier` (duplicates by message id drop out there, as they always did), the door's
refusals into `rejected_items`, and its new position into `journal_positions`, all committed
together. A projector killed at any moment therefore starts again exactly after the last group
committed: nothing applied twice, nothing skipped. Only then is the journal told (its
`projected` tally, which reads wait for) and the applied entries deleted from it.

A group the store refuses for a reason other than being unreachable is applied again entry by
entry, each message under a savepoint of its own: a message the store refuses is kept in
`rejected_items` with the store's reason (path `journal`), never dropped silently, and the
others are applied. While the store is unreachable (PostgreSQL down) the projector waits and
tries again, the journal keeps taking writes, and nothing is lost.
"""

from __future__ import annotations

import logging
import select
import signal
import socket
import sqlite3
import time
from collections import deque
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy import select as sql_select
from sqlalchemy.exc import DBAPIError

from salesmachine_server.domain.messages import Message
from salesmachine_server.errors import StoreUnavailable
from salesmachine_server.ingest import journal_codec
from salesmachine_server.ingest.group_commit import store_transaction
from salesmachine_server.ingest.journal import Entry, Journal, journal_path
from salesmachine_server.ingest.wake import HURRY, claim
from salesmachine_server.settings import Settings
from salesmachine_server.store.db.engine import Engines, open_engines
from salesmachine_server.store.db.schema import journal_positions
from salesmachine_server.store.records.projects import utcnow
from salesmachine_server.store.write.apply import MessageApplier

log = logging.getLogger("salesmachine.projector")

Decoded = tuple[Entry, list[journal_codec.Decoded]]  # a journal entry, and the submissions it holds

IDLE_POLL_SECONDS = 0.25  # a wake-up datagram lost costs at most this
# A group smaller than this waits for more (`_gather`): below it, what a group costs whatever its
# size (the transaction, its commit's fsync, a statement per table) is a large part of each item's.
GATHER_BELOW_ITEMS = 5_000
CHECKPOINT_SECONDS = 0.25
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0)  # after the store could not be reached, then 2 s on


class Projector:
    def __init__(self, settings: Settings, engines: Engines, journal: Journal) -> None:
        self.settings = settings
        self.engines = engines
        self.journal = journal
        self.stopping = False
        self._applied: deque[tuple[float, int]] = deque()  # (when, items) of the last seconds
        self._checkpointed_at = 0.0
        self.hurried = False  # a read asked for the journal applied now (ingest/wake.py)

    def run(self, listener: socket.socket) -> None:
        """Apply the journal until asked to stop, then until it is empty (or the store is down).

        Each group is read when the last one is applied, holding everything that came
        meanwhile: an entry waits at most for the group being applied, then for its own. (The
        next group was read on a thread of its own while one was applied, which made an entry
        that came just after that read wait for two groups besides its own; the overlap it bought
        was within 1 % of the rate, bench/projector_cpu.py.)"""
        position = store_transaction(self.engines, self._load_position, "reading the journal position")
        self._tell_journal(position)
        failures = 0
        group: list[Decoded] = []  # not empty: the group the store could not take, tried again
        while True:
            group = group or self.read_group(position)
            if not group:
                if self.stopping:
                    return
                self.hurried |= _wait(listener, IDLE_POLL_SECONDS)
                continue
            if self._gather(listener, group):
                group += self.read_group(group[-1][0].seq, self._room(group))
            began = time.monotonic()
            try:
                self.apply(group)
            except StoreUnavailable as exc:
                if self.stopping:
                    log.warning("stopping with %d journal entries not applied: %s", len(group), exc)
                    return
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                if failures == 0:
                    log.error("store unavailable, the journal keeps the writes: %s", exc)
                failures += 1
                self._checkpoint()  # the journal keeps growing while the store is away
                time.sleep(delay)
                continue
            if failures:
                log.info("store reachable again after %d attempts", failures)
                failures = 0
            position = group[-1][0].seq
            self._tell_journal(position, self._rate(began, _items(group)))
            self.hurried |= _drain(listener)
            group = []

    def read_group(self, after: int, max_items: int = 0) -> list[Decoded]:
        """The next group: the entries after `after`, each with what it holds decoded."""
        entries = self.journal.read(after, max_items or self.settings.projector_group_items)
        return [(entry, journal_codec.decode(entry.body)) for entry in entries]

    def _gather(self, listener: socket.socket, group: list[Decoded]) -> bool:
        """Wait, before applying a small group, until its oldest entry is
        `projector_gather_seconds` old, so that the next writes join it; True when it waited.

        Under a stream of small requests the projector would otherwise apply a few hundred
        items at a time and spend on each group's fixed cost the CPU the request workers need:
        on 2 cores, single events at 64 connections went from 9,920 and 9,952 req/s to 10,109
        and 10,424 (bench/write_path.py, interleaved), the projector's CPU per request from 48-53
        to 37-46 µs (bench/request_cpu.py), with 0.25 s; a second (the default) took a further
        fifth off it (six interleaved runs on a slower machine: 54-86 -> 50-56 µs), groups of a
        few thousand events sharing their contacts' statements. A read waiting for its writes
        asks the projector to hurry (ingest/wake.py), and the wait ends at once; so does a stop."""
        gather = self.settings.projector_gather_seconds
        if self.hurried or self.stopping or gather <= 0 or _items(group) >= GATHER_BELOW_ITEMS:
            self.hurried = False
            return False
        until = group[0][0].received_at + gather
        left = until - time.time()
        while left > 0 and not self.stopping:
            readable, _, _ = select.select([listener], [], [], left)
            if readable and _drain(listener):
                break
            left = until - time.time()
        return True

    def _room(self, group: list[Decoded]) -> int:
        """Items a gathered group may still take (at least one entry is always read)."""
        return max(self.settings.projector_group_items - _items(group), 1)

    def apply(self, decoded: list[Decoded]) -> None:
        """Apply entries and move the position, in one store transaction; entry by entry, and
        message by message, when the store refuses something of the group."""
        try:
            store_transaction(self.engines, lambda: self._apply_group(decoded), f"{len(decoded)} journal entries")
        except StoreUnavailable:
            raise
        except Exception as exc:
            log.warning("the store refused a group of %d entries (%s); applying them one by one", len(decoded), exc)
            for one in decoded:
                store_transaction(self.engines, lambda one=one: self._apply_carefully(*one), f"entry {one[0].seq}")  # type: ignore[misc]

    def _apply_group(self, decoded: list[Decoded]) -> None:
        with self.engines.writer.begin() as conn:
            tx = MessageApplier(conn, decoded[-1][1][-1].received_at)
            for project_id in sorted({entry.project_id for entry, _ in decoded}):
                ours = [d for entry, parts in decoded if entry.project_id == project_id for d in parts]
                tx.set_timezone(project_id, ours[-1].timezone)
                messages = [m for d in ours for m in d.messages]
                received = [d.received_at for d in ours for _ in d.messages]
                tx.apply(project_id, messages, received)
                tx.reject([row for d in ours for row in d.rejections])
            _save_position(conn, self.journal.journal_id, decoded[-1][0].seq)

    def _apply_carefully(self, entry: Entry, parts: list[journal_codec.Decoded]) -> None:
        """One entry, each message under its own savepoint; the ones the store refuses are kept
        in rejected_items with its reason."""
        refused: list[dict[str, Any]] = []
        with self.engines.writer.begin() as conn:
            for decoded in parts:
                for index, message in enumerate(decoded.messages):
                    savepoint = conn.begin_nested()
                    try:
                        # A fresh applier each time: what one caches (ids of rows it created)
                        # must not outlive a savepoint rolled back.
                        tx = MessageApplier(conn, decoded.received_at)
                        tx.set_timezone(entry.project_id, decoded.timezone)
                        tx.apply(entry.project_id, [message], [decoded.received_at])
                        savepoint.commit()
                    except DBAPIError as exc:
                        if exc.connection_invalidated:
                            raise
                        savepoint.rollback()
                        refused.append(_refused(entry, decoded, index, message, exc))
            tx = MessageApplier(conn, parts[-1].received_at)
            tx.reject([row for decoded in parts for row in decoded.rejections] + refused)
            _save_position(conn, self.journal.journal_id, entry.seq)
        for row in refused:
            log.warning(
                "the store refused item %s of journal entry %d: %s", row["item_index"], entry.seq, row["reason"]
            )

    def _tell_journal(self, position: int, rate: float = 0.0) -> None:
        """Tell the journal what the store now holds (reads wait for it) and delete it there.
        Should the journal's disk be full, the store keeps the truth and the next group says it."""
        try:
            self.journal.projected_through(position, rate)
        except sqlite3.OperationalError as exc:
            log.error("the journal cannot be written (applied through %d, saying so later): %s", position, exc)
        self._checkpoint()

    def _checkpoint(self) -> None:
        """The journal's WAL copied into its file (ingest/journal.py `checkpoint`), at most every
        CHECKPOINT_SECONDS: each costs an fsync of the journal file."""
        now = time.monotonic()
        if now - self._checkpointed_at < CHECKPOINT_SECONDS:
            return
        self._checkpointed_at = now
        try:
            self.journal.checkpoint()
        except sqlite3.OperationalError as exc:
            log.error("the journal cannot be checkpointed: %s", exc)

    def _load_position(self) -> int:
        with self.engines.reader.connect() as conn:
            found = conn.execute(
                sql_select(journal_positions.c.position).where(
                    journal_positions.c.journal_id == self.journal.journal_id
                )
            ).scalar()
        return int(found or 0)

    def _rate(self, began: float, items: int) -> float:
        """Items applied per second over the groups of the last ten seconds, from the start of
        the oldest of them (waits between groups count: it is the rate the journal drains at)."""
        now = time.monotonic()
        self._applied.append((began, items))
        while len(self._applied) > 1 and self._applied[0][0] < now - 10:
            self._applied.popleft()
        span = max(now - self._applied[0][0], 0.001)
        return sum(n for _, n in self._applied) / span


def _items(group: list[Decoded]) -> int:
    return sum(entry.items for entry, _ in group)


def _save_position(conn: Connection, journal_id: str, position: int) -> None:
    """The journal's position, in the caller's transaction (one projector per journal: no race)."""
    values = {"position": position, "updated_at": utcnow()}
    updated = conn.execute(
        journal_positions.update().where(journal_positions.c.journal_id == journal_id).values(values)
    )
    if updated.rowcount == 0:
        conn.execute(journal_positions.insert().values(journal_id=journal_id, **values))


def _refused(
    entry: Entry, decoded: journal_codec.Decoded, index: int, message: Message, exc: DBAPIError
) -> dict[str, Any]:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    raw = {
        "kind": str(message.kind),
        "contact_uid": message.contact_uid,
        "account_uid": message.account_uid,
        "event_uid": message.event_name,
        "alias": message.alias,
        "params": message.params,
        "messageId": message.message_id,
    }
    return {
        "project_id": entry.project_id,
        "received_at": decoded.received_at,
        "path": "journal",
        "item_index": index,
        "raw": orjson.dumps({k: v for k, v in raw.items() if v is not None}, default=str).decode(),
        "code": "store_refused",
        "field": None,
        "reason": f"the store refused the item: {reason}",
    }


def _wait(listener: socket.socket, seconds: float) -> bool:
    """Wait for a datagram, at most `seconds`; True when a read asked to hurry."""
    select.select([listener], [], [], seconds)
    return _drain(listener)


def _drain(listener: socket.socket) -> bool:
    """Read every datagram waiting; True when one of them was a read's `HURRY`."""
    hurried = False
    try:
        while True:
            hurried |= listener.recv(64) == HURRY
    except (BlockingIOError, InterruptedError):
        pass
    return hurried


def main(settings: Settings) -> int:
    """The projector process: claim the journal (waiting while another process holds it),
    apply it until SIGTERM, then what is left of it, and return the exit code."""
    path = journal_path(settings.database_url, settings.journal_path)
    journal = Journal(path)
    projector: Projector | None = None

    def stop(_signum: int, _frame: object) -> None:
        if projector is not None:
            projector.stopping = True
        else:
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the supervisor decides
    listener = claim(path)
    while listener is None:
        time.sleep(1.0)  # another server's projector applies this journal; take over when it goes
        listener = claim(path)
    engines = open_engines(settings.database_url)
    projector = Projector(settings, engines, journal)
    log.info("projecting %s (journal %s)", path, journal.journal_id)
    while True:
        try:
            projector.run(listener)
            break
        except StoreUnavailable as exc:  # reading the position failed: the store is down at start
            if projector.stopping:
                break
            log.error("store unavailable at start, retrying: %s", exc)
            time.sleep(1.0)
    engines.dispose()
    return 0
