"""The bounded queue between the application's threads and the sending thread.

`queue.Queue` cannot take "up to 100 items or 500 KB, whichever first, but wait no longer
than half a second for them", nor wake early when someone calls flush(), nor say when what
was queued before a flush() has been dealt with. This one does all three under one lock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Optional

from salesmachine.delivery import Item
from salesmachine.encoding import SENT_AT_BYTES


class Outbox:
    """A FIFO of at most `capacity` items, with counters that make flush() exact.

    `accepted` counts items ever put, `finished` items the sender is done with (stored or
    given up). Items leave in order through one sender, so "everything put before this
    flush() is finished" is simply `finished >= accepted-at-that-moment`.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: deque[Item] = deque()
        self._bytes = 0
        self._lock = threading.Condition()
        self.accepted = 0
        self.finished = 0
        self._taken = 0
        # Items up to this count are wanted now (by a flush): send them without lingering.
        self._hurry_until = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def unfinished(self) -> int:
        return self.accepted - self.finished

    def put(self, item: Item, block: bool) -> bool:
        """Queue `item`; when full, wait for room if `block`, else return False."""
        with self._lock:
            if len(self._items) >= self.capacity:
                if not block:
                    return False
                self._lock.wait_for(lambda: len(self._items) < self.capacity)
            self._items.append(item)
            self._bytes += len(item.encoded)
            self.accepted += 1
            self._lock.notify_all()
            return True

    def take(self, max_items: int, max_bytes: int, linger: float, stopping: Callable[[], bool]) -> list[Item]:
        """The next batch: waits for a first item, then up to `linger` seconds after it was
        queued for the batch to fill, unless a flush or `stopping()` wants it now. An empty
        list means `stopping()` and nothing left."""
        with self._lock:
            self._lock.wait_for(lambda: self._items or stopping())
            if not self._items:
                return []
            deadline = self._items[0].queued_at + linger
            while not (
                len(self._items) >= max_items
                or self._batch_bytes_queued() >= max_bytes
                or self._hurry_until > self._taken
                or stopping()
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._lock.wait(remaining)
            batch: list[Item] = []
            size = 2  # the brackets of the JSON array
            while self._items and len(batch) < max_items:
                item_size = len(self._items[0].encoded) + SENT_AT_BYTES + 1
                if batch and size + item_size > max_bytes:
                    break
                batch.append(self._items.popleft())
                size += item_size
                self._bytes -= len(batch[-1].encoded)
            self._taken += len(batch)
            self._lock.notify_all()  # room for blocked producers
            return batch

    def done(self, count: int) -> None:
        """The sender is finished with `count` items, whatever became of them."""
        with self._lock:
            self.finished += count
            self._lock.notify_all()

    def flush(self, timeout: Optional[float]) -> bool:
        """Wait until every item put so far is finished; False if `timeout` ran out first."""
        with self._lock:
            target = self.accepted
            self._hurry_until = max(self._hurry_until, target)
            self._lock.notify_all()
            return self._lock.wait_for(lambda: self.finished >= target, timeout)

    def drain(self) -> list[Item]:
        """Remove and return everything queued, counted as finished (a shutdown gave up)."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
            self._bytes = 0
            self._taken += len(items)
            self.finished += len(items)
            self._lock.notify_all()
            return items

    def wake(self) -> None:
        """Make a waiting `take` look at `stopping()` again."""
        with self._lock:
            self._lock.notify_all()

    def _batch_bytes_queued(self) -> int:
        return self._bytes + len(self._items) * (SENT_AT_BYTES + 1) + 2
