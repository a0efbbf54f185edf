"""Getting one batch to the server: retries, backoff, and who hears about failures.

A batch is sent until the server acknowledges it, refuses it for good, or the retries run
out. Every attempt carries the very same items (same messageId), so a batch the server
stored but whose answer was lost is not stored twice; only `sent_at` is renewed, because the
server subtracts it from its own clock to correct the client's.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable, Optional

from salesmachine.encoding import now_timestamp, stamp_sent_at
from salesmachine.errors import RejectedItems, SalesmachineError
from salesmachine.transport import Answer, post

log = logging.getLogger("salesmachine")

OnError = Callable[[Exception, list[dict[str, Any]]], Any]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits between half and all of
    `min(cap, base * 2**n)` seconds, or what the server's Retry-After asks if that is longer.

    Half-fixed, half-random ("equal jitter") keeps clients that failed together from
    returning together, while never retrying almost at once the way full jitter can.
    """

    base: float = 0.5
    cap: float = 30.0
    max_retries: int = 10

    def delay(self, retry: int, retry_after: Optional[float] = None) -> float:
        ceiling = min(self.cap, self.base * 2.0 ** min(retry, 32))
        jittered = ceiling / 2 + random.uniform(0, ceiling / 2)
        return max(jittered, retry_after or 0.0)


@dataclass(frozen=True)
class Item:
    """A message as queued: the dict (for on_error) and its JSON, encoded once."""

    message: dict[str, Any]
    encoded: bytes
    queued_at: float  # time.monotonic()


def batch_body(items: Sequence[Item], sent_at: str) -> bytes:
    """The bare JSON array the document's /v1/batch takes, each item stamped with `sent_at`."""
    return b"[" + b",".join(stamp_sent_at(item.encoded, sent_at) for item in items) + b"]"


class Sender:
    """Sends batches to `{host}/v1/batch` with the client's credentials and retry policy."""

    def __init__(self, url: str, authorization: str, timeout: float, backoff: Backoff) -> None:
        self.url = url
        self.authorization = authorization
        self.timeout = timeout
        self.backoff = backoff

    def send(self, items: Sequence[Item], give_up: Optional[threading.Event] = None) -> Answer:
        """Send until acknowledged. Raises the last SalesmachineError when the server refused
        the batch (a 4xx other than 408/429), the retries are spent, or `give_up` is set
        (a shutdown whose time ran out) while waiting to retry."""
        retry = 0
        while True:
            try:
                answer = post(self.url, batch_body(items, now_timestamp()), self.authorization, self.timeout)
                log.debug("sent %d message(s): %s %s", len(items), answer.status, answer.body)
                return answer
            except SalesmachineError as exc:
                if not exc.retryable or retry >= self.backoff.max_retries or (give_up and give_up.is_set()):
                    raise
                wait = self.backoff.delay(retry, getattr(exc, "retry_after", None))
                retry += 1
                log.warning(
                    "salesmachine: sending %d message(s) failed (%s); retry %d of %d in %.2fs",
                    len(items), exc, retry, self.backoff.max_retries, wait,
                )
                if give_up is None:
                    time.sleep(wait)
                elif give_up.wait(wait):
                    raise


def report(on_error: Optional[OnError], error: Exception, messages: list[dict[str, Any]]) -> None:
    """Tell the application a batch (or part of it) will never be stored."""
    log.error("salesmachine: %d message(s) not stored: %s", len(messages), error)
    if on_error is None:
        return
    try:
        on_error(error, messages)
    except Exception:  # noqa: BLE001 - a faulty callback must not stop the sending thread
        log.exception("salesmachine: on_error raised")


def deliver(
    sender: Sender, items: Sequence[Item], on_error: Optional[OnError], give_up: Optional[threading.Event] = None
) -> None:
    """Send a batch from the background thread: never raises, reports every loss."""
    try:
        answer = sender.send(items, give_up)
    except SalesmachineError as exc:
        report(on_error, exc, [item.message for item in items])
        return
    except Exception as exc:  # noqa: BLE001 - an unforeseen fault loses this batch, not the thread
        log.exception("salesmachine: unexpected error sending %d message(s)", len(items))
        report(on_error, exc, [item.message for item in items])
        return
    report_rejections(answer, items, on_error)


def report_rejections(answer: Answer, items: Sequence[Item], on_error: Optional[OnError]) -> None:
    """A 201 may still name items the server refused: those go to on_error, alone."""
    rejected = answer.rejected
    if not rejected:
        return
    refused = [
        items[entry["index"]].message
        for entry in rejected
        if isinstance(entry.get("index"), int) and 0 <= entry["index"] < len(items)
    ]
    report(on_error, RejectedItems(rejected), refused)
