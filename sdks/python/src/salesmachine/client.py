"""The client the API document shows: `Client(TOKEN, SECRET)`, then set_contact and friends.

Calls return at once: each message is checked, encoded and queued, and a background thread
sends the queue to `{host}/v1/batch` in batches. A web request that records an event should
not wait on the network, and a server that is down for a minute should cost nothing but a
little memory.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Optional

from salesmachine import messages
from salesmachine.consumer import Consumer
from salesmachine.delivery import Backoff, Item, OnError, Sender, report, report_rejections
from salesmachine.encoding import SENT_AT_BYTES, encode
from salesmachine.errors import ClientClosed, QueueFull, SalesmachineError
from salesmachine.messages import Uid
from salesmachine.outbox import Outbox
from salesmachine.transport import basic_auth

log = logging.getLogger("salesmachine")

# Our own server by default: a self-hosted client must never send data to the vendor by
# accident. Set SALESMACHINE_HOST (or pass host=) to point it elsewhere.
DEFAULT_HOST = "http://127.0.0.1:8080"
HOST_ENV = "SALESMACHINE_HOST"
# The server refuses a single item larger than this (its max_item_bytes).
MAX_ITEM_BYTES = 64 * 1024
# The server takes at most this many items in one batch (its max_batch_items).
MAX_UPLOAD_SIZE = 2500


class Client:
    """Sends contacts, accounts, events, pageviews and aliases to a Salesmachine server.

    The first seven parameters are those of the original salesmachine-python, in its order,
    so code written for it runs unchanged; the rest are keyword-only.

    - `host` (or its synonym `url`): the server, default `$SALESMACHINE_HOST`, else
      http://127.0.0.1:8080.
    - `send=False` checks and builds messages but sends nothing (for development).
    - `sync_mode=True` sends each call inline, with retries, and raises the final error when
      there is no `on_error` (for scripts and tests).
    - `on_error(exception, messages)` hears about every message that will never be stored.
    - `max_queue_size`: messages waiting beyond this are dropped with a logged warning, or,
      with `block_when_full=True`, the call waits for room.
    - A batch leaves when it holds `upload_size` messages or `max_batch_bytes`, or when its
      first message has waited `upload_interval` seconds.
    - Failed requests are retried `max_retries` times, waiting `backoff_base * 2**n` seconds
      (half of it random, at most `backoff_max`, at least the server's Retry-After).
    - At exit, queued messages get `shutdown_timeout` seconds to leave.
    """

    def __init__(
        self,
        key: str,
        secret: Optional[str] = None,
        url: Optional[str] = None,
        debug: bool = False,
        max_queue_size: int = 10000,
        send: bool = True,
        on_error: Optional[OnError] = None,
        *,
        host: Optional[str] = None,
        sync_mode: bool = False,
        block_when_full: bool = False,
        upload_size: int = 100,
        upload_interval: float = 0.5,
        max_batch_bytes: int = 500_000,
        timeout: float = 15.0,
        max_retries: int = 10,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        shutdown_timeout: float = 5.0,
    ) -> None:
        if not isinstance(key, str) or not key.strip():
            raise ValueError("key (the project's API token) is required, e.g. Client(YOUR_API_TOKEN, YOUR_API_SECRET)")
        if secret is not None and not isinstance(secret, str):
            raise TypeError(f"secret must be a str or None, got {type(secret).__name__}")
        if on_error is not None and not callable(on_error):
            raise TypeError("on_error must be a callable taking (exception, messages)")
        _check_number("max_queue_size", max_queue_size, minimum=1, integer=True)
        _check_number("upload_size", upload_size, minimum=1, maximum=MAX_UPLOAD_SIZE, integer=True)
        _check_number("upload_interval", upload_interval, minimum=0)
        _check_number("max_batch_bytes", max_batch_bytes, minimum=MAX_ITEM_BYTES, integer=True)
        _check_number("timeout", timeout, minimum=0.001)
        _check_number("max_retries", max_retries, minimum=0, integer=True)
        _check_number("backoff_base", backoff_base, minimum=0)
        _check_number("backoff_max", backoff_max, minimum=0)
        _check_number("shutdown_timeout", shutdown_timeout, minimum=0)

        self.key = key
        self.secret = secret
        self.host = resolve_host(host, url)
        self.debug = debug
        self.send = send
        self.sync_mode = sync_mode
        self.on_error = on_error
        self.max_queue_size = max_queue_size
        self.block_when_full = block_when_full
        self.upload_size = upload_size
        self.upload_interval = upload_interval
        self.max_batch_bytes = max_batch_bytes
        self.shutdown_timeout = shutdown_timeout
        #: Messages dropped because the queue was full, since the client was made.
        self.dropped = 0

        self._sender = Sender(
            f"{self.host}/v1/batch",
            basic_auth(key, secret),
            timeout,
            Backoff(base=backoff_base, cap=backoff_max, max_retries=max_retries),
        )
        self._lock = threading.Lock()
        self._outbox = Outbox(max_queue_size)
        self._consumer: Optional[Consumer] = None
        self._closed = False
        self._dropping = 0  # drops since the queue last had room, for one warning per streak

        if debug:
            _log_debug()
        if send and not sync_mode:
            atexit.register(self._at_exit)
        _clients.add(self)

    # -- the API document's calls -------------------------------------------------------

    def set_contact(
        self,
        contact_uid: Uid,
        params: Optional[Mapping[str, Any]] = None,
        *,
        created_at: Optional[datetime] = None,
        message_id: Optional[str] = None,
    ) -> dict[str, Any]:
        """Create or update a contact; `params` are merged into what is stored (a key sent as
        None is removed). `params["account_uid"]` adds the contact to that account."""
        return self._enqueue(messages.contact(contact_uid, params, created_at, message_id))

    def set_account(
        self,
        account_uid: Uid,
        params: Optional[Mapping[str, Any]] = None,
        *,
        created_at: Optional[datetime] = None,
        message_id: Optional[str] = None,
    ) -> dict[str, Any]:
        """Create or update an account (a company or project grouping contacts)."""
        return self._enqueue(messages.account(account_uid, params, created_at, message_id))

    def track_event(
        self,
        contact_uid: Uid,
        event_uid: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        created_at: Optional[datetime] = None,
        message_id: Optional[str] = None,
    ) -> dict[str, Any]:
        """Record that a contact did something, e.g. "user_registration"."""
        return self._enqueue(messages.event(contact_uid, event_uid, params, created_at, message_id))

    def track_pageview(
        self,
        contact_uid: Uid,
        params: Optional[Mapping[str, Any]] = None,
        *,
        created_at: Optional[datetime] = None,
        message_id: Optional[str] = None,
    ) -> dict[str, Any]:
        """Record a page load (an event named "pageview"); `visit_url`, `visit_ip` and
        `visit_agent` in params are what the server reads."""
        return self._enqueue(messages.pageview(contact_uid, params, created_at, message_id))

    def alias(
        self,
        contact_uid: Uid,
        alias: Uid,
        *,
        created_at: Optional[datetime] = None,
        message_id: Optional[str] = None,
    ) -> dict[str, Any]:
        """Declare that two uids are one contact: the server merges their fields and history."""
        return self._enqueue(messages.alias(contact_uid, alias, created_at, message_id))

    # -- lifecycle ----------------------------------------------------------------------

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Send what is queued now, and wait until each message is stored or has finally
        failed (and gone to on_error). False if `timeout` seconds passed first."""
        if self.sync_mode or not self.send:
            return True
        if self._outbox.unfinished:
            self._ensure_consumer()  # after join(), the thread is gone
        return self._outbox.flush(timeout)

    def join(self, timeout: Optional[float] = None) -> bool:
        """Send what is queued, then end the sending thread (a later call starts another).
        False if it was still busy after `timeout` seconds."""
        with self._lock:
            consumer = self._consumer
        if consumer is None:
            return self._outbox.unfinished == 0
        consumer.stop()
        consumer.join(timeout)
        return not consumer.is_alive() or self._outbox.unfinished == 0

    def shutdown(self, timeout: Optional[float] = None) -> bool:
        """Send what is queued within `timeout` seconds (default `shutdown_timeout`), then
        stop for good: later calls are dropped with a warning. What could not be sent in
        time is logged and given to on_error. Runs at exit by itself."""
        timeout = self.shutdown_timeout if timeout is None else timeout
        self._closed = True
        atexit.unregister(self._at_exit)
        if self.sync_mode or not self.send:
            return True
        if self.join(timeout):
            return True
        log.warning(
            "salesmachine: %d message(s) were not sent to %s within %.1fs of shutdown and are lost",
            self._outbox.unfinished, self.host, timeout,
        )
        with self._lock:
            consumer = self._consumer
        if consumer is not None:
            consumer.abandon()  # the batch in hand goes to on_error when its attempt ends
        lost = self._outbox.drain()
        if lost:
            self._tell(ClientClosed("the client was shut down before these were sent"), [i.message for i in lost])
        return False

    @property
    def queued(self) -> int:
        """Messages accepted but not yet stored or given up on (in the queue or in flight)."""
        return self._outbox.unfinished

    # -- inside ---------------------------------------------------------------------------

    def _enqueue(self, message: dict[str, Any]) -> dict[str, Any]:
        encoded = encode(message)
        if len(encoded) + SENT_AT_BYTES > MAX_ITEM_BYTES:
            raise ValueError(
                f"this {message['method']} is {len(encoded)} bytes as JSON; the server takes at most "
                f"{MAX_ITEM_BYTES} bytes per message: send less in params"
            )
        if not self.send:
            log.debug("send=False, not sending %s", message)
            return message
        if self._closed:
            log.warning("salesmachine: the client was shut down; %s %s is not sent", message["method"], message["messageId"])
            self._tell(ClientClosed("the client was shut down"), [message])
            return message
        item = Item(message, encoded, time.monotonic())
        if self.sync_mode:
            self._send_now(item)
            return message
        self._ensure_consumer()
        if self._outbox.put(item, block=self.block_when_full):
            if self._dropping:
                with self._lock:
                    dropped, self._dropping = self._dropping, 0
                if dropped:
                    log.warning("salesmachine: the queue has room again; %d message(s) were dropped", dropped)
            return message
        self._drop(message)
        return message

    def _drop(self, message: dict[str, Any]) -> None:
        with self._lock:
            self.dropped += 1
            self._dropping += 1
            first = self._dropping == 1
        if first:
            log.warning(
                "salesmachine: the queue is full (%d messages waiting for %s); dropping new messages "
                "until there is room. Is the server reachable? Raise max_queue_size, or pass "
                "block_when_full=True to wait instead.",
                self.max_queue_size, self.host,
            )
        self._tell(QueueFull(self.max_queue_size), [message])

    def _tell(self, error: Exception, messages: list[dict[str, Any]]) -> None:
        if self.on_error is None:
            return
        try:
            self.on_error(error, messages)
        except Exception:  # noqa: BLE001 - the caller's call must not fail for its callback
            log.exception("salesmachine: on_error raised")

    def _send_now(self, item: Item) -> None:
        try:
            answer = self._sender.send([item])
        except SalesmachineError as exc:
            if self.on_error is None:
                raise
            report(self.on_error, exc, [item.message])
            return
        report_rejections(answer, [item], self.on_error)

    def _ensure_consumer(self) -> None:
        with self._lock:
            consumer = self._consumer
            if consumer is not None and consumer.is_alive() and not consumer.stopping:
                return
            self._consumer = Consumer(
                self._outbox, self._sender, self.on_error, self.upload_size, self.max_batch_bytes, self.upload_interval
            )
            self._consumer.start()

    def _after_fork(self) -> None:
        """In a forked child the sending thread did not come along, and the lock and queue
        may have been copied mid-use: start afresh. The parent sends what it had queued."""
        self._lock = threading.Lock()
        self._outbox = Outbox(self.max_queue_size)
        self._consumer = None
        self._dropping = 0

    def _at_exit(self) -> None:
        try:
            self.shutdown(self.shutdown_timeout)
        except Exception:  # noqa: BLE001 - never turn a clean exit into a traceback
            log.exception("salesmachine: shutdown at exit failed")


# Every live client, to be made whole again in a forked child (gunicorn workers,
# multiprocessing): weak, so that this registry keeps no client alive.
_clients: weakref.WeakSet[Client] = weakref.WeakSet()


def _reset_clients_after_fork() -> None:
    for client in list(_clients):
        client._after_fork()


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_reset_clients_after_fork)


def resolve_host(host: Optional[str] = None, url: Optional[str] = None) -> str:
    """The server's base address: `host=` (or `url=`), else $SALESMACHINE_HOST, else ours.

    Forgiving about form, since it is typed by hand: no scheme means http, and a trailing
    slash or `/v1` (as in the vendor's `https://api.salesmachine.io/v1`) is dropped.
    """
    if host and url and host.rstrip("/") != url.rstrip("/"):
        raise ValueError("give the server address as host= or url=, not both")
    address = host or url or os.environ.get(HOST_ENV) or DEFAULT_HOST
    if not isinstance(address, str):
        raise TypeError(f"host must be a str, got {type(address).__name__}")
    address = address.strip().rstrip("/")
    if "://" not in address:
        address = "http://" + address
    scheme = address.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"host must be an http:// or https:// address, got {address!r}")
    if address.endswith("/v1"):
        address = address[: -len("/v1")]
    return address


def _check_number(name: str, value: Any, minimum: float, maximum: Optional[float] = None, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise TypeError(f"{name} must be {'an int' if integer else 'a number'}, got {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValueError(f"{name} must be {bounds}, got {value}")


def _log_debug() -> None:
    """debug=True: show the client's log, even in a program that configured no logging."""
    log.setLevel(logging.DEBUG)
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        log.addHandler(handler)
