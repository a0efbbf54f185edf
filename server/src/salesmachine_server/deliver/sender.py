"""The sender: a periodic task of `salesmachine serve` (serving/periodic.py) that sends what is
due, every second or so, under a lease (one process of those sharing a database at a time).

Each run claims the due deliveries in batches (store/records/deliveries.claim_due: a claim
holds a delivery for `claim_seconds`, long enough for the slowest attempt), sends each batch on
a few threads (a slow receiver does not hold the others up), and records every attempt with
the delivery's next state: delivered, a retry at its backoff time (deliver/backoff.py), or
failed once its retry window is over (or at once, for an address refused). A fault of ours while
sending is recorded as the attempt's error too: no delivery ends without a line saying why.

A server killed while sending leaves its claims behind; they run out, and the next run (here,
or in another process, or after the restart) sends those deliveries again. So a delivery goes
out at least once, and twice only when a sender died between sending and recording: receivers
deduplicate by the `Salesmachine-Delivery` header, the same on every attempt (docs/deliveries.md).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from prometheus_client import Counter
from sqlalchemy import Engine

from salesmachine_server.deliver.backoff import Backoff
from salesmachine_server.deliver.mail import send_mail
from salesmachine_server.deliver.outcome import Sent
from salesmachine_server.deliver.webhooks import send_slack, send_webhook
from salesmachine_server.settings import Settings
from salesmachine_server.store.records.deliveries import (
    DELIVERED,
    FAILED,
    PENDING,
    Attempt,
    Claimed,
    any_due,
    claim_due,
    record_attempt,
    release_claim,
)
from salesmachine_server.store.records.projects import utcnow
from salesmachine_server.store.records.smtp_settings import load_smtp

log = logging.getLogger("salesmachine.deliveries")

ATTEMPTS = Counter(
    "salesmachine_delivery_attempts_total",
    "Delivery attempts by this process, by channel and what came of them",
    ["channel", "outcome"],
)  # delivered, retry, failed

BATCH = 20
THREADS = 4


@dataclass(frozen=True, slots=True)
class SenderSettings:
    allow_private: bool
    timeout: float
    backoff: Backoff
    ca_file: str = ""

    @classmethod
    def of(cls, settings: Settings) -> SenderSettings:
        return cls(
            allow_private=settings.delivery_allow_private_networks,
            timeout=settings.delivery_timeout_seconds,
            backoff=Backoff(
                settings.delivery_backoff_base_seconds,
                settings.delivery_backoff_max_seconds,
                settings.delivery_retry_window_seconds,
            ),
            ca_file=settings.delivery_ca_file,
        )

    @property
    def claim_seconds(self) -> float:
        """How long a claim holds: the slowest attempt (an SMTP conversation is several steps,
        each with its own timeout), and a margin."""
        return 6 * self.timeout + 5


def send_due(writer: Engine, reader: Engine, settings: SenderSettings, stop: threading.Event) -> str:
    """Send every delivery due now (the periodic task's body); what it did, in words ("" when
    nothing was due)."""
    counts = {DELIVERED: 0, PENDING: 0, FAILED: 0}
    while not stop.is_set():
        now = utcnow()
        if not any_due(reader, now):  # a read, so that an idle server takes no write lock every second
            break
        claimed = claim_due(writer, now, timedelta(seconds=settings.claim_seconds), BATCH)
        if not claimed:
            break
        with ThreadPoolExecutor(max_workers=min(THREADS, len(claimed)), thread_name_prefix="delivery") as pool:
            for status in pool.map(lambda one: _unless_stopped(writer, reader, settings, one, stop), claimed):
                if status is not None:
                    counts[status] += 1
    if not any(counts.values()):
        return ""  # nothing was due: nothing to log
    return f"{counts[DELIVERED]} delivered, {counts[PENDING]} to retry, {counts[FAILED]} failed"


def _unless_stopped(
    writer: Engine, reader: Engine, settings: SenderSettings, claimed: Claimed, stop: threading.Event
) -> str | None:
    """Attempt it, unless the server is stopping (or the lease was lost): then give it back
    unsent, so that the next sender takes it at once rather than when the claim runs out."""
    if stop.is_set():
        release_claim(writer, claimed)
        return None
    return attempt(writer, reader, settings, claimed)


def attempt(writer: Engine, reader: Engine, settings: SenderSettings, claimed: Claimed) -> str:
    """Send one claimed delivery and record the attempt; the status it is left in."""
    started = utcnow()
    clock = time.monotonic()
    try:
        sent = _send(reader, settings, claimed)
    except Exception as exc:  # a fault of ours: recorded as this attempt's error, retried
        log.exception("delivery %s: sending failed", claimed.id)
        sent = Sent({"channel": claimed.channel}, error=f"a fault of the server while sending: {exc!r}")
    duration_ms = (time.monotonic() - clock) * 1000
    if sent.error is None:
        status, next_at = DELIVERED, None
    elif sent.permanent:
        status, next_at = FAILED, None
    else:
        next_at = settings.backoff.next_attempt(utcnow(), claimed.retry_from, claimed.attempts + 1)
        status = PENDING if next_at is not None else FAILED
    error = sent.error
    if status == FAILED and not sent.permanent:
        error = f"gave up after {claimed.attempts + 1} attempts: {sent.error}"
    record_attempt(
        writer,
        claimed,
        Attempt(started, duration_ms, sent.request, sent.response_status, sent.response_body, error),
        status,
        next_at,
    )
    outcome = {DELIVERED: "delivered", PENDING: "retry", FAILED: "failed"}[status]
    ATTEMPTS.labels(claimed.channel, outcome).inc()
    if status == FAILED:
        log.warning("delivery %s (%s) failed: %s", claimed.id, claimed.channel, error)
    return status


def _send(reader: Engine, settings: SenderSettings, claimed: Claimed) -> Sent:
    if claimed.channel in ("webhook", "slack"):
        send = send_webhook if claimed.channel == "webhook" else send_slack
        return send(
            claimed.id,
            claimed.target,
            claimed.payload,
            allow_private=settings.allow_private,
            timeout=settings.timeout,
            ca_file=settings.ca_file,
        )
    if claimed.channel == "email":
        smtp = load_smtp(reader, claimed.project_id)
        return send_mail(
            claimed.id, claimed.target, claimed.payload, smtp, timeout=settings.timeout, ca_file=settings.ca_file
        )
    return Sent({"channel": claimed.channel}, error=f"no channel is named {claimed.channel!r}", permanent=True)
