"""The background thread that turns the outbox into requests.

One thread per client, so batches leave in the order the calls were made: the server applies
items in order, and a contact created before its first event should arrive before it too.
"""

from __future__ import annotations

import logging
import threading
from typing import Optional

from salesmachine.delivery import OnError, Sender, deliver
from salesmachine.outbox import Outbox

log = logging.getLogger("salesmachine")


class Consumer(threading.Thread):
    """Takes batches from the outbox and delivers them until asked to stop.

    A daemon thread, so a forgotten client never keeps a program alive; the client's atexit
    hook is what gives queued messages their chance to leave.
    """

    def __init__(
        self,
        outbox: Outbox,
        sender: Sender,
        on_error: Optional[OnError],
        upload_size: int,
        max_batch_bytes: int,
        upload_interval: float,
    ) -> None:
        super().__init__(name="salesmachine-consumer", daemon=True)
        self.outbox = outbox
        self.sender = sender
        self.on_error = on_error
        self.upload_size = upload_size
        self.max_batch_bytes = max_batch_bytes
        self.upload_interval = upload_interval
        self._stopping = threading.Event()
        self._abandoned = threading.Event()

    def run(self) -> None:
        log.debug("consumer started")
        while True:
            batch = self.outbox.take(
                self.upload_size, self.max_batch_bytes, self.upload_interval, self._stopping.is_set
            )
            if not batch:
                break
            try:
                deliver(self.sender, batch, self.on_error, self._abandoned)
            finally:
                self.outbox.done(len(batch))
            if self._abandoned.is_set():
                break
        log.debug("consumer stopped")

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """Send what is queued without waiting to fill batches, then end."""
        self._stopping.set()
        self.outbox.wake()

    def abandon(self) -> None:
        """Stop retrying and end after the batch in hand (a shutdown whose time ran out):
        a thread retrying forever behind a closed client helps nobody."""
        self._abandoned.set()
        self.stop()
