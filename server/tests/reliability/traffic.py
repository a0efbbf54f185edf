"""A load of write calls from client threads, recording which messages were acknowledged.

Every message carries its own messageId, so that afterwards the store can be checked against
the answers: each message whose request got a 2xx must be stored exactly once, and no message
may be stored twice whatever happened to its request. Contact messages name a contact after
their messageId; events and pageviews keep it in `events.message_id`.

Used by the crash, outage, shutdown and load tests, and by bench/soak.py.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from salesmachine_server.store.db.engine import normalise_url
from tests.support import wait_for_projection

EVENT_KINDS = ("event", "pageview")


@dataclass(frozen=True)
class Sent:
    message_id: str
    kind: str  # contact, event or pageview


@dataclass
class Outcome:
    """What the clients saw: messages acknowledged (2xx) or not, and every status."""

    acknowledged: list[Sent] = field(default_factory=list)
    unanswered: list[Sent] = field(default_factory=list)  # no 2xx: may or may not be stored
    statuses: Counter[str] = field(default_factory=Counter)
    surprises: list[str] = field(default_factory=list)  # answers no test expects (500, ...)
    retry_after_seen: set[str] = field(default_factory=set)
    answered_after: list[float] = field(default_factory=list)  # monotonic times of 2xx answers

    def merge(self, other: Outcome) -> None:
        self.acknowledged += other.acknowledged
        self.unanswered += other.unanswered
        self.statuses.update(other.statuses)
        self.surprises += other.surprises
        self.retry_after_seen |= other.retry_after_seen
        self.answered_after += other.answered_after

    def requests_acknowledged(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith("2") and "read" not in status)


class Traffic:
    """`threads` clients sending a mix of single calls and batches until stopped.

    `retry`: a request answered 503 or not answered at all is sent again, same body, same
    messageIds, after `Retry-After` (capped at 1 s), until it gets an answer that is not 503;
    this is what a well-behaved client does, and what makes an outage lossless.
    `rate`: requests per second per thread (None: as fast as answers come).
    `requests_per_thread`: stop each thread after this many requests (None: until stop()).
    `expected`: statuses that are not surprises (2xx always is).
    `secret` and `read_share`: that share of the requests read (profiles, lists, timelines).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        prefix: str,
        threads: int = 4,
        seed: int = 0,
        retry: bool = False,
        rate: float | None = None,
        requests_per_thread: int | None = None,
        expected: tuple[int, ...] = (),
        retry_deadline: float = 60.0,
        close_every: int = 0,
        secret: str | None = None,
        read_share: float = 0.0,
    ) -> None:
        self.base_url = base_url
        self.token = token
        self.prefix = prefix
        self.threads = threads
        self.seed = seed
        self.retry = retry
        self.rate = rate
        self.requests_per_thread = requests_per_thread
        self.expected = expected
        self.retry_deadline = retry_deadline
        self.close_every = close_every  # every Nth request on a new connection (0: never)
        self.secret = secret  # with it, `read_share` of the requests are reads
        self.read_share = read_share
        self._stop = threading.Event()
        self._outcomes = [Outcome() for _ in range(threads)]
        self._workers = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def start(self) -> Traffic:
        for worker in self._workers:
            worker.start()
        return self

    def stop(self, timeout: float = 30.0) -> Outcome:
        self._stop.set()
        return self.join(timeout)

    def join(self, timeout: float = 60.0) -> Outcome:
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        stuck = [w.name for w in self._workers if w.is_alive()]
        assert not stuck, f"client threads still running after {timeout}s: {stuck}"
        return self.outcome()

    def outcome(self) -> Outcome:
        total = Outcome()
        for outcome in self._outcomes:
            total.merge(outcome)
        return total

    def acknowledged_requests(self) -> int:
        """How many requests got a 2xx so far (read while running; approximate)."""
        return sum(o.requests_acknowledged() for o in list(self._outcomes))

    # -- one client thread ------------------------------------------------------------------

    def _run(self, n: int) -> None:
        rng = random.Random(f"{self.seed}-{n}")
        outcome = self._outcomes[n]
        http = self._client()
        sequence = 0
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                if self.requests_per_thread is not None and sequence >= self.requests_per_thread:
                    return
                if self.rate:
                    next_at += 1.0 / self.rate
                    pause = next_at - time.monotonic()
                    if pause > 0 and self._stop.wait(pause):
                        return
                sequence += 1
                if self.close_every and sequence % self.close_every == 0:
                    http.close()
                    http = self._client()
                if self.secret is not None and rng.random() < self.read_share:
                    self._read(http, rng, n, outcome)
                    continue
                path, body, sent = self._request(rng, n, sequence)
                self._send(http, path, body, sent, outcome)
        finally:
            http.close()

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, auth=(self.token, ""), timeout=30)

    def _send(self, http: httpx.Client, path: str, body: Any, sent: list[Sent], outcome: Outcome) -> None:
        deadline = time.monotonic() + self.retry_deadline
        while True:
            try:
                response = http.post(path, json=body)
            except httpx.TransportError as exc:
                outcome.statuses[type(exc).__name__] += 1
                if self._may_retry(deadline):
                    self._stop.wait(0.1)
                    continue
                outcome.unanswered += sent
                self._stop.wait(0.05)  # a dead server refuses at once: do not spin
                return
            status = response.status_code
            outcome.statuses[str(status)] += 1
            if 200 <= status < 300:
                if path == "/v1/batch" and response.json().get("accepted") != len(sent):
                    outcome.surprises.append(f"{path} {status}: {response.text[:300]}")
                outcome.acknowledged += sent
                outcome.answered_after.append(time.monotonic())
                return
            if "retry-after" in response.headers:
                outcome.retry_after_seen.add(f"{status}:{response.headers['retry-after']}")
            if status not in self.expected:
                outcome.surprises.append(f"{path} {status}: {response.text[:300]}")
            if status == 503 and self._may_retry(deadline):
                time.sleep(min(float(response.headers.get("retry-after", "1")), 1.0))
                continue
            outcome.unanswered += sent
            return

    def _read(self, http: httpx.Client, rng: random.Random, n: int, outcome: Outcome) -> None:
        assert self.secret is not None
        known = [s.message_id for s in outcome.acknowledged[-50:] if s.kind == "contact"]
        path = rng.choice(
            ["/v1/contacts?limit=20", "/v1/events?limit=20", "/v1/accounts?limit=20"]
            + [f"/v1/contacts/{uid}" for uid in known[-2:]]
            + [f"/v1/contacts/{uid}/events" for uid in known[-1:]]
        )
        try:
            response = http.get(path, auth=(self.token, self.secret))
        except httpx.TransportError as exc:
            outcome.statuses[type(exc).__name__] += 1
            return
        outcome.statuses[f"{response.status_code} read"] += 1
        if response.status_code != 200 and response.status_code not in self.expected:
            outcome.surprises.append(f"GET {path} {response.status_code}: {response.text[:300]}")

    def _may_retry(self, deadline: float) -> bool:
        return self.retry and not self._stop.is_set() and time.monotonic() < deadline

    def _request(self, rng: random.Random, n: int, sequence: int) -> tuple[str, Any, list[Sent]]:
        """A single call (event, pageview or contact) or a batch mixing them."""
        choice = rng.random()
        if choice < 0.35:
            return "/v1/batch", *self._batch(rng, n, sequence)
        item, sent = self._item(rng, n, f"{sequence}")
        path = {"event": "/v1/track/event", "pageview": "/v1/track/pageview", "contact": "/v1/contact"}[sent.kind]
        item.pop("method")
        return path, item, [sent]

    def _batch(self, rng: random.Random, n: int, sequence: int) -> tuple[list[dict[str, Any]], list[Sent]]:
        items, sent = [], []
        for k in range(rng.randint(5, 40)):
            item, one = self._item(rng, n, f"{sequence}.{k}")
            items.append(item)
            sent.append(one)
        return items, sent

    def _item(self, rng: random.Random, n: int, sequence: str) -> tuple[dict[str, Any], Sent]:
        message_id = f"{self.prefix}-{n}-{sequence}"
        roll = rng.random()
        if roll < 0.2:
            # A contact named after its message: stored means this uid exists.
            item = {
                "method": "contact",
                "contact_uid": message_id,
                "messageId": message_id,
                "params": {"thread": n, "plan": rng.choice(["free", "pro"]), "account_uid": f"{self.prefix}-a{n}"},
            }
            return item, Sent(message_id, "contact")
        contact_uid = f"{self.prefix}-{n}-c{rng.randrange(8)}"
        if roll < 0.35:
            item = {
                "method": "pageview",
                "contact_uid": contact_uid,
                "messageId": message_id,
                "params": {"url": f"https://example.test/{sequence}"},
            }
            return item, Sent(message_id, "pageview")
        item = {
            "method": "event",
            "contact_uid": contact_uid,
            "event_uid": rng.choice(["login", "export", "invite"]),
            "messageId": message_id,
            "params": {"n": sequence},
        }
        return item, Sent(message_id, "event")


@dataclass
class StoreCheck:
    """What the store holds against what the clients were told."""

    missing: list[str]  # acknowledged, not stored
    duplicated: dict[str, int]  # stored more than once
    acknowledged: int
    stored_events: int

    def assert_exactly_once(self) -> None:
        assert not self.missing, f"{len(self.missing)} acknowledged messages are not stored: {self.missing[:10]}"
        assert not self.duplicated, f"messages stored more than once: {dict(list(self.duplicated.items())[:10])}"


def check_store(database_url: str, project_id: int, outcome: Outcome) -> StoreCheck:
    """Every acknowledged message stored once; no message (acknowledged or not) twice (once the
    projector has applied what the server acknowledged)."""
    wait_for_projection(database_url, timeout=60)
    engine = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as conn:
            counts = dict(
                conn.execute(
                    text(
                        "SELECT message_id, count(*) FROM events WHERE project_id = :p AND message_id IS NOT NULL "
                        "GROUP BY message_id"
                    ),
                    {"p": project_id},
                ).all()
            )
            uids = {
                uid
                for (uid,) in conn.execute(
                    text("SELECT uid FROM contact_uids WHERE project_id = :p"), {"p": project_id}
                )
            }
            claimed = {
                mid
                for (mid,) in conn.execute(
                    text("SELECT message_id FROM message_ids WHERE project_id = :p"), {"p": project_id}
                )
            }
    finally:
        engine.dispose()
    missing = []
    for sent in outcome.acknowledged:
        stored = counts.get(sent.message_id, 0) == 1 if sent.kind in EVENT_KINDS else sent.message_id in uids
        if not stored or sent.message_id not in claimed:
            missing.append(f"{sent.kind}:{sent.message_id}")
    duplicated = {mid: count for mid, count in counts.items() if count > 1}
    return StoreCheck(missing, duplicated, len(outcome.acknowledged), sum(counts.values()))
